// Public C interface of Flint's CPU kernels.
//
// Type ids are the GGML type ids, so a GGUF tensor's type field maps directly.
// Every kernel takes rows of whole blocks; `n` (elements per row) must be a
// multiple of the type's block size.
#ifndef FLINT_KERNELS_H
#define FLINT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum flint_type {
    FLINT_TYPE_F32  = 0,
    FLINT_TYPE_F16  = 1,
    FLINT_TYPE_Q4_0 = 2,
    FLINT_TYPE_Q4_1 = 3,
    FLINT_TYPE_Q5_0 = 6,
    FLINT_TYPE_Q5_1 = 7,
    FLINT_TYPE_Q8_0 = 8,
    FLINT_TYPE_Q8_1 = 9,
    FLINT_TYPE_Q4_K = 12,
    FLINT_TYPE_Q5_K = 13,
    FLINT_TYPE_Q6_K = 14,
    FLINT_TYPE_Q8_K = 15,
    FLINT_TYPE_BF16 = 30,
};

/// 1 when `type` is one Flint can store and compute with, else 0.
int flint_type_supported(int type);
/// Elements per block (1 for F32/F16/BF16, 32 for Q4_0.., 256 for K-quants); 0 if unsupported.
int64_t flint_type_block_elems(int type);
/// Bytes per block; 0 if unsupported.
size_t flint_type_block_bytes(int type);
/// Bytes of a row of `n` elements (n a multiple of the block size).
size_t flint_row_bytes(int type, int64_t n);
/// The format activations are quantized into before a dot product with weights of `type`
/// (Q8_0 for Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1, Q8_K for K-quants, F16/BF16/F32 for float types).
int flint_vec_dot_type(int type);

float    flint_fp16_to_fp32(uint16_t h);
uint16_t flint_fp32_to_fp16(float f);
float    flint_bf16_to_fp32(uint16_t h);
uint16_t flint_fp32_to_bf16(float f);

/// Dequantizes one row of `n` elements.
void flint_dequantize_row(int type, const void *src, float *dst, int64_t n);
/// Quantizes one row of `n` floats into `type` (reference quantizers, all supported types).
void flint_quantize_row(int type, const float *src, void *dst, int64_t n);

/// *out = dot(w_row, x_row); w_row is of `type`, x_row of flint_vec_dot_type(type).
void flint_vec_dot(int type, int64_t n, float *out, const void *w_row, const void *x_row);

/// Matrix product over blocks: for weight rows r in [r0, r1) and activation rows i in [0, m):
///   y[i * ldy + r] = dot(W[r], X[i])
/// W rows are `w_stride` bytes apart and of `type`; X rows (already quantized into
/// flint_vec_dot_type(type)) are `x_stride` bytes apart; `k` is the shared length.
/// Each weight block is reused across the activation rows.
void flint_gemm(int type, int64_t k,
                const void *w, size_t w_stride, int64_t r0, int64_t r1,
                const void *x, size_t x_stride, int64_t m,
                float *y, int64_t ldy);

/// The arithmetics llama.cpp's CPU backend uses for a weight matrix times a batch of rows.
/// Which one a row gets depends on the batch: rows in whole groups of four go through the
/// repacked 4-row GEMM (Q4_K), batches of 8 rows or more through the tiled K-quant GEMM
/// (Q6_K), the others through the one-row dot product that flint_gemm follows.
enum flint_gemm_form {
    FLINT_GEMM_ROW = 0,
    FLINT_GEMM_GROUP4 = 1,
    FLINT_GEMM_TILED = 2,
};
/// Flags describing a row's place in its batch (see flint_gemm_form_for).
enum flint_row_flags {
    FLINT_ROW_IN_GROUP4 = 1,  // among the first count - count % 4 rows of its chunk
    FLINT_ROW_IN_8_PLUS = 2,  // its chunk has 8 rows or more
};
/// The form llama.cpp would use for weights of `type` and a row with `row_flags`;
/// FLINT_GEMM_ROW wherever the other forms round like it.
int flint_gemm_form_for(int type, unsigned row_flags);
/// flint_gemm in the given form (a form that does not apply to `type` is FLINT_GEMM_ROW).
void flint_gemm_form(int type, int form, int64_t k,
                     const void *w, size_t w_stride, int64_t r0, int64_t r1,
                     const void *x, size_t x_stride, int64_t m,
                     float *y, int64_t ldy);

/// y[0..<n] += Σ_j u[j] · Bt[j][0..<n]: the expand step of a LoRA update, with Bt (`rank`
/// rows of `n` elements, `bt_stride` bytes apart) in Q8_0; n must be a multiple of 32.
/// The result depends only on u, Bt and y (no batch, no thread count).
void flint_lora_expand_q8_0(const void *bt, size_t bt_stride, int64_t rank, int64_t n, const float *u, float *y);

/// Name of the instruction-set path in use. Every kernel of this module (matmuls, activation
/// quantizers, attention, activations, RoPE, argmax, LoRA) runs on the selected path.
/// x86-64: "scalar", "avx2" (AVX2 + FMA + F16C), "avxvnni" (the same with VEX vpdpbusd),
/// "avx512vnni"; AArch64: "scalar", "neon"
/// (Advanced SIMD with the dot-product instructions). The best path the CPU runs is chosen at
/// start-up unless the environment variable FLINT_KERNELS_ISA names another available one
/// (e.g. FLINT_KERNELS_ISA=avx2 on an AVX-512 machine measures what an AVX2-only one runs).
/// Every path gives the scalar reference's results bit for bit.
const char *flint_kernels_isa(void);
/// Forces the scalar reference path (1) or the best detected path (0); for tests and benchmarks.
void flint_kernels_force_scalar(int on);
/// The name of path `index` (0, 1, ...: every path this build knows, on any CPU); NULL past the last.
const char *flint_kernels_isa_name(int index);
/// 1 when the named path (see flint_kernels_isa) can run on this CPU.
int flint_kernels_isa_available(const char *name);
/// Selects the named path if available (returns 1), else leaves the selection unchanged (returns 0).
/// Not thread-safe with respect to concurrently running kernels; for tests and benchmarks.
int flint_kernels_set_isa(const char *name);

#ifdef __cplusplus
}
#endif
#endif
