// AVX2 activation quantizers for Q8_0 / Q8_1 / Q8_K. Same results as the scalar ones in
// quantize.c, byte for byte: the block maximum is order independent, and
// _mm256_round_ps to nearest is nearbyintf in the default rounding mode.
#include "blocks.h"
#include "quantize_simd.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define FL_AVX2 __attribute__((target("avx2,fma,f16c")))

FL_AVX2 static inline float block_amax(const __m256 v[4]) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1]));
    m = _mm256_max_ps(m, _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/// Rounds 32 scaled floats to int8 (in order) and returns their sum.
FL_AVX2 static inline int round_pack(const __m256 v[4], float id, int8_t *out) {
    const __m256 idv = _mm256_set1_ps(id);
    __m256i i[4];
    FL_UNROLL for (int k = 0; k < 4; k++)
        i[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[k], idv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    const __m256i s = _mm256_add_epi32(_mm256_add_epi32(i[0], i[1]), _mm256_add_epi32(i[2], i[3]));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    s4 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 1));
    // packs work within 128-bit lanes; the permute restores element order.
    const __m256i p16a = _mm256_packs_epi32(i[0], i[1]), p16b = _mm256_packs_epi32(i[2], i[3]);
    const __m256i p8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p16a, p16b), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)out, p8);
    return _mm_cvtsi128_si32(s4);
}

FL_AVX2 void fl_quantize_q8_0_avx2(const float *x, block_q8_0 *y, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, x += QK8_0) {
        const __m256 v[4] = {_mm256_loadu_ps(x), _mm256_loadu_ps(x + 8), _mm256_loadu_ps(x + 16), _mm256_loadu_ps(x + 24)};
        const float amax = block_amax(v);
        const float d = amax / 127.f, id = amax != 0.f ? 127.f / amax : 0.f;
        y[b].d = FL_F2H(d);
        round_pack(v, id, y[b].qs);
    }
}

FL_AVX2 void fl_quantize_q8_1_avx2(const float *x, block_q8_1 *y, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, x += QK8_1) {
        const __m256 v[4] = {_mm256_loadu_ps(x), _mm256_loadu_ps(x + 8), _mm256_loadu_ps(x + 16), _mm256_loadu_ps(x + 24)};
        const float amax = block_amax(v);
        const float d = amax / 127.f, id = amax != 0.f ? 127.f / amax : 0.f;
        y[b].d = FL_F2H(d);
        const int sum = round_pack(v, id, y[b].qs);
        y[b].s = FL_F2H((float)sum * d);
    }
}

// Q8_K (the K-quants' activations), as q_q8_K: the first element of largest magnitude sets
// the sign of the scale, values are rounded to nearest even, and bsums are per 16 values.
FL_AVX2 void fl_quantize_q8_K_avx2(const float *x, block_q8_K *y, int64_t nb) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < nb; b++, x += QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int c = 0; c < QK_K; c += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + c)));
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        const float amax = _mm_cvtss_f32(h);
        if (amax == 0.f) {
            memset(&y[b], 0, sizeof(y[b]));
            continue;
        }
        float max = 0.f;
        const __m256 av = _mm256_set1_ps(amax);
        for (int c = 0; c < QK_K; c += 8) {
            const int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + c)), av, _CMP_EQ_OQ));
            if (hit) { max = x[c + __builtin_ctz((unsigned)hit)]; break; }
        }
        const float iscale = -127.f / max;
        const __m256 is = _mm256_set1_ps(iscale);
        for (int c = 0; c < QK_K; c += 32) {
            __m256i i[4];
            FL_UNROLL for (int k = 0; k < 4; k++)
                i[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(is, _mm256_loadu_ps(x + c + 8 * k)),
                                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
            FL_UNROLL for (int g = 0; g < 2; g++) {  // the values are within +-127: no clamping or saturation happens
                const __m256i s = _mm256_add_epi32(i[2 * g], i[2 * g + 1]);
                __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
                s4 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
                s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 1));
                y[b].bsums[(c >> 4) + g] = (int16_t)_mm_cvtsi128_si32(s4);
            }
            const __m256i p16a = _mm256_packs_epi32(i[0], i[1]), p16b = _mm256_packs_epi32(i[2], i[3]);
            const __m256i p8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p16a, p16b), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(y[b].qs + c), p8);
        }
        y[b].d = 1.f / iscale;
    }
}

#endif
