// Attention over the paged F16 KV cache: the scalar reference of every form and the entry
// points, which run the selected path's forms (isa.h; attention_<isa>.c).
#include "attention_impl.h"

// Products and sums below are each rounded on their own, fused only where written fmaf():
// the arithmetic is specified operation by operation.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")  // GCC does not implement the STDC pragma
#endif

void fl_attn_store_f16_scalar(uint16_t *dst, const float *src, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = fl_f2h(src[i]);
}

// Cache layout (flint_attention.h): head h of slot s = (block b, index i) is the row
// (b * n_kv_head + h) * block_size + i of head_dim halves. fill_slots stores, for every key
// position first..last, its row for head 0 (block-table lookups done once per query row);
// head h adds h * block_size rows (key_ptr's head_offset).
static void fill_slots(int32_t *slots, const int32_t *block_table, int32_t block_size, int32_t n_kv_head, int32_t first,
                       int32_t last) {
    for (int32_t j = first; j <= last;) {
        const int32_t b = j / block_size, base = block_table[b] * block_size * n_kv_head;
        const int32_t end = (b + 1) * block_size - 1 < last ? (b + 1) * block_size - 1 : last;
        for (; j <= end; j++) slots[j] = base + j % block_size;
    }
}

// ---- scalar reference

static float dot_one_row_scalar(const float *q, const uint16_t *k, int32_t n) {
    float s[4][16] = {{0}};
    const int32_t np = n & ~63;
    for (int32_t i = 0; i < np; i += 64)
        for (int a = 0; a < 4; a++)
            for (int l = 0; l < 16; l++) s[a][l] = fmaf(fl_h2f(k[i + 16 * a + l]), q[i + 16 * a + l], s[a][l]);
    float t[16];
    for (int l = 0; l < 16; l++) t[l] = (s[0][l] + s[2][l]) + (s[1][l] + s[3][l]);
    double sum = fl_r16(t);
    for (int32_t i = np; i < n; i++) sum += (double)(fl_h2f(k[i]) * q[i]);
    return (float)sum;
}

static float dot_prompt_scalar(const float *q, const uint16_t *k, int32_t n) {
    if (n & 15) return dot_one_row_scalar(q, k, n);
    float s[16] = {0};
    for (int32_t i = 0; i < n; i += 16)
        for (int l = 0; l < 16; l++) s[l] = fmaf(fl_h2f(k[i + l]), q[i + l], s[l]);
    return fl_r16(s);
}

// dot_prompt_scalar of a key already widened to f32 (n a multiple of 16).
static float dot_prompt_f32_scalar(const float *q, const float *k, int32_t n) {
    float s[16] = {0};
    for (int32_t i = 0; i < n; i += 16)
        for (int l = 0; l < 16; l++) s[l] = fmaf(k[i + l], q[i + l], s[l]);
    return fl_r16(s);
}

static void scores_scalar(const float *q, const uint16_t *k_cache, const int32_t *slots, int64_t slot_elems,
                          int64_t head_offset, int32_t first, int32_t last, int32_t head_dim, float scale, int prompt,
                          float *scratch) {
    for (int32_t j = first; j <= last; j++) {
        const uint16_t *kj = fl_key_ptr(k_cache, slots, j, slot_elems, head_offset);
        scratch[j] = (prompt ? dot_prompt_scalar(q, kj, head_dim) : dot_one_row_scalar(q, kj, head_dim)) * scale;
    }
}

// Scores first..last (already scaled) -> exp(score - max) in place; returns ggml's sum.
static double softmax_scalar(float *x, int32_t first, int32_t last) {
    float maxs = -INFINITY;
    for (int32_t j = first; j <= last; j++) maxs = x[j] > maxs ? x[j] : maxs;
    double sum = 0.0;
    for (int32_t g = first & ~15; g <= last; g += 16) {
        float e[16];
        for (int l = 0; l < 16; l++) {
            const int32_t j = g + l;
            e[l] = (j >= first && j <= last) ? ggml_expf(x[j] - maxs) : 0.0f;
            if (j >= first && j <= last) x[j] = e[l];
        }
        sum += (double)fl_r16(e);
    }
    return sum;
}

