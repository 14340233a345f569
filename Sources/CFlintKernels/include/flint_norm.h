// Row normalisation and rotary position embedding.
#ifndef FLINT_NORM_H
#define FLINT_NORM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// RMS normalisation of `rows` rows of `dim` floats (`stride` apart) into `out` (`out_stride`
/// apart; may be `x` itself), multiplied by `weight`, with ggml's arithmetic: the squares
/// (rounded to float) summed in double in element order, scale = 1 / sqrtf(mean + eps) in
/// float, out = (x * scale) * weight.
void flint_rms_norm(const float *x, const float *weight, int64_t rows, int64_t dim, int64_t stride, float eps,
                    float *out, int64_t out_stride);

/// Rotary embedding of `heads` heads of `head_dim` floats (contiguous from `x`) with one
/// position's table row [cos0, sin0, cos1, sin1, ...] over the first `dims` dimensions:
/// pairs (i, i + dims/2) when `neox`, else (2i, 2i+1); x0' = fmaf(x0, c, -(x1 * s)),
/// x1' = fmaf(x0, s, x1 * c) (how C compilers contract ggml's expressions).
void flint_rope(float *x, int64_t heads, int64_t head_dim, int64_t dims, int neox, const float *table);

#ifdef __cplusplus
}
#endif
#endif
