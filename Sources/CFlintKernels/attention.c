#include "flint_attention.h"
#include "blocks.h"
#include <math.h>
#include <string.h>

void flint_store_f16(uint16_t *dst, const float *src, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = fl_f2h(src[i]);
}

static inline const uint16_t *slot_ptr(const uint16_t *cache, const int32_t *block_table, int32_t block_size,
                                       int32_t j, int64_t slot_elems) {
    int64_t slot = (int64_t)block_table[j / block_size] * block_size + j % block_size;
    return cache + slot * slot_elems;
}

void flint_attention_paged(const float *q, int64_t q_stride, const int32_t *q_pos,
                           int64_t row_begin, int64_t row_end,
                           const uint16_t *k_cache, const uint16_t *v_cache,
                           const int32_t *block_table, int32_t block_size,
                           int32_t n_head, int32_t n_kv_head, int32_t head_dim,
                           float scale, int32_t window,
                           int32_t head_begin, int32_t head_end,
                           float *out, int64_t out_stride, float *scratch) {
    const int64_t slot_elems = (int64_t)n_kv_head * head_dim;
    float qh[FLINT_ATTENTION_MAX_HEAD_DIM];
    const int32_t group = n_head / n_kv_head;
    for (int64_t r = row_begin; r < row_end; r++) {
        const int32_t pos = q_pos[r];
        int32_t first = 0;
        if (window > 0 && pos - window + 1 > 0) first = pos - window + 1;
        for (int32_t h = head_begin; h < head_end; h++) {
            // Queries are rounded to F16 like the keys (as llama.cpp does), so the
            // score is an exact product of halves summed in F32.
            const float *qsrc = q + r * q_stride + (int64_t)h * head_dim;
            for (int32_t d = 0; d < head_dim; d++) qh[d] = fl_h2f(fl_f2h(qsrc[d]));
            const int32_t kvh = h / group;
            float maxs = -INFINITY;
            for (int32_t j = first; j <= pos; j++) {
                const uint16_t *kj = slot_ptr(k_cache, block_table, block_size, j, slot_elems) + (int64_t)kvh * head_dim;
                float s = 0.0f;
                for (int32_t d = 0; d < head_dim; d++) s += qh[d] * fl_h2f(kj[d]);
                s *= scale;
                scratch[j] = s;
                if (s > maxs) maxs = s;
            }
            double sum = 0.0;
            for (int32_t j = first; j <= pos; j++) {
                float e = expf(scratch[j] - maxs);
                scratch[j] = e;
                sum += e;
            }
            const float inv = (float)(1.0 / sum);
            float *oh = out + r * out_stride + (int64_t)h * head_dim;
            for (int32_t d = 0; d < head_dim; d++) oh[d] = 0.0f;
            for (int32_t j = first; j <= pos; j++) {
                const uint16_t *vj = slot_ptr(v_cache, block_table, block_size, j, slot_elems) + (int64_t)kvh * head_dim;
                // Probabilities are rounded to F16 before weighting V, as llama.cpp's
                // KQ·V product does; the sum itself stays F32.
                const float w = fl_h2f(fl_f2h(scratch[j] * inv));
                for (int32_t d = 0; d < head_dim; d++) oh[d] += w * fl_h2f(vj[d]);
            }
        }
    }
}
