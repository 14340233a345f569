#include "flint_activation.h"
#include "isa.h"
#include "ggml_exp.h"
#include <math.h>

// Each product and quotient is rounded on its own, as in ggml's intrinsics.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")  // GCC does not implement the STDC pragma
#endif

// ggml_silu_f32, for the elements past a row's last multiple of 16.
static inline float silu_libm(float x) { return x / (1.0f + expf(-x)); }

static void swiglu_row_scalar(const float *g, const float *u, float *o, int64_t n) {
    const int64_t nv = n & ~(int64_t)15;
    for (int64_t i = 0; i < nv; i++) o[i] = g[i] / (1.0f + ggml_expf(0.0f - g[i])) * u[i];
    for (int64_t i = nv; i < n; i++) o[i] = silu_libm(g[i]) * u[i];
}

static void geglu_scalar(const float *g, const float *u, float *o, int64_t n, const uint16_t *table) {
    for (int64_t i = 0; i < n; i++) {
        const float x = g[i];
        o[i] = x <= -10.0f ? 0.0f : x >= 10.0f ? x * u[i] : fl_h2f(table[fl_f2h(x)]) * u[i];
    }
}

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

#if defined(__x86_64__)
// The same on 8 lanes (ggml_expf_ymm), for the AVX2 path: same bits.
__attribute__((target("avx2,fma,f16c")))
static void swiglu_row_avx2(const float *g, const float *u, float *o, int64_t n) {
    const int64_t nv = n & ~(int64_t)15;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (int64_t i = 0; i < nv; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 e = ggml_expf_ymm(_mm256_sub_ps(_mm256_setzero_ps(), x));
        _mm256_storeu_ps(o + i, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + i)));
    }
    for (int64_t i = nv; i < n; i++) o[i] = silu_libm(g[i]) * u[i];
}

__attribute__((target("avx2,fma,f16c")))
static void geglu_avx2(const float *g, const float *u, float *o, int64_t n, const uint16_t *table) {
    const int64_t nv = n & ~(int64_t)7;
    for (int64_t i = 0; i < nv; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        uint16_t idx[8], val[8];
        _mm_storeu_si128((__m128i *)idx, _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        for (int l = 0; l < 8; l++) val[l] = table[idx[l]];
        __m256 y = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)val));
        y = _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, _mm256_set1_ps(10.0f), _CMP_GE_OQ));
        y = _mm256_mul_ps(y, _mm256_loadu_ps(u + i));
        y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(-10.0f), _CMP_LE_OQ));
        _mm256_storeu_ps(o + i, y);
    }
    geglu_scalar(g + nv, u + nv, o + nv, n - nv, table);
}
#endif

void fl_fill_activation(fl_isa_table *t, int isa) {
    switch (isa) {
    case FL_ISA_SCALAR:
        t->swiglu_row = swiglu_row_scalar;
        t->geglu = geglu_scalar;
        break;
#if defined(__x86_64__)
    case FL_ISA_AVX2:
        t->swiglu_row = swiglu_row_avx2;
        t->geglu = geglu_avx2;
        break;
    case FL_ISA_AVX512VNNI:
        t->swiglu_row = swiglu_row_avx512;
        t->geglu = geglu_avx512;
        break;
#elif defined(__aarch64__)
    case FL_ISA_NEON:
        t->swiglu_row = fl_swiglu_row_neon;
        t->geglu = fl_geglu_neon;
        break;
#endif
    default: break;
    }
}

void flint_geglu(const float *gate, const float *up, float *out, int64_t n, const uint16_t *table) {
    fl_current_table()->geglu(gate, up, out, n, table);
}

void flint_swiglu(const float *gate, const float *up, float *out, int64_t rows, int64_t row_length) {
    const fl_isa_table *t = fl_current_table();
    for (int64_t r = 0; r < rows; r++)
        t->swiglu_row(gate + r * row_length, up + r * row_length, out + r * row_length, row_length);
}
