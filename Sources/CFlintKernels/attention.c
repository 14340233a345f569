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

typedef float (*dot_fn)(const float *, const uint16_t *, int32_t);
typedef void (*axpy_fn)(float *, float, const uint16_t *, int32_t);
static dot_fn attn_dot = dot_f32_f16_scalar;
static axpy_fn attn_axpy = axpy_f16_scalar;

__attribute__((constructor)) static void flint_attention_init(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c")) {
        attn_dot = dot_f32_f16_avx2;
        attn_axpy = axpy_f16_avx2;
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
            float maxs = -INFINITY;
            for (int32_t j = first; j <= pos; j++) {
                const uint16_t *kj = slot_ptr(k_cache, block_table, block_size, j, slot_elems) + (int64_t)kvh * head_dim;
                const float s = attn_dot(qh, kj, head_dim) * scale;
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
                attn_axpy(oh, w, vj, head_dim);
            }
        }
    }
}
