#ifndef FLINT_ALLOCATION_COUNTER_H
#define FLINT_ALLOCATION_COUNTER_H
// A counting allocator for tests: while counting is on, every malloc/calloc/realloc/
// memalign-family call in the process (any thread) is counted, then served by glibc.
void flint_allocation_counting(int on);
long flint_allocation_count(void);
void flint_allocation_trace(int n);
#endif