// KQV: acc holds `lanes` accumulators of head_dim floats; key j goes to accumulator j % lanes.
void fl_attn_kqv_scalar(float *acc, int32_t lanes, const float *w, const uint16_t *v_cache,
                                  const int32_t *slots, int64_t slot_elems, int64_t head_offset, int32_t first,
                                  int32_t last, int32_t head_dim) {
    for (int32_t j = first; j <= last; j++) {
        const uint16_t *vj = fl_key_ptr(v_cache, slots, j, slot_elems, head_offset);
        float *a = acc + (int64_t)(j % lanes) * head_dim;
        for (int32_t d = 0; d < head_dim; d++) a[d] = fmaf(fl_h2f(vj[d]), w[j], a[d]);
    }
}

// dst[i] = src[i] * scale rounded to F16 and back (llama.cpp's F16 operands).
void fl_attn_round_f16_scalar(float *dst, const float *src, float scale, int32_t n) {
    for (int32_t i = 0; i < n; i++) dst[i] = fl_h2f(fl_f2h(src[i] * scale));
}

// The R16 reduction of `lanes` accumulators (16 or 64, see above), element-wise over head_dim.
void fl_attn_finish_scalar(float *acc, int32_t lanes, int32_t head_dim, float *out) {
    if (lanes == 64)  // the one-row kernel's four 16-lane vectors: 0 + 2, 1 + 3, then together
        for (int32_t l = 0; l < 16; l++)
            for (int32_t d = 0; d < head_dim; d++) {
                float *a = acc + (int64_t)l * head_dim;
                const float *b = a + 16 * head_dim, *c = a + 32 * head_dim, *e = a + 48 * head_dim;
                a[d] = (a[d] + c[d]) + (b[d] + e[d]);
            }
    for (int32_t l = 0; l < 8; l++)
        for (int32_t d = 0; d < head_dim; d++) acc[l * head_dim + d] = acc[l * head_dim + d] + acc[(l + 8) * head_dim + d];
    for (int32_t l = 0; l < 4; l++)
        for (int32_t d = 0; d < head_dim; d++) acc[l * head_dim + d] = acc[l * head_dim + d] + acc[(l + 4) * head_dim + d];
    for (int32_t d = 0; d < head_dim; d++)
        out[d] = (acc[d] + acc[2 * head_dim + d]) + (acc[head_dim + d] + acc[3 * head_dim + d]);
}

// A cached row widened to f32: F16, or Q8_0 as ggml dequantizes it (scale times int8, one
// rounding).
static void widen_row_scalar(float *dst, const uint16_t *row, int32_t kv_type, int32_t head_dim) {
    if (kv_type == FLINT_KV_Q8_0) {
        const block_q8_0 *b = (const block_q8_0 *)row;
        for (int32_t i = 0; i < head_dim; i++) dst[i] = fl_h2f(b[i / 32].d) * (float)b[i / 32].qs[i % 32];
    } else {
        for (int32_t i = 0; i < head_dim; i++) dst[i] = fl_h2f(row[i]);
    }
}

// The tile forms (isa.h): per query, the prompt kernel's scores and the 16-lane KQV of
// scores_scalar and fl_attn_kqv_scalar, over one block of widened keys or values.
static void widen_keys_scalar(float *kf, const uint16_t *cache, int32_t kv_type, const int32_t *slots,
                              int64_t head_offset, int32_t kb, int32_t nb, int32_t lo, int32_t head_dim) {
    const int64_t row_elems = fl_kv_row_elems(kv_type, head_dim);
    for (int32_t i = 0; i < nb; i++) {  // keys before lo are no query's: not read
        float *dst = kf + (int64_t)i * head_dim;
        if (kb + i < lo) memset(dst, 0, sizeof(float) * (size_t)head_dim);
        else widen_row_scalar(dst, fl_key_ptr(cache, slots, kb + i, row_elems, head_offset), kv_type, head_dim);
    }
}

