// Vectorized activation quantizers, byte for byte the scalar ones of quantize.c (the
// kernel tables of the SIMD paths hold them; fl_fill_quantize).
#ifndef FLINT_QUANTIZE_SIMD_H
#define FLINT_QUANTIZE_SIMD_H
#include "isa.h"

#if defined(__x86_64__) || defined(__i386__)
void fl_quantize_q8_0_avx2(const float *x, block_q8_0 *y, int64_t nb);
void fl_quantize_q8_1_avx2(const float *x, block_q8_1 *y, int64_t nb);
void fl_quantize_q8_K_avx2(const float *x, block_q8_K *y, int64_t nb);
#elif defined(__aarch64__)
void fl_quantize_q8_0_neon(const float *x, block_q8_0 *y, int64_t nb);
void fl_quantize_q8_1_neon(const float *x, block_q8_1 *y, int64_t nb);
void fl_quantize_q8_K_neon(const float *x, block_q8_K *y, int64_t nb);
#endif

#endif
