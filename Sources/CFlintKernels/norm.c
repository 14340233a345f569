#include "flint_norm.h"
#include <math.h>
#include "isa.h"

// Every product and sum is rounded on its own, as in ggml's scalar loops.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")  // GCC does not implement the STDC pragma
#endif

// The sum of squares is one chain of dependent double additions per row, so a lone row runs
// at the adder's latency; eight rows side by side keep eight chains in flight (each row's
// order unchanged).
#define NORM_ROWS 8

static void scale_row(const float *x, const float *w, int64_t dim, double sum, float eps, float *o) {
    const float mean = (float)(sum / (double)dim);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int64_t i = 0; i < dim; i++) o[i] = (x[i] * scale) * w[i];
}

void flint_rms_norm(const float *x, const float *weight, int64_t rows, int64_t dim, int64_t stride, float eps,
                    float *out, int64_t out_stride) {
    int64_t r = 0;
    for (; r + NORM_ROWS <= rows; r += NORM_ROWS) {
        double sum[NORM_ROWS] = {0};
        for (int64_t i = 0; i < dim; i++)
            for (int k = 0; k < NORM_ROWS; k++) {
                const float v = x[(r + k) * stride + i];
                sum[k] += (double)(v * v);
            }
        for (int k = 0; k < NORM_ROWS; k++)
            scale_row(x + (r + k) * stride, weight, dim, sum[k], eps, out + (r + k) * out_stride);
    }
    for (; r < rows; r++) {
        const float *xr = x + r * stride;
        double sum = 0.0;
        for (int64_t i = 0; i < dim; i++) sum += (double)(xr[i] * xr[i]);
        scale_row(xr, weight, dim, sum, eps, out + r * out_stride);
    }
}

#define ROPE_BODY                                                                                  \
    const int64_t half = dims / 2;                                                                 \
    for (int64_t h = 0; h < heads; h++) {                                                          \
        float *v = x + h * head_dim;                                                                \
        for (int64_t i = 0; i < half; i++) {                                                       \
            const float c = table[2 * i], s = table[2 * i + 1];                                     \
            const int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;                    \
            const float x0 = v[a], x1 = v[b];                                                       \
            v[a] = fmaf(x0, c, -(x1 * s));                                                          \
            v[b] = fmaf(x0, s, x1 * c);                                                             \
        }                                                                                          \
    }

static void rope_generic(float *x, int64_t heads, int64_t head_dim, int64_t dims, int neox, const float *table) {
    ROPE_BODY
}

#if defined(__x86_64__)
// The same loop with fmaf as one instruction (the generic build calls libm's fmaf).
__attribute__((target("avx2,fma")))
static void rope_fma(float *x, int64_t heads, int64_t head_dim, int64_t dims, int neox, const float *table) {
    ROPE_BODY
}
#endif

// (On AArch64 fmaf is one instruction in every build: the scalar form is the NEON path's.)
void fl_fill_rope(fl_isa_table *t, int isa) {
    if (isa == FL_ISA_SCALAR) t->rope = rope_generic;
#if defined(__x86_64__)
    if (isa == FL_ISA_AVX2) t->rope = rope_fma;
#endif
}

void flint_rope(float *x, int64_t heads, int64_t head_dim, int64_t dims, int neox, const float *table) {
    fl_current_table()->rope(x, heads, head_dim, dims, neox, table);
}