static void widen_values_scalar(float *vt, const uint16_t *cache, int32_t kv_type, const int32_t *slots,
                                int64_t head_offset, int32_t kb, int32_t nb, int32_t lo, int32_t head_dim) {
    const int64_t row_elems = fl_kv_row_elems(kv_type, head_dim);
    float v[FLINT_ATTENTION_MAX_HEAD_DIM];
    for (int32_t i = 0; i < (nb + 15) / 16 * 16; i++) {
        float *dst = vt + ((int64_t)(i / 16) * head_dim) * 16 + i % 16;
        const int in = kb + i >= lo && i < nb;
        if (in) widen_row_scalar(v, fl_key_ptr(cache, slots, kb + i, row_elems, head_offset), kv_type, head_dim);
        for (int32_t d = 0; d < head_dim; d++) dst[d * 16] = in ? v[d] : 0.0f;
    }
}

static void tile_scores_scalar(const float *qh, int32_t rows, const int32_t *first, const int32_t *last,
                               const float *kf, int32_t kb, int32_t nb, int32_t head_dim, float scale, float *s,
                               int64_t ld) {
    for (int32_t r = 0; r < rows; r++) {
        const int32_t lo = first[r] > kb ? first[r] : kb, hi = last[r] < kb + nb - 1 ? last[r] : kb + nb - 1;
        for (int32_t j = lo; j <= hi; j++)
            s[r * ld + j] = dot_prompt_f32_scalar(qh + (int64_t)r * head_dim, kf + (int64_t)(j - kb) * head_dim, head_dim) * scale;
    }
}

static void tile_kqv_scalar(float *acc, int32_t rows, const int32_t *first, const int32_t *last, const float *w,
                            int64_t ld, const float *vt, int32_t kb, int32_t nb, int32_t head_dim) {
    for (int32_t r = 0; r < rows; r++) {
        const int32_t lo = first[r] > kb ? first[r] : kb, hi = last[r] < kb + nb - 1 ? last[r] : kb + nb - 1;
        for (int32_t j = lo; j <= hi; j++) {
            const float *vj = vt + (int64_t)((j - kb) / 16) * head_dim * 16 + (j - kb) % 16;
            float *a = acc + (int64_t)r * head_dim * 16 + j % 16;
            for (int32_t d = 0; d < head_dim; d++) a[d * 16] = fmaf(vj[d * 16], w[r * ld + j], a[d * 16]);
        }
    }
}

static const fl_attention_ops scalar_attention = {
    scores_scalar, softmax_scalar, fl_attn_kqv_scalar, fl_attn_finish_scalar, fl_attn_round_f16_scalar,
    fl_attn_store_f16_scalar, NULL, NULL, widen_keys_scalar, widen_values_scalar, tile_scores_scalar, tile_kqv_scalar};

void fl_fill_attention(fl_isa_table *t, int isa) {
    switch (isa) {
    case FL_ISA_SCALAR: t->attn = scalar_attention; break;
#if defined(__x86_64__) || defined(__i386__)
    case FL_ISA_AVX2: fl_attention_fill_avx2(t); break;
    case FL_ISA_AVX512VNNI: fl_attention_fill_avx512(t); break;
#elif defined(__aarch64__)
    case FL_ISA_NEON: fl_attention_fill_neon(t); break;
#endif
    default: break;
    }
}

void flint_store_f16(uint16_t *dst, const float *src, int64_t n) { fl_current_table()->attn.store(dst, src, n); }

// First key position a query at `pos` attends to (causal; a sliding window cuts earlier ones).
static inline int32_t first_key(int32_t pos, int32_t window) {
    return window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
}

// The one-row kernel's tail: keys from `split` (the last multiple of 64 of the padded
// length, GGML_KV_PAD) to `pos` added to `oh` one by one in double.
static void kqv_tail(float *oh, const float *w, const uint16_t *v_cache, const int32_t *slots, int64_t head_offset,
                     int32_t first, int32_t split, int32_t pos, int32_t head_dim) {
    for (int32_t d = 0; split <= pos && d < head_dim; d++) {
        double sum = oh[d];
        for (int32_t j = split > first ? split : first; j <= pos; j++)
            sum += (double)(fl_h2f(fl_key_ptr(v_cache, slots, j, head_dim, head_offset)[d]) * w[j]);
        oh[d] = (float)sum;
    }
}

