#include "flint_sampling.h"
#include <math.h>
#include "isa.h"

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

#if defined(__x86_64__)
// The same two passes as argmax_avx512, 16 floats a step.
__attribute__((target("avx2")))
static int64_t argmax_avx2(const float *x, int64_t n) {
    const int64_t nv = n & ~(int64_t)15;
    __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
    for (int64_t i = 0; i < nv; i += 16) {
        m0 = _mm256_max_ps(_mm256_loadu_ps(x + i), m0);
        m1 = _mm256_max_ps(_mm256_loadu_ps(x + i + 8), m1);
    }
    const __m256 m = _mm256_max_ps(m0, m1);
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    float best = _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
    for (int64_t i = nv; i < n; i++)
        if (x[i] > best) best = x[i];
    if (!(best > -INFINITY)) return 0;
    const __m256 bv = _mm256_set1_ps(best);
    for (int64_t i = 0; i < nv; i += 8) {
        const int eq = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), bv, _CMP_EQ_OQ));
        if (eq) return i + __builtin_ctz((unsigned)eq);
    }
    for (int64_t i = nv; i < n; i++)
        if (x[i] == best) return i;
    return 0;
}

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

void fl_fill_argmax(fl_isa_table *t, int isa) {
    switch (isa) {
    case FL_ISA_SCALAR: t->argmax = argmax_scalar; break;
#if defined(__x86_64__)
    case FL_ISA_AVX2: t->argmax = argmax_avx2; break;
    case FL_ISA_AVX512VNNI: t->argmax = argmax_avx512; break;
#elif defined(__aarch64__)
    case FL_ISA_NEON: t->argmax = fl_argmax_neon; break;
#endif
    default: break;
    }
}

int64_t flint_argmax(const float *logits, int64_t n) { return n > 0 ? fl_current_table()->argmax(logits, n) : 0; }
