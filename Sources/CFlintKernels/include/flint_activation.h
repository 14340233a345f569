// Elementwise activations of the MLP.
#ifndef FLINT_ACTIVATION_H
#define FLINT_ACTIVATION_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// out = silu(gate) * up over `rows` rows of `row_length` floats (out may alias gate or up),
/// with llama.cpp's arithmetic: silu(x) = x / (1 + exp(-x)) with ggml_v_expf for each row's
/// leading multiple of 16 elements and libm expf for the rest, as ggml_vec_swiglu_f32 does.
void flint_swiglu(const float *gate, const float *up, float *out, int64_t rows, int64_t row_length);

/// out = gelu(gate) * up over `n` floats (out may alias gate or up), GGML's GELU_FP16 scheme:
/// gate rounded to F16 indexes `table` (65,536 F16 values of gelu), the entry widened back;
/// gate <= -10 gives 0 and gate >= 10 gives gate * up.
void flint_geglu(const float *gate, const float *up, float *out, int64_t n, const uint16_t *table);

#ifdef __cplusplus
}
#endif
#endif
