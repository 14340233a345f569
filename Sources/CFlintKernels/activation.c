#include "flint_activation.h"
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
#endif

static swiglu_row_fn swiglu_row = swiglu_row_scalar, best_swiglu_row = swiglu_row_scalar;

__attribute__((constructor)) static void flint_activation_init(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma"))
        swiglu_row = best_swiglu_row = swiglu_row_avx512;
#endif
}

void flint_activation_force_scalar(int on) { swiglu_row = on ? swiglu_row_scalar : best_swiglu_row; }

void flint_swiglu(const float *gate, const float *up, float *out, int64_t rows, int64_t row_length) {
    for (int64_t r = 0; r < rows; r++)
        swiglu_row(gate + r * row_length, up + r * row_length, out + r * row_length, row_length);
}
