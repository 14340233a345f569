// Internal: what the attention kernels of every path share (attention.c has the scalar
// reference and the entry points; attention_<isa>.c the SIMD forms).
#ifndef FLINT_ATTENTION_IMPL_H
#define FLINT_ATTENTION_IMPL_H

#include "flint_attention.h"
#include "isa.h"
#include "ggml_exp.h"
#include <math.h>
#include <string.h>

// ---- The arithmetic: that of llama.cpp's CPU attention (the non-flash path, F16 cache), so
// that Flint's logits follow llama.cpp's. llama.cpp computes KQ = K·Q and KQV = V^T·softmax(KQ)
// as two F16 matrix products (Q and the probabilities rounded to F16 first), and picks the
// kernel by the number of query rows of the sequence in the forward pass:
//  - one row (decoding): ggml_vec_dot_f16 — 16-lane accumulators, four of them, each lane
//    an fma chain over every 64th element; the four summed (0+2, 1+3, then together), the
//    16 lanes summed by the reduction tree R16; elements past the last multiple of 64 added
//    one by one in double;
//  - several rows (a prompt): the tinyBLAS F16 GEMM — one 16-lane accumulator, lane l an fma
//    chain over elements l, l+16, …, then R16 (used where the length is a multiple of 16,
//    otherwise llama.cpp falls back to the one-row kernel).
// The softmax between them is ggml's: scores scaled, exp by ggml_v_expf 16 keys at a time
// (keys counted from position 0; masked keys give 0), each group's R16 sum added in double.
// The KV length llama.cpp's dot products run over is the cache's used length padded to
// GGML_KV_PAD; masked keys add exact zeros, so only the decoding KQV's split point depends on it.
#define GGML_KV_PAD 256

// _mm512_reduce_add_ps's order: halves, quarters, then (x0 + x2) + (x1 + x3).
static inline float fl_r16(const float *x) {
    float t[8], u[4];
    for (int i = 0; i < 8; i++) t[i] = x[i] + x[i + 8];
    for (int i = 0; i < 4; i++) u[i] = t[i] + t[i + 4];
    return (u[0] + u[2]) + (u[1] + u[3]);
}

static inline int64_t fl_kv_row_elems(int32_t kv_type, int32_t head_dim) {
    return kv_type == FLINT_KV_Q8_0 ? (int64_t)head_dim / 32 * 17 : head_dim;
}

// slot_elems: halves per row (fl_kv_row_elems); head_offset: the KV head's first row, in halves.
static inline const uint16_t *fl_key_ptr(const uint16_t *cache, const int32_t *slots, int32_t j, int64_t slot_elems,
                                      int64_t head_offset) {
    return cache + (int64_t)slots[j] * slot_elems + head_offset;
}

// The scalar reference forms (attention.c), also the SIMD forms' fallbacks for head sizes
// their vectors do not divide and for tails.
void fl_attn_store_f16_scalar(uint16_t *dst, const float *src, int64_t n);
void fl_attn_kqv_scalar(float *acc, int32_t lanes, const float *w, const uint16_t *v_cache, const int32_t *slots,
                        int64_t slot_elems, int64_t head_offset, int32_t first, int32_t last, int32_t head_dim);
void fl_attn_round_f16_scalar(float *dst, const float *src, float scale, int32_t n);
void fl_attn_finish_scalar(float *acc, int32_t lanes, int32_t head_dim, float *out);

#if defined(__x86_64__) || defined(__i386__)
void fl_attention_fill_avx2(fl_isa_table *t);    // attention_avx2.c
void fl_attention_fill_avx512(fl_isa_table *t);  // attention_avx512.c
#elif defined(__aarch64__)
void fl_attention_fill_neon(fl_isa_table *t);    // attention_neon.c
#endif

#endif
