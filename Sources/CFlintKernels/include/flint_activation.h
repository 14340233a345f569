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

/// Routes flint_swiglu to the scalar reference (1) or back to the best path (0); for tests.
void flint_activation_force_scalar(int on);

#ifdef __cplusplus
}
#endif
#endif