int64_t flint_kv_row_elems(int32_t kv_type, int32_t head_dim) { return fl_kv_row_elems(kv_type, head_dim); }

// A Q8_0 cache holds keys and values rotated by a normalized Walsh-Hadamard transform H (over
// segments of the largest power of two dividing head_dim: the whole head for 64, 128, 256).
// H is orthogonal and its own inverse, so q.k = Hq.Hk and sum p v = H(sum p Hv): queries are
// rotated before scoring and each output once after its sum. Why: some models' keys carry a
// few large dimensions (Qwen2's key bias), which set their block's Q8_0 scale and leave the
// other 31 values of the block a handful of levels; rotated, every dimension holds a share
// of each, and the scale follows the block's norm instead of its largest value (measured on
// Qwen2.5-coder-0.5B over 8,192 tokens of the shipped text: perplexity +1.8% / +2.6% over an
// F16 cache at ctx 512 / 2048 without the rotation, +0.3% / +0.7% with it; llama.cpp rotates
// its quantized caches the same way, attn_rot_k/v). Plain C, the same operations on every path.
static void hadamard(float *x, int32_t head_dim) {
    const int32_t n = head_dim & -head_dim;
    const float scale = 1.0f / sqrtf((float)n);
    for (int32_t s = 0; s < head_dim; s += n) {
        float *y = x + s;
        for (int32_t h = 1; h < n; h *= 2)
            for (int32_t i = 0; i < n; i += 2 * h)
                for (int32_t j = i; j < i + h; j++) {
                    const float a = y[j], b = y[j + h];
                    y[j] = a + b, y[j + h] = a - b;
                }
        for (int32_t i = 0; i < n; i++) y[i] *= scale;
    }
}

// Row of KV head `kv_head` at physical slot `slot` (flint_attention.h), in rows.
static inline int64_t kv_row(int64_t slot, int32_t block_size, int32_t n_kv_head, int32_t kv_head) {
    return (slot / block_size * n_kv_head + kv_head) * block_size + slot % block_size;
}

void flint_kv_store(uint16_t *cache, int32_t kv_type, int64_t slot, const float *src, int32_t n_kv_head, int32_t head_dim,
                    int32_t block_size) {
    const fl_isa_table *t = fl_current_table();
    const int64_t row_elems = fl_kv_row_elems(kv_type, head_dim);
    for (int32_t h = 0; h < n_kv_head; h++) {
        uint16_t *row = cache + kv_row(slot, block_size, n_kv_head, h) * row_elems;
        if (kv_type == FLINT_KV_Q8_0) {
            float x[FLINT_ATTENTION_MAX_HEAD_DIM];
            memcpy(x, src + (int64_t)h * head_dim, sizeof(float) * (size_t)head_dim);
            hadamard(x, head_dim);
            t->quantize_q8_0(x, (block_q8_0 *)row, head_dim / 32);
        } else {
            t->attn.store(row, src + (int64_t)h * head_dim, head_dim);
        }
    }
}

void flint_attention_prefetch(const uint16_t *k_cache, const uint16_t *v_cache, int32_t kv_type, const int32_t *block_table,
                              int32_t block_size, int32_t n_kv_head, int32_t head_dim, int32_t kv_head,
                              int32_t first, int32_t last) {
    const int64_t row_elems = fl_kv_row_elems(kv_type, head_dim), bytes = row_elems * 2;
    for (int32_t j = first; j <= last; j++) {
        const int64_t slot = (int64_t)block_table[j / block_size] * block_size + j % block_size;
        const int64_t row = kv_row(slot, block_size, n_kv_head, kv_head);
        const char *kp = (const char *)(k_cache + row * row_elems);
        const char *vp = (const char *)(v_cache + row * row_elems);
        for (int64_t b = 0; b < bytes; b += 64) {
            __builtin_prefetch(kp + b, 0, 3);
            __builtin_prefetch(vp + b, 0, 3);
        }
    }
}

