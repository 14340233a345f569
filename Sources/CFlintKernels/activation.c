#include "flint_activation.h"
#include "blocks.h"
#include "ggml_exp.h"
#include <math.h>

// Each product and quotient is rounded on its own, as in ggml's intrinsics.
#pragma STDC FP_CONTRACT OFF

// ggml_silu_f32, for the elements past a row's last multiple of 16.
static inline float silu_libm(float x) { return x / (1.0f + expf(-x)); }

static void swiglu_row_scalar(const float *g, const float *u, float *o, int64_t n) {
    const int64_t nv = n & ~(int64_t)15;
    for (int64_t i = 0; i < nv; i++) o[i] = g[i] / (1.0f + ggml_expf(0.0f - g[i])) * u[i];
    for (int64_t i = nv; i < n; i++) o[i] = silu_libm(g[i]) * u[i];
}

typedef void (*swiglu_row_fn)(const float *g, const float *u, float *o, int64_t n);

static void geglu_scalar(const float *g, const float *u, float *o, int64_t n, const uint16_t *table) {
    for (int64_t i = 0; i < n; i++) {
        const float x = g[i];
        o[i] = x <= -10.0f ? 0.0f : x >= 10.0f ? x * u[i] : fl_h2f(table[fl_f2h(x)]) * u[i];
    }
}

typedef void (*geglu_fn)(const float *g, const float *u, float *o, int64_t n, const uint16_t *table);

#if defined(__x86_64__)
__attribute__((target("avx2,fma,avx512f,avx512dq")))
static void swiglu_row_avx512(const float *g, const float *u, float *o, int64_t n) {
    const int64_t nv = n & ~(int64_t)15;
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t i = 0; i < nv; i += 16) {
        const __m512 x = _mm512_loadu_ps(g + i);
        const __m512 e = ggml_expf_zmm(_mm512_sub_ps(_mm512_setzero_ps(), x));
        _mm512_storeu_ps(o + i, _mm512_mul_ps(_mm512_div_ps(x, _mm512_add_ps(one, e)), _mm512_loadu_ps(u + i)));
    }
    for (int64_t i = nv; i < n; i++) o[i] = silu_libm(g[i]) * u[i];
}

// F16C conversions round to nearest even like fl_f2h; the table lookups stay scalar.
__attribute__((target("avx2,fma,f16c,avx512f,avx512dq")))
static void geglu_avx512(const float *g, const float *u, float *o, int64_t n, const uint16_t *table) {
    const int64_t nv = n & ~(int64_t)15;
    for (int64_t i = 0; i < nv; i += 16) {
        const __m512 x = _mm512_loadu_ps(g + i);
        uint16_t idx[16], val[16];
        _mm256_storeu_si256((__m256i *)idx, _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        for (int l = 0; l < 16; l++) val[l] = table[idx[l]];
        __m512 y = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)val));
        y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, _mm512_set1_ps(10.0f), _CMP_GE_OQ), x);
        y = _mm512_mul_ps(y, _mm512_loadu_ps(u + i));
        y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, _mm512_set1_ps(-10.0f), _CMP_LE_OQ), _mm512_setzero_ps());
        _mm512_storeu_ps(o + i, y);
    }
    geglu_scalar(g + nv, u + nv, o + nv, n - nv, table);
}
#endif

static swiglu_row_fn swiglu_row = swiglu_row_scalar, best_swiglu_row = swiglu_row_scalar;
static geglu_fn geglu = geglu_scalar, best_geglu = geglu_scalar;

__attribute__((constructor)) static void flint_activation_init(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma"))
        swiglu_row = best_swiglu_row = swiglu_row_avx512;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("f16c"))
        geglu = best_geglu = geglu_avx512;
#endif
}

void flint_activation_force_scalar(int on) {
    swiglu_row = on ? swiglu_row_scalar : best_swiglu_row;
    geglu = on ? geglu_scalar : best_geglu;
}

void flint_geglu(const float *gate, const float *up, float *out, int64_t n, const uint16_t *table) {
    geglu(gate, up, out, n, table);
}

void flint_swiglu(const float *gate, const float *up, float *out, int64_t rows, int64_t row_length) {
    for (int64_t r = 0; r < rows; r++)
        swiglu_row(gate + r * row_length, up + r * row_length, out + r * row_length, row_length);
}
