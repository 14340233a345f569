// Vectorized activation quantizers (quantize_avx2.c), used by flint_quantize_row
// whenever a SIMD kernel table is selected.
#ifndef FLINT_QUANTIZE_SIMD_H
#define FLINT_QUANTIZE_SIMD_H
#include "blocks.h"

int fl_quantize_avx2_available(void);
void fl_quantize_q8_0_avx2(const float *x, block_q8_0 *y, int64_t nb);
void fl_quantize_q8_1_avx2(const float *x, block_q8_1 *y, int64_t nb);
void fl_quantize_q8_K_avx2(const float *x, block_q8_K *y, int64_t nb);

#endif