// Keys per block of a tile's key pass: 16 KiB widened to f32, so a block stays in L1 while
// every query of the tile uses it. The value pass takes 128 keys a block: its forms walk a
// block 16 dimensions at a time (64 bytes a key, 16 KiB a slice), and longer blocks mean
// fewer round trips of the accumulators. Both multiples of 16 (blocks start at a multiple
// of 16, so a 16-key lane group never straddles two).
static int32_t tile_block_keys(int32_t head_dim) {
    const int32_t n = 4096 / head_dim & ~15;
    return n < 16 ? 16 : n;
}
#define TILE_VALUE_BLOCK_KEYS 128

// Queries a tile holds for `rows` rows and at most `heads` heads of a KV head per call.
static int64_t tile_capacity(int64_t rows, int64_t heads) {
    const int64_t n = rows * (heads > 0 ? heads : 1);
    return n < FL_TILE_QUERIES ? n : FL_TILE_QUERIES;
}

int64_t flint_attention_scratch_floats(int32_t kv_type, int64_t rows, int32_t max_pos, int32_t head_dim, int32_t heads) {
    const int64_t keys = (int64_t)max_pos + 1, g = heads > 0 ? heads : 1;
    const int64_t per_row = keys + g * (keys + 64 * (int64_t)head_dim + head_dim);
    const int64_t ld = ((int64_t)max_pos + 16) & ~15, n = tile_capacity(rows, heads), hd = head_dim;
    const int64_t block = tile_block_keys(head_dim) > TILE_VALUE_BLOCK_KEYS ? tile_block_keys(head_dim) : TILE_VALUE_BLOCK_KEYS;
    const int64_t tile = n * ld + n * hd + n * 16 * hd + block * hd + ld;
    if (kv_type == FLINT_KV_Q8_0) return tile;  // every row runs as a tile
    return rows > 1 && per_row < tile ? tile : per_row;
}

