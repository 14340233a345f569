#include "flint_sampling.h"
#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static int64_t argmax_scalar(const float *x, int64_t n) {
    int64_t best = 0;
    float v = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        if (x[i] > v) v = x[i], best = i;
    return best;
}

typedef int64_t (*argmax_fn)(const float *x, int64_t n);

#if defined(__x86_64__)
// Two passes over the row (it sits in L2 after the vocabulary projection): the maximum,
// then the first index holding it. vmaxps(x, m) returns m when x is NaN, so NaNs drop out.
__attribute__((target("avx2,avx512f,avx512dq")))
static int64_t argmax_avx512(const float *x, int64_t n) {
    const int64_t nv = n & ~(int64_t)15;
    __m512 m0 = _mm512_set1_ps(-INFINITY), m1 = m0;
    int64_t i = 0;
    for (; i + 32 <= nv; i += 32) {
        m0 = _mm512_max_ps(_mm512_loadu_ps(x + i), m0);
        m1 = _mm512_max_ps(_mm512_loadu_ps(x + i + 16), m1);
    }
    for (; i < nv; i += 16) m0 = _mm512_max_ps(_mm512_loadu_ps(x + i), m0);
    float best = _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
    for (i = nv; i < n; i++)
        if (x[i] > best) best = x[i];
    if (!(best > -INFINITY)) return 0;
    const __m512 bv = _mm512_set1_ps(best);
    for (i = 0; i < nv; i += 16) {
        const __mmask16 eq = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), bv, _CMP_EQ_OQ);
        if (eq) return i + __builtin_ctz((unsigned)eq);
    }
    for (i = nv; i < n; i++)
        if (x[i] == best) return i;
    return 0;
}
#endif

static argmax_fn use_argmax = argmax_scalar, best_argmax = argmax_scalar;

int64_t flint_argmax(const float *logits, int64_t n) { return n > 0 ? use_argmax(logits, n) : 0; }

void flint_sampling_force_scalar(int on) { use_argmax = on ? argmax_scalar : best_argmax; }

__attribute__((constructor)) static void flint_sampling_init(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"))
        use_argmax = best_argmax = argmax_avx512;
#endif
}
