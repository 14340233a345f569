// Interposes the C allocator for the test executable (symbols defined in the executable
// take precedence over libc's for every shared library, the Swift runtime included) and
// forwards to glibc's own entry points.
#define _GNU_SOURCE
#include "allocation_counter.h"
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <execinfo.h>
#include <unistd.h>
static _Thread_local int inside;
static atomic_int tracing;

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_int counting;
static atomic_long count;

static inline void note(void) {
    if (atomic_load_explicit(&counting, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
        if (!inside && atomic_load(&tracing) > 0) {
            atomic_fetch_sub(&tracing, 1);
            inside = 1;
            void *frames[12];
            int n = backtrace(frames, 12);
            backtrace_symbols_fd(frames, n, 2);
            write(2, "----\n", 5);
            inside = 0;
        }
    }
}

void flint_allocation_counting(int on) {
    if (on) atomic_store(&count, 0);
    atomic_store(&counting, on);
}

long flint_allocation_count(void) { return atomic_load(&count); }
void flint_allocation_trace(int n) { atomic_store(&tracing, n); }

void *malloc(size_t n) { note(); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { note(); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { note(); return __libc_realloc(p, n); }
void *memalign(size_t align, size_t n) { note(); return __libc_memalign(align, n); }
void *aligned_alloc(size_t align, size_t n) { note(); return __libc_memalign(align, n); }
int posix_memalign(void **out, size_t align, size_t n) {
    note();
    void *p = __libc_memalign(align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