// Prompt rows of one sequence as tiles (flint_attention_paged). A tile is up to
// FL_TILE_QUERIES query vectors (row, head) that share a KV head. Pass 1 widens the tile's
// keys block by block and scores every query against each block; each query's softmax then
// runs as in the per-row path; pass 2 widens the values block by block, transposed, and adds
// them into every query's 16 lane accumulators (key j to lane j % 16), reduced at the end as
// the per-row finish does. Queries keep their own key ranges (causal, windows): a query
// takes from a block exactly the keys the per-row path gives it, in the same order.
static void attention_tiles(const fl_attention_ops *ops, const float *q, int64_t q_stride, const int32_t *q_pos,
                            int64_t row_begin, int64_t row_end, const uint16_t *k_cache, const uint16_t *v_cache,
                            int32_t kv_type, const int32_t *block_table, int32_t block_size, int32_t n_head, int32_t n_kv_head,
                            int32_t head_dim, float scale, int32_t window, int32_t head_begin, int32_t head_end,
                            float *out, int64_t out_stride, float *scratch) {
    int32_t lo = INT32_MAX, hi = 0;
    for (int64_t r = row_begin; r < row_end; r++) {
        const int32_t f = first_key(q_pos[r], window);
        lo = f < lo ? f : lo;
        hi = q_pos[r] > hi ? q_pos[r] : hi;
    }
    const int32_t key_block = tile_block_keys(head_dim), value_block = TILE_VALUE_BLOCK_KEYS, group = n_head / n_kv_head;
    const int64_t ld = ((int64_t)hi + 16) & ~15, hd = head_dim, row_elems = fl_kv_row_elems(kv_type, head_dim);
    const int64_t n = tile_capacity(row_end - row_begin, head_end - head_begin < group ? head_end - head_begin : group);
    const int32_t block = key_block > value_block ? key_block : value_block;
    // scratch (flint_attention_scratch_floats): scores n × ld, queries n × hd, lane
    // accumulators n × hd × 16, one widened block, key slots ld
    float *s = scratch, *qh = s + n * ld, *acc = qh + n * hd, *kvf = acc + n * 16 * hd;
    int32_t *slots = (int32_t *)(kvf + block * hd);
    fill_slots(slots, block_table, block_size, n_kv_head, lo, hi);
    int32_t first[FL_TILE_QUERIES], last[FL_TILE_QUERIES];
    float *dst[FL_TILE_QUERIES];
    for (int32_t h0 = head_begin; h0 < head_end;) {
        const int32_t kv = h0 / group, h1 = (kv + 1) * group < head_end ? (kv + 1) * group : head_end;
        const int64_t head_offset = (int64_t)kv * block_size * row_elems;
        const int32_t heads = h1 - h0, rows_per_tile = heads < n ? (int32_t)(n / heads) : 1;
        for (int64_t r0 = row_begin; r0 < row_end; r0 += rows_per_tile) {
            const int64_t r1 = row_end - r0 < rows_per_tile ? row_end : r0 + rows_per_tile;
            for (int32_t hb = h0; hb < h1; hb += (int32_t)n) {  // more heads than a tile holds: several tiles
                const int32_t he = h1 - hb < n ? h1 : hb + (int32_t)n;
                int32_t m = 0;
                for (int64_t r = r0; r < r1; r++)
                    for (int32_t h = hb; h < he; h++, m++) {
                        last[m] = q_pos[r];
                        first[m] = first_key(last[m], window);
                        if (kv_type == FLINT_KV_Q8_0) {  // rotated as the cache's keys are
                            float x[FLINT_ATTENTION_MAX_HEAD_DIM];
                            memcpy(x, q + r * q_stride + h * hd, sizeof(float) * (size_t)head_dim);
                            hadamard(x, head_dim);
                            ops->round(qh + m * hd, x, 1.0f, head_dim);
                        } else {
                            ops->round(qh + m * hd, q + r * q_stride + h * hd, 1.0f, head_dim);
                        }
                        dst[m] = out + r * out_stride + h * hd;
                    }
                int32_t tlo = INT32_MAX, thi = 0;
                for (int32_t i = 0; i < m; i++) {
                    tlo = first[i] < tlo ? first[i] : tlo;
                    thi = last[i] > thi ? last[i] : thi;
                }
                for (int32_t kb = tlo & ~15; kb <= thi; kb += key_block) {
                    const int32_t nb = thi - kb + 1 < key_block ? thi - kb + 1 : key_block;
                    ops->widen_keys(kvf, k_cache, kv_type, slots, head_offset, kb, nb, tlo, head_dim);
                    ops->tile_scores(qh, m, first, last, kvf, kb, nb, head_dim, scale, s, ld);
                }
                for (int32_t i = 0; i < m; i++) {
                    float *si = s + i * ld;
                    const float inv = (float)(1.0 / ops->softmax(si, first[i], last[i]));
                    ops->round(si + first[i], si + first[i], inv, last[i] + 1 - first[i]);
                }
                memset(acc, 0, sizeof(float) * (size_t)(m * 16 * hd));
                for (int32_t kb = tlo & ~15; kb <= thi; kb += value_block) {
                    const int32_t nb = thi - kb + 1 < value_block ? thi - kb + 1 : value_block;
                    ops->widen_values(kvf, v_cache, kv_type, slots, head_offset, kb, nb, tlo, head_dim);
                    ops->tile_kqv(acc, m, first, last, s, ld, kvf, kb, nb, head_dim);
                }
                for (int32_t i = 0; i < m; i++)
                    for (int32_t d = 0; d < head_dim; d++) dst[i][d] = fl_r16(acc + (i * hd + d) * 16);
                if (kv_type == FLINT_KV_Q8_0)  // back from the rotated values
                    for (int32_t i = 0; i < m; i++) hadamard(dst[i], head_dim);
            }
        }
        h0 = h1;
    }
}

