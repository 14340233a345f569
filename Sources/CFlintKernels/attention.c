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

// Score and V-accumulation primitives: scalar, and AVX2+F16C (picked once at
// start-up, like the matmul kernels).
static float dot_f32_f16_scalar(const float *q, const uint16_t *k, int32_t n) {
    float s = 0.0f;
    for (int32_t d = 0; d < n; d++) s += q[d] * fl_h2f(k[d]);
    return s;
}

static void axpy_f16_scalar(float *out, float w, const uint16_t *v, int32_t n) {
    for (int32_t d = 0; d < n; d++) out[d] += w * fl_h2f(v[d]);
}

#if defined(__x86_64__)
#include <immintrin.h>
// Same arithmetic as the scalar versions (sequential sums, products and sums rounded
// separately: no FMA contraction), only with hardware F16 conversion and, for the
// element-wise V update, vector instructions. Results are bit-identical across paths.
#pragma STDC FP_CONTRACT OFF
__attribute__((target("avx2,f16c")))
static float dot_f32_f16_avx2(const float *q, const uint16_t *k, int32_t n) {
    float s = 0.0f;
    for (int32_t d = 0; d < n; d++) {
        const float p = q[d] * _cvtsh_ss(k[d]);
        s = s + p;
    }
    return s;
}

// Eight keys at a time: an 8x8 block (keys x dims) is transposed so that each lane
// holds one key, and the lanes add their products dimension after dimension — the
// same sequence of roundings as the scalar loop, eight keys in parallel.
__attribute__((target("avx2,f16c")))
static void scores_avx2(const float *q, const uint16_t *k_cache, const int32_t *block_table, int32_t block_size,
                        int64_t slot_elems, int64_t head_offset, int32_t first, int32_t last, int32_t head_dim,
                        float scale, float *scratch) {
    int32_t j = first;
    if ((head_dim & 7) == 0) {
        for (; j + 8 <= last + 1; j += 8) {
            const uint16_t *k[8];
            for (int l = 0; l < 8; l++) k[l] = slot_ptr(k_cache, block_table, block_size, j + l, slot_elems) + head_offset;
            __m256 acc = _mm256_setzero_ps();
            for (int32_t d = 0; d < head_dim; d += 8) {
                __m256 r0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k[0] + d)));
                __m256 r1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k[1] + d)));
                __m256 r2 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k[2] + d)));
                __m256 r3 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k[3] + d)));
                __m256 r4 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k[4] + d)));
                __m256 r5 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k[5] + d)));
                __m256 r6 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k[6] + d)));
                __m256 r7 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k[7] + d)));
                // 8x8 transpose: column c ends up holding dimension d + c of all eight keys.
                __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
                __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
                __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
                __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
                __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
                __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
                __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
                __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
                __m256 c[8];
                c[0] = _mm256_permute2f128_ps(u0, u4, 0x20); c[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
                c[2] = _mm256_permute2f128_ps(u2, u6, 0x20); c[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
                c[4] = _mm256_permute2f128_ps(u0, u4, 0x31); c[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
                c[6] = _mm256_permute2f128_ps(u2, u6, 0x31); c[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
                for (int e = 0; e < 8; e++) acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(q[d + e]), c[e]));
            }
            _mm256_storeu_ps(scratch + j, _mm256_mul_ps(acc, _mm256_set1_ps(scale)));
        }
    }
    for (; j <= last; j++) {
        const uint16_t *kj = slot_ptr(k_cache, block_table, block_size, j, slot_elems) + head_offset;
        scratch[j] = dot_f32_f16_avx2(q, kj, head_dim) * scale;
    }
}

__attribute__((target("avx2,f16c")))
static void axpy_f16_avx2(float *out, float w, const uint16_t *v, int32_t n) {
    const __m256 wv = _mm256_set1_ps(w);
    int32_t d = 0;
    for (; d + 8 <= n; d += 8) {
        const __m256 vv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + d)));
        _mm256_storeu_ps(out + d, _mm256_add_ps(_mm256_loadu_ps(out + d), _mm256_mul_ps(wv, vv)));
    }
    for (; d < n; d++) {
        const float p = w * _cvtsh_ss(v[d]);
        out[d] = out[d] + p;
    }
}
#endif

/// Scaled scores of keys first...last for one query head: scratch[j] = (q·k_j) * scale,
/// each dot summed sequentially over the head dimension.
typedef void (*scores_fn)(const float *q, const uint16_t *k_cache, const int32_t *block_table, int32_t block_size,
                          int64_t slot_elems, int64_t head_offset, int32_t first, int32_t last, int32_t head_dim,
                          float scale, float *scratch);

static void scores_scalar(const float *q, const uint16_t *k_cache, const int32_t *block_table, int32_t block_size,
                          int64_t slot_elems, int64_t head_offset, int32_t first, int32_t last, int32_t head_dim,
                          float scale, float *scratch) {
    for (int32_t j = first; j <= last; j++) {
        const uint16_t *kj = slot_ptr(k_cache, block_table, block_size, j, slot_elems) + head_offset;
        scratch[j] = dot_f32_f16_scalar(q, kj, head_dim) * scale;
    }
}

typedef void (*axpy_fn)(float *, float, const uint16_t *, int32_t);
static scores_fn attn_scores = scores_scalar;
static axpy_fn attn_axpy = axpy_f16_scalar;

static scores_fn best_scores = scores_scalar;
static axpy_fn best_axpy = axpy_f16_scalar;

void flint_attention_force_scalar(int on) {
    attn_scores = on ? scores_scalar : best_scores;
    attn_axpy = on ? axpy_f16_scalar : best_axpy;
}

__attribute__((constructor)) static void flint_attention_init(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c")) {
        attn_scores = best_scores = scores_avx2;
        attn_axpy = best_axpy = axpy_f16_avx2;
    }
#endif
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
            attn_scores(qh, k_cache, block_table, block_size, slot_elems, (int64_t)kvh * head_dim, first, pos,
                        head_dim, scale, scratch);
            float maxs = -INFINITY;
            for (int32_t j = first; j <= pos; j++) maxs = scratch[j] > maxs ? scratch[j] : maxs;
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
                attn_axpy(oh, w, vj, head_dim);
            }
        }
    }
}
