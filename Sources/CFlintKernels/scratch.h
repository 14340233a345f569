// Per-thread, grow-only scratch for the gemm kernels, so that the hot path never allocates
// once each thread's buffers have reached their working size (a decode step allocates
// nothing). Buffers are 64-byte aligned and never shrink; a kernel call may use several
// slots at once, and no kernel calls another while holding a slot it also uses.
#ifndef FLINT_SCRATCH_H
#define FLINT_SCRATCH_H
#include <stdlib.h>

#define FL_SCRATCH_SLOTS 3

typedef struct { void *p; size_t n; } fl_scratch_buf;
static _Thread_local fl_scratch_buf fl_scratch_bufs[FL_SCRATCH_SLOTS];

// At least `bytes` of slot `slot`, contents undefined; NULL if memory is exhausted.
static inline void *fl_scratch(int slot, size_t bytes) {
    fl_scratch_buf *s = &fl_scratch_bufs[slot];
    if (s->n < bytes) {
        const size_t n = (bytes + bytes / 2 + 4095) & ~(size_t)4095;  // headroom against regrowth
        void *p = aligned_alloc(64, n);
        if (!p) return NULL;
        free(s->p);
        s->p = p;
        s->n = n;
    }
    return s->p;
}

#endif
