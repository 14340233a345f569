// Internal: the kernel layer's one table per instruction-set path.
//
// dispatch.c fills a table for every path this CPU can run (a path starts as a copy of the
// one below it, so an operation without its own SIMD form keeps the lower path's) and
// routes every public entry point of the kernel layer through the selected table: matmuls,
// activation quantizers, attention, activations, RoPE, argmax and the LoRA expand switch
// together when FLINT_KERNELS_ISA or flint_kernels_set_isa picks a path.
#ifndef FLINT_ISA_H
#define FLINT_ISA_H

#include "blocks.h"

// Paths, lowest first within an architecture.
enum {
    FL_ISA_SCALAR,
    FL_ISA_AVX2,         // x86-64: AVX2 + FMA + F16C
    FL_ISA_AVXVNNI,      // x86-64: the AVX2 kernels with VEX vpdpbusd (Alder Lake and later, Zen 5)
    FL_ISA_AVX512VNNI,   // x86-64: AVX-512 F/DQ/BW/VL + VNNI
    FL_ISA_NEON,         // AArch64: Advanced SIMD with the dot-product extension (sdot/udot)
    FL_ISA_COUNT
};

typedef void (*fl_vec_dot_fn)(int64_t n, float *out, const void *w, const void *x);
typedef void (*fl_gemm_fn)(int64_t k, const void *w, size_t w_stride, int64_t r0, int64_t r1,
                           const void *x, size_t x_stride, int64_t m, float *y, int64_t ldy);

typedef struct {
    fl_vec_dot_fn vec_dot;
    fl_gemm_fn gemm;
} fl_kernel;

// Activation quantizers: nb blocks of floats into the activation format.
typedef void (*fl_quantize_q8_0_fn)(const float *x, block_q8_0 *y, int64_t nb);
typedef void (*fl_quantize_q8_1_fn)(const float *x, block_q8_1 *y, int64_t nb);
typedef void (*fl_quantize_q8_K_fn)(const float *x, block_q8_K *y, int64_t nb);

// Attention (attention.c documents the arithmetic each one follows).
typedef void (*fl_scores_fn)(const float *q, const uint16_t *k_cache, const int32_t *slots, int64_t slot_elems,
                             int64_t head_offset, int32_t first, int32_t last, int32_t head_dim, float scale,
                             int prompt, float *scratch);
typedef double (*fl_softmax_fn)(float *x, int32_t first, int32_t last);
typedef void (*fl_kqv_fn)(float *acc, int32_t lanes, const float *w, const uint16_t *v_cache, const int32_t *slots,
                          int64_t slot_elems, int64_t head_offset, int32_t first, int32_t last, int32_t head_dim);
// A KQV form with its finish: writes the head's output; 0 = not handled (the caller then
// runs kqv + finish).
typedef int (*fl_kqv_out_fn)(float *out, const float *w, const uint16_t *v_cache, const int32_t *slots,
                             int64_t slot_elems, int64_t head_offset, int32_t first, int32_t last, int32_t head_dim);
typedef void (*fl_finish_fn)(float *acc, int32_t lanes, int32_t head_dim, float *out);
typedef void (*fl_round_fn)(float *dst, const float *src, float scale, int32_t n);
typedef void (*fl_store_fn)(uint16_t *dst, const float *src, int64_t n);
// Tile forms (attention.c, attention_tiles). A tile holds up to FL_TILE_QUERIES queries;
// query r uses keys first[r]..last[r] and its score row s + r * ld, indexed by key position.
// A block is keys kb..kb+nb-1 (kb a multiple of 16) of one KV head, widened to f32: keys
// as rows (key j at kf + (j - kb) * head_dim), values transposed in groups of 16 keys
// (element d of key j at vt + (((j - kb) / 16) * head_dim + d) * 16 + j % 16). Keys before
// `lo` (no query's) are zeros, not read; so are the last group's keys past the block. The
// widening forms read a cache of either type (FLINT_KV_*).
#define FL_TILE_QUERIES 64
typedef void (*fl_widen_block_fn)(float *dst, const uint16_t *cache, int32_t kv_type, const int32_t *slots, int64_t head_offset,
                                  int32_t kb, int32_t nb, int32_t lo, int32_t head_dim);
