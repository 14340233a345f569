// Attention over a block-paged KV cache stored as F16 or Q8_0.
#ifndef FLINT_ATTENTION_H
#define FLINT_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Largest head dimension flint_attention_paged supports.
#define FLINT_ATTENTION_MAX_HEAD_DIM 1024

/// Rows of a prompt chunk per unit of parallel work: callers split a chunk into calls of at
/// most this many rows (flint_attention_paged tiles each call's rows itself).
#define FLINT_ATTENTION_TILE_ROWS 16

/// Element types of the KV cache. A cached row (one KV head of one position) is head_dim
/// halves (F16), or head_dim / 32 ggml Q8_0 blocks (an F16 scale and 32 int8, 34 bytes: 17
/// halves; head_dim a multiple of 32), 53% of the F16 bytes.
#define FLINT_KV_F16 0
#define FLINT_KV_Q8_0 1

/// Halves (uint16) per cached row of `head_dim` values of type `kv_type`.
int64_t flint_kv_row_elems(int32_t kv_type, int32_t head_dim);

/// Converts `n` floats to IEEE half precision (round to nearest even) into `dst`.
void flint_store_f16(uint16_t *dst, const float *src, int64_t n);

/// Causal attention of one sequence's query rows against its cached keys/values.
///
/// - q: query rows, row r at q + r*q_stride, holding n_head heads of `head_dim` floats.
/// - q_pos: position of each query row; row r attends to key positions j with
///   j <= q_pos[r] and, when window > 0, q_pos[r] - j < window.
/// - prompt: 1 when the rows' sequence has several query rows in this forward pass (a
///   prompt chunk), 0 for one row (decoding). It selects which of llama.cpp's two
///   arithmetics the dot products follow (attention.c); both are exact per row.
/// - k_cache/v_cache: the KV pool of one layer, of type kv_type, block by block and within a
///   block KV head by KV head: head h of slot s (block b = s / block_size, index i = s %
///   block_size) is the row at ((b * n_kv_head + h) * block_size + i) * row_elems halves
///   (flint_kv_row_elems; see flint_kv_store). So one head's keys of a block are contiguous, a stream the hardware
///   prefetcher follows.
/// - block_table: physical block of each logical block; key position j lives in slot
///   block_table[j / block_size] * block_size + j % block_size.
/// - Computes heads [head_begin, head_end) of rows [row_begin, row_end) into
///   out + r*out_stride; `scratch` must hold flint_attention_scratch_floats(kv_type, row_end -
///   row_begin, max q_pos, head_dim, heads of a KV head) floats.
/// Queries and probabilities are rounded to F16; scores, softmax and V sums are f32.
///
/// Several prompt rows (prompt = 1) attend in tiles where the path has tile forms: a tile
/// is up to 64 (row, head) queries that share a KV head, and its keys, then its values, are
/// read block by block, each block once for all of the tile's queries (widened to f32 in
/// L1), instead of once per query. Every row's scores, softmax and weighted sum keep the per-row arithmetic
/// operation for operation, so a row's result has the same bits whichever rows share its
/// tile, batch or chunk (the scores of a tile are kept whole between the passes, which is
/// what makes that possible: an online softmax would rescale partial sums at block
/// boundaries and tie the rounding to the tiling).
///
/// A Q8_0 cache is read by the tiles for every row, decoding ones too: blocks are widened
/// (scale times int8, ggml's dequantization) and the prompt arithmetic runs on them, so a
/// row's bits do not depend on its batch, chunk or on being decoded or prefilled; `prompt`
/// is not used. Keys and values are stored rotated by a Walsh-Hadamard transform, which
/// queries and outputs undo (attention.c says why; llama.cpp rotates its quantized caches
/// too). (llama.cpp quantizes Q to Q8_0 for an integer K·Q; Flint keeps Q in F16.)
void flint_attention_paged(const float *q, int64_t q_stride, const int32_t *q_pos,
                           int64_t row_begin, int64_t row_end, int32_t prompt,
                           const uint16_t *k_cache, const uint16_t *v_cache, int32_t kv_type,
                           const int32_t *block_table, int32_t block_size,
                           int32_t n_head, int32_t n_kv_head, int32_t head_dim,
                           float scale, int32_t window,
                           int32_t head_begin, int32_t head_end,
                           float *out, int64_t out_stride, float *scratch);

/// Floats of scratch flint_attention_paged needs for `rows` query rows whose largest
/// position is `max_pos`, at most `heads` heads of one KV head per call.
int64_t flint_attention_scratch_floats(int32_t kv_type, int64_t rows, int32_t max_pos, int32_t head_dim, int32_t heads);

/// Tests only: keys per block of the grouped decoding pass (a decoding row whose context is
/// longer than one block reads each block once for all heads of a KV head); 0 restores the
/// default, a huge value keeps every decoding row on the per-head path.
void flint_attention_set_decode_block_keys(int32_t keys);

/// Stores one position's n_kv_head heads of head_dim floats (src, head after head) as
/// kv_type (F16 rounded to nearest even; Q8_0: Hadamard-rotated, then as ggml's
/// quantize_row_q8_0) into slot `slot` of a layer's K or V pool, in flint_attention_paged's layout.
void flint_kv_store(uint16_t *cache, int32_t kv_type, int64_t slot, const float *src, int32_t n_kv_head, int32_t head_dim, int32_t block_size);

/// Prefetches the cached keys and values of KV head `kv_head` at positions first..last (a
/// later flint_attention_paged call's), so that they load while other work runs.
void flint_attention_prefetch(const uint16_t *k_cache, const uint16_t *v_cache, int32_t kv_type, const int32_t *block_table,
                              int32_t block_size, int32_t n_kv_head, int32_t head_dim, int32_t kv_head,
                              int32_t first, int32_t last);

#ifdef __cplusplus
}
#endif
#endif
