#include "flint_attention.h"
#include <math.h>
#include <string.h>

static inline float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            exp = 127 - 15 + 1;
            while ((mant & 0x400) == 0) { mant <<= 1; exp--; }
            mant &= 0x3ff;
            bits = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t float_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) {  // inf or nan
        return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
    }
    if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);  // overflow -> inf
    if (absx < 0x38800000u) {  // subnormal half or zero
        if (absx < 0x33000000u) return (uint16_t)sign;
        uint32_t e = absx >> 23;
        uint32_t m = (absx & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e;  // 14 + (113 - e) - 1 ... result mantissa bits
        uint32_t half_m = m >> (shift);
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (half_m & 1))) half_m++;
        return (uint16_t)(sign | half_m);
    }
    uint32_t e = (absx >> 23) - 127 + 15;
    uint32_t m = absx & 0x7fffff;
    uint32_t h = (e << 10) | (m >> 13);
    uint32_t rem = m & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

void flint_store_f16(uint16_t *dst, const float *src, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = float_to_half(src[i]);
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
    const int32_t group = n_head / n_kv_head;
    for (int64_t r = row_begin; r < row_end; r++) {
        const int32_t pos = q_pos[r];
        int32_t first = 0;
        if (window > 0 && pos - window + 1 > 0) first = pos - window + 1;
        for (int32_t h = head_begin; h < head_end; h++) {
            const float *qh = q + r * q_stride + (int64_t)h * head_dim;
            const int32_t kvh = h / group;
            float maxs = -INFINITY;
            for (int32_t j = first; j <= pos; j++) {
                const uint16_t *kj = slot_ptr(k_cache, block_table, block_size, j, slot_elems) + (int64_t)kvh * head_dim;
                float s = 0.0f;
                for (int32_t d = 0; d < head_dim; d++) s += qh[d] * half_to_float(kj[d]);
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
                const float w = scratch[j] * inv;
                for (int32_t d = 0; d < head_dim; d++) oh[d] += w * half_to_float(vj[d]);
            }
        }
    }
}