typedef void (*fl_tile_scores_fn)(const float *qh, int32_t rows, const int32_t *first, const int32_t *last,
                                  const float *kf, int32_t kb, int32_t nb, int32_t head_dim, float scale, float *s,
                                  int64_t ld);
// Adds the block's values times query r's probabilities into its 16 lane accumulators per
// head dimension (element d, lane l at acc + (r * head_dim + d) * 16 + l; lane l sums the
// keys j with j % 16 == l, in key order).
typedef void (*fl_tile_kqv_fn)(float *acc, int32_t rows, const int32_t *first, const int32_t *last, const float *w,
                               int64_t ld, const float *vt, int32_t kb, int32_t nb, int32_t head_dim);

typedef struct {
    fl_scores_fn scores;
    fl_softmax_fn softmax;
    fl_kqv_fn kqv;
    fl_finish_fn finish;
    fl_round_fn round;
    fl_store_fn store;
    fl_kqv_out_fn kqv_prompt;  // NULL: kqv + finish
    fl_kqv_out_fn kqv_decode;  // NULL: kqv + finish
    fl_widen_block_fn widen_keys;  // NULL (with the other tile forms): prompt rows one by one
    fl_widen_block_fn widen_values;
    fl_tile_scores_fn tile_scores;
    fl_tile_kqv_fn tile_kqv;
} fl_attention_ops;

#define FL_NTYPES 31
// Table slots past the GGML type ids for the other arithmetics llama.cpp uses for batches
// (flint_gemm_form): Q4_K in its 4-row GEMM, Q6_K in its tiled GEMM.
#define FL_SLOT_Q4_K_GEMM4 FL_NTYPES
#define FL_SLOT_Q6_K_TILED (FL_NTYPES + 1)

typedef struct {
    const char *name;
    fl_kernel k[FL_NTYPES + 2];
    fl_quantize_q8_0_fn quantize_q8_0;
    fl_quantize_q8_1_fn quantize_q8_1;
    fl_quantize_q8_K_fn quantize_q8_K;
    fl_attention_ops attn;
    void (*swiglu_row)(const float *g, const float *u, float *o, int64_t n);
    void (*geglu)(const float *g, const float *u, float *o, int64_t n, const uint16_t *table);
    void (*rope)(float *x, int64_t heads, int64_t head_dim, int64_t dims, int neox, const float *table);
    int64_t (*argmax)(const float *x, int64_t n);
    void (*lora_expand)(const void *bt, size_t stride, int64_t rank, int64_t n, const float *u, float *y);
} fl_isa_table;

// Fill functions, called by dispatch.c for each path the CPU can run, in order, on a copy of
// the path below it (their code is compiled for that path, so they are never called for
// another). The matmul ones are one per path, each in its own file; the others take the path
// and set the entries they have a form for.
void fl_fill_scalar(fl_isa_table *t);         // dot_scalar.c: every matmul entry, the reference
void fl_fill_avx2(fl_isa_table *t);           // dot_avx2.c
void fl_fill_avxvnni(fl_isa_table *t);        // dot_avxvnni.c
void fl_fill_avx512vnni(fl_isa_table *t);     // dot_avx512.c
void fl_fill_neon(fl_isa_table *t);           // dot_neon.c
void fl_fill_attention(fl_isa_table *t, int isa);   // attention.c (and attention_<isa>.c)
void fl_fill_quantize(fl_isa_table *t, int isa);    // quantize.c
void fl_fill_activation(fl_isa_table *t, int isa);  // activation.c
void fl_fill_rope(fl_isa_table *t, int isa);        // norm.c
void fl_fill_argmax(fl_isa_table *t, int isa);      // sampling.c
void fl_fill_lora(fl_isa_table *t, int isa);        // lora.c

#if defined(__aarch64__)
// NEON forms of the small operations (ops_neon.c).
void fl_swiglu_row_neon(const float *g, const float *u, float *o, int64_t n);
void fl_geglu_neon(const float *g, const float *u, float *o, int64_t n, const uint16_t *table);
int64_t fl_argmax_neon(const float *x, int64_t n);
void fl_lora_expand_q8_0_neon(const void *bt, size_t stride, int64_t rank, int64_t n, const float *u, float *y);
#endif

// type info (types.c)
int fl_type_index_ok(int type);

// the table of the selected path (dispatch.c)
const fl_isa_table *fl_current_table(void);

#endif