// Keys per block of a decoding row's pass over its context when its heads share a KV head:
// 128 KiB of F16 keys, which stay in L2 while every head of the group reads them.
static int32_t decode_block_override;

void flint_attention_set_decode_block_keys(int32_t keys) { decode_block_override = keys; }

static int32_t decode_block_keys(int32_t head_dim) {
    if (decode_block_override > 0) return decode_block_override;
    const int32_t n = 65536 / head_dim & ~15;
    return n < 64 ? 64 : n;
}

// One decoding row, heads head_begin..head_end - 1, over a context long enough that its keys
// and values no longer stay in cache from one head to the next: the per-row path's steps,
// with the heads of a KV head taking turns block by block, so each block of keys and values
// is read from memory once for the group. Every head's scores, softmax, lane accumulators
// (64 lanes, key j to lane j % 64, in key order) and tail are the per-row path's, so the bits
// are too; the accumulators live in scratch instead of registers.
static void attention_decode_grouped(const fl_attention_ops *ops, const float *q, int32_t pos, int32_t first,
                                     const uint16_t *k_cache, const uint16_t *v_cache, const int32_t *block_table,
                                     int32_t block_size, int32_t n_head, int32_t n_kv_head, int32_t head_dim,
                                     float scale, int32_t head_begin, int32_t head_end, float *out, float *scratch) {
    const int64_t keys = (int64_t)pos + 1, hd = head_dim;
    const int32_t group = n_head / n_kv_head, block = decode_block_keys(head_dim);
    const int32_t n_kv = (pos + GGML_KV_PAD) / GGML_KV_PAD * GGML_KV_PAD;
    const int32_t split = (n_kv & ~63) < pos + 1 ? (n_kv & ~63) : pos + 1;
    int32_t *slots = (int32_t *)scratch;  // scratch (flint_attention_scratch_floats): slots, then per head
    fill_slots(slots, block_table, block_size, n_kv_head, first, pos);  // scores, accumulators, query
    for (int32_t h0 = head_begin; h0 < head_end;) {
        const int32_t kv = h0 / group, h1 = (kv + 1) * group < head_end ? (kv + 1) * group : head_end, m = h1 - h0;
        const int64_t head_offset = (int64_t)kv * block_size * head_dim;
        float *s = scratch + keys, *acc = s + m * keys, *qh = acc + m * 64 * hd;
        for (int32_t i = 0; i < m; i++) ops->round(qh + i * hd, q + (int64_t)(h0 + i) * head_dim, 1.0f, head_dim);
        for (int32_t kb = first; kb <= pos; kb += block) {
            const int32_t ke = pos - kb < block ? pos : kb + block - 1;
            for (int32_t i = 0; i < m; i++)
                ops->scores(qh + i * hd, k_cache, slots, hd, head_offset, kb, ke, head_dim, scale, 0, s + i * keys);
        }
        for (int32_t i = 0; i < m; i++) {
            float *si = s + i * keys;
            const float inv = (float)(1.0 / ops->softmax(si, first, pos));
            ops->round(si + first, si + first, inv, pos + 1 - first);
        }
        memset(acc, 0, sizeof(float) * (size_t)(m * 64 * hd));
        for (int32_t kb = first; kb < split; kb += block) {
            const int32_t ke = split - 1 - kb < block ? split - 1 : kb + block - 1;
            for (int32_t i = 0; i < m; i++) ops->kqv(acc + i * 64 * hd, 64, s + i * keys, v_cache, slots, hd, head_offset, kb, ke, head_dim);
        }
        for (int32_t i = 0; i < m; i++) {
            float *oh = out + (int64_t)(h0 + i) * head_dim;
            ops->finish(acc + i * 64 * hd, 64, head_dim, oh);
            kqv_tail(oh, s + i * keys, v_cache, slots, head_offset, first, split, pos, head_dim);
        }
        h0 = h1;
    }
}

