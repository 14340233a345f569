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

void fl_fill_attention(fl_isa_table *t, int isa) {
    switch (isa) {
    case FL_ISA_SCALAR:
        t->attn = (fl_attention_ops){scores_scalar, softmax_scalar, fl_attn_kqv_scalar, fl_attn_finish_scalar,
                                     fl_attn_round_f16_scalar, fl_attn_store_f16_scalar, NULL, NULL};
        break;
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

// Row (of head_dim halves) of KV head `kv_head` at physical slot `slot` (flint_attention.h).
static inline int64_t kv_row(int64_t slot, int32_t block_size, int32_t n_kv_head, int32_t kv_head) {
    return (slot / block_size * n_kv_head + kv_head) * block_size + slot % block_size;
}

void flint_kv_store(uint16_t *cache, int64_t slot, const float *src, int32_t n_kv_head, int32_t head_dim, int32_t block_size) {
    const fl_store_fn store = fl_current_table()->attn.store;
    for (int32_t h = 0; h < n_kv_head; h++)
        store(cache + kv_row(slot, block_size, n_kv_head, h) * head_dim, src + (int64_t)h * head_dim, head_dim);
}

void flint_attention_prefetch(const uint16_t *k_cache, const uint16_t *v_cache, const int32_t *block_table,
                              int32_t block_size, int32_t n_kv_head, int32_t head_dim, int32_t kv_head,
                              int32_t first, int32_t last) {
    const int64_t bytes = (int64_t)head_dim * 2;
    for (int32_t j = first; j <= last; j++) {
        const int64_t slot = (int64_t)block_table[j / block_size] * block_size + j % block_size;
        const int64_t row = kv_row(slot, block_size, n_kv_head, kv_head);
        const char *kp = (const char *)(k_cache + row * head_dim);
        const char *vp = (const char *)(v_cache + row * head_dim);
        for (int64_t b = 0; b < bytes; b += 64) {
            __builtin_prefetch(kp + b, 0, 3);
            __builtin_prefetch(vp + b, 0, 3);
        }
    }
}

void flint_attention_paged(const float *q, int64_t q_stride, const int32_t *q_pos,
                           int64_t row_begin, int64_t row_end, int32_t prompt,
                           const uint16_t *k_cache, const uint16_t *v_cache,
                           const int32_t *block_table, int32_t block_size,
                           int32_t n_head, int32_t n_kv_head, int32_t head_dim,
                           float scale, int32_t window,
                           int32_t head_begin, int32_t head_end,
                           float *out, int64_t out_stride, float *scratch) {
    const fl_attention_ops *ops = &fl_current_table()->attn;
    const int64_t slot_elems = head_dim;
    float qh[FLINT_ATTENTION_MAX_HEAD_DIM];
    const int32_t group = n_head / n_kv_head;
    const int32_t lanes = prompt ? 16 : 64;
    for (int64_t r = row_begin; r < row_end; r++) {
        const int32_t pos = q_pos[r];
        int32_t first = 0;
        if (window > 0 && pos - window + 1 > 0) first = pos - window + 1;
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
            for (int32_t d = 0; split <= pos && d < head_dim; d++) {
                double s = oh[d];
                for (int32_t j = split > first ? split : first; j <= pos; j++)
                    s += (double)(fl_h2f(fl_key_ptr(v_cache, slots, j, slot_elems, head_offset)[d]) * scratch[j]);
                oh[d] = (float)s;
            }
        }
    }
}