void flint_attention_paged(const float *q, int64_t q_stride, const int32_t *q_pos,
                           int64_t row_begin, int64_t row_end, int32_t prompt,
                           const uint16_t *k_cache, const uint16_t *v_cache, int32_t kv_type,
                           const int32_t *block_table, int32_t block_size,
                           int32_t n_head, int32_t n_kv_head, int32_t head_dim,
                           float scale, int32_t window,
                           int32_t head_begin, int32_t head_end,
                           float *out, int64_t out_stride, float *scratch) {
    const fl_attention_ops *ops = &fl_current_table()->attn;
    if (kv_type == FLINT_KV_Q8_0) {  // only tiles read Q8_0; a path without tile forms borrows the scalar ones
        attention_tiles(ops->tile_scores ? ops : &scalar_attention, q, q_stride, q_pos, row_begin, row_end, k_cache,
                        v_cache, kv_type, block_table, block_size, n_head, n_kv_head, head_dim, scale, window, head_begin,
                        head_end, out, out_stride, scratch);
        return;
    }
    if (prompt && row_end - row_begin > 1 && ops->tile_scores && !(head_dim & 15)) {
        attention_tiles(ops, q, q_stride, q_pos, row_begin, row_end, k_cache, v_cache, kv_type, block_table, block_size,
                        n_head, n_kv_head, head_dim, scale, window, head_begin, head_end, out, out_stride, scratch);
        return;
    }
    const int64_t slot_elems = head_dim;
    float qh[FLINT_ATTENTION_MAX_HEAD_DIM];
    const int32_t group = n_head / n_kv_head;
    const int32_t lanes = prompt ? 16 : 64;
    for (int64_t r = row_begin; r < row_end; r++) {
        const int32_t pos = q_pos[r];
        const int32_t first = first_key(pos, window);
        if (!prompt && group > 1 && pos - first + 1 > decode_block_keys(head_dim)) {
            attention_decode_grouped(ops, q + r * q_stride, pos, first, k_cache, v_cache, block_table, block_size, n_head,
                                     n_kv_head, head_dim, scale, head_begin, head_end, out + r * out_stride, scratch);
            continue;
        }
        // scratch: scores [0, pos], key slots [pos + 1, 2 pos + 1], then the KQV accumulators
        int32_t *slots = (int32_t *)(scratch + pos + 1);
        float *acc = scratch + 2 * (pos + 1);
        fill_slots(slots, block_table, block_size, n_kv_head, first, pos);
        for (int32_t h = head_begin; h < head_end; h++) {
            ops->round(qh, q + r * q_stride + (int64_t)h * head_dim, 1.0f, head_dim);
            const int64_t head_offset = (int64_t)(h / group) * block_size * head_dim;
            ops->scores(qh, k_cache, slots, slot_elems, head_offset, first, pos, head_dim, scale, prompt, scratch);
            const float inv = (float)(1.0 / ops->softmax(scratch, first, pos));
            ops->round(scratch + first, scratch + first, inv, pos + 1 - first);
            float *oh = out + r * out_stride + (int64_t)h * head_dim;
            if (prompt && ops->kqv_prompt &&
                ops->kqv_prompt(oh, scratch, v_cache, slots, slot_elems, head_offset, first, pos, head_dim))
                continue;
            // The one-row kernel sums keys past the last multiple of 64 of the padded length
            // one by one in double.
            const int32_t n_kv = (pos + GGML_KV_PAD) / GGML_KV_PAD * GGML_KV_PAD;
            const int32_t split = prompt ? pos + 1 : (n_kv & ~63) < pos + 1 ? (n_kv & ~63) : pos + 1;
            if (prompt || !ops->kqv_decode || first >= split ||
                !ops->kqv_decode(oh, scratch, v_cache, slots, slot_elems, head_offset, first, split - 1, head_dim)) {
                memset(acc, 0, sizeof(float) * (size_t)lanes * (size_t)head_dim);
                if (first < split)
                    ops->kqv(acc, lanes, scratch, v_cache, slots, slot_elems, head_offset, first, split - 1, head_dim);
                ops->finish(acc, lanes, head_dim, oh);
            }
            kqv_tail(oh, scratch, v_cache, slots, head_offset, first, split, pos, head_dim);
        }
    }
}
