// AVX-512 forms of the attention kernels (attention.c documents the arithmetic; every form
// here gives the scalar reference's bits).
#if defined(__x86_64__) || defined(__i386__)
#include "attention_impl.h"
#include <immintrin.h>

#pragma STDC FP_CONTRACT OFF
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512dq,avx512vl"))), apply_to = function)

static inline float r16_zmm(__m512 x) {
    const __m256 t = _mm256_add_ps(_mm512_castps512_ps256(x), _mm512_extractf32x8_ps(x, 1));
    const __m128 u = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
    const __m128 v = _mm_add_ps(u, _mm_movehl_ps(u, u));  // u0 + u2, u1 + u3
    return _mm_cvtss_f32(_mm_add_ss(v, _mm_movehdup_ps(v)));
}

static inline __m512 ld16(const uint16_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }

static float dot_one_row_avx512(const float *q, const uint16_t *k, int32_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    const int32_t np = n & ~63;
    for (int32_t i = 0; i < np; i += 64) {
        s0 = _mm512_fmadd_ps(ld16(k + i), _mm512_loadu_ps(q + i), s0);
        s1 = _mm512_fmadd_ps(ld16(k + i + 16), _mm512_loadu_ps(q + i + 16), s1);
        s2 = _mm512_fmadd_ps(ld16(k + i + 32), _mm512_loadu_ps(q + i + 32), s2);
        s3 = _mm512_fmadd_ps(ld16(k + i + 48), _mm512_loadu_ps(q + i + 48), s3);
    }
    double sum = r16_zmm(_mm512_add_ps(_mm512_add_ps(s0, s2), _mm512_add_ps(s1, s3)));
    for (int32_t i = np; i < n; i++) sum += (double)(_cvtsh_ss(k[i]) * q[i]);
    return (float)sum;
}

static float dot_prompt_avx512(const float *q, const uint16_t *k, int32_t n) {
    if (n & 15) return dot_one_row_avx512(q, k, n);
    __m512 s = _mm512_setzero_ps();
    for (int32_t i = 0; i < n; i += 16) s = _mm512_fmadd_ps(ld16(k + i), _mm512_loadu_ps(q + i), s);
    return r16_zmm(s);
}

// The 16 lanes the dot product of key k ends with (before R16): the prompt kernel's one
// accumulator, or the one-row kernel's four combined as (0 + 2) + (1 + 3).
static inline __m512 dot_lanes(const float *q, const uint16_t *k, int32_t n, int prompt) {
    if (prompt) {
        __m512 s = _mm512_setzero_ps();
        for (int32_t i = 0; i < n; i += 16) s = _mm512_fmadd_ps(ld16(k + i), _mm512_loadu_ps(q + i), s);
        return s;
    }
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (int32_t i = 0; i < n; i += 64) {
        s0 = _mm512_fmadd_ps(ld16(k + i), _mm512_loadu_ps(q + i), s0);
        s1 = _mm512_fmadd_ps(ld16(k + i + 16), _mm512_loadu_ps(q + i + 16), s1);
        s2 = _mm512_fmadd_ps(ld16(k + i + 32), _mm512_loadu_ps(q + i + 32), s2);
        s3 = _mm512_fmadd_ps(ld16(k + i + 48), _mm512_loadu_ps(q + i + 48), s3);
    }
    return _mm512_add_ps(_mm512_add_ps(s0, s2), _mm512_add_ps(s1, s3));
}

// R16 of 16 vectors at once: element k of the result is r16_zmm(x[k]), with the same
// additions (halves, quarters, then (u0 + u2) + (u1 + u3); fp addition is commutative).
static inline __m512 r16_x16(const __m512 x[16]) {
    __m512 y[8], z[4], w[4];
    FL_UNROLL for (int m = 0; m < 8; m++)  // lanes 0-7: halves of x[2m], 8-15: of x[2m+1]
        y[m] = _mm512_add_ps(_mm512_shuffle_f32x4(x[2 * m], x[2 * m + 1], 0x44), _mm512_shuffle_f32x4(x[2 * m], x[2 * m + 1], 0xEE));
    FL_UNROLL for (int p = 0; p < 4; p++)  // 128-bit lane c: quarters of x[4p + c]
        z[p] = _mm512_add_ps(_mm512_shuffle_f32x4(y[2 * p], y[2 * p + 1], 0x88), _mm512_shuffle_f32x4(y[2 * p], y[2 * p + 1], 0xDD));
    FL_UNROLL for (int p = 0; p < 4; p++) {  // element 4c: (u0 + u2) + (u1 + u3) of x[4p + c]
        const __m512 v = _mm512_add_ps(z[p], _mm512_permute_ps(z[p], 0x4E));
        w[p] = _mm512_add_ps(v, _mm512_permute_ps(v, 0xB1));
    }
    const __m512i pick = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
    const __m512 w01 = _mm512_permutex2var_ps(w[0], pick, w[1]), w23 = _mm512_permutex2var_ps(w[2], pick, w[3]);
    return _mm512_shuffle_f32x4(w01, w23, 0x44);
}

// Scores 16 keys at a time with one transposed R16 (same bits as the per-key kernels, whose
// double sum of a lone R16 value is exact); head sizes with a remainder take the per-key path.
static void scores_avx512(const float *q, const uint16_t *k_cache, const int32_t *slots, int64_t slot_elems,
                                    int64_t head_offset, int32_t first, int32_t last, int32_t head_dim, float scale,
                                    int prompt, float *scratch) {
    if (head_dim & (prompt ? 15 : 63)) {
        for (int32_t j = first; j <= last; j++) {
            const uint16_t *kj = fl_key_ptr(k_cache, slots, j, slot_elems, head_offset);
            scratch[j] = (prompt ? dot_prompt_avx512(q, kj, head_dim) : dot_one_row_avx512(q, kj, head_dim)) * scale;
        }
        return;
    }
    const __m512 sv = _mm512_set1_ps(scale);
    for (int32_t j0 = first; j0 <= last; j0 += 16) {
        const int nk = last - j0 + 1 < 16 ? last - j0 + 1 : 16;
        __m512 x[16];
        FL_UNROLL for (int k = 0; k < 16; k++)
            x[k] = k < nk ? dot_lanes(q, fl_key_ptr(k_cache, slots, j0 + k, slot_elems, head_offset), head_dim, prompt)
                          : _mm512_setzero_ps();
        _mm512_mask_storeu_ps(scratch + j0, (__mmask16)((1u << nk) - 1), _mm512_mul_ps(r16_x16(x), sv));
    }
}

static double softmax_avx512(float *x, int32_t first, int32_t last) {
    __m512 mx = _mm512_set1_ps(-INFINITY);
    int32_t j = first;
    for (; j + 16 <= last + 1; j += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(x + j));
    float maxs = _mm512_reduce_max_ps(mx);
    for (; j <= last; j++) maxs = x[j] > maxs ? x[j] : maxs;
    const __m512 mv = _mm512_set1_ps(maxs);
    double sum = 0.0;
    for (int32_t g = first & ~15; g <= last; g += 16) {
        // lanes outside first..last are masked keys: exp gives 0 there
        const int32_t lo = first > g ? first - g : 0, hi = last - g < 15 ? last - g : 15;
        const __mmask16 m = (__mmask16)(((1u << (hi + 1)) - 1) & ~((1u << lo) - 1));
        const __m512 xv = _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), m, x + g);
        const __m512 e = ggml_expf_zmm(_mm512_sub_ps(xv, mv));
        _mm512_mask_storeu_ps(x + g, m, e);
        sum += (double)r16_zmm(e);
    }
    return sum;
}

static void kqv_accumulate_avx512(float *acc, int32_t lanes, const float *w, const uint16_t *v_cache,
                                            const int32_t *slots, int64_t slot_elems, int64_t head_offset,
                                            int32_t first, int32_t last, int32_t head_dim) {
    if (head_dim & 15) {
        fl_attn_kqv_scalar(acc, lanes, w, v_cache, slots, slot_elems, head_offset, first, last, head_dim);
        return;
    }
    for (int32_t j = first; j <= last; j++) {
        const uint16_t *vj = fl_key_ptr(v_cache, slots, j, slot_elems, head_offset);
        float *a = acc + (int64_t)(j % lanes) * head_dim;
        const __m512 wv = _mm512_set1_ps(w[j]);
        for (int32_t d = 0; d < head_dim; d += 16)
            _mm512_storeu_ps(a + d, _mm512_fmadd_ps(ld16(vj + d), wv, _mm512_loadu_ps(a + d)));
    }
}

// The prompt KQV with the 16 lane accumulators of 16 head dimensions in registers: keys in
// aligned groups of 16 (key j to lane j % 16), keys of a group outside first..last as a zero
// value row with weight 0, which adds +0 (an accumulator is never -0: it starts at +0, and
// fma rounds an exact zero sum to +0). Then kqv_finish's additions. Same bits as
// kqv_accumulate + kqv_finish with 16 lanes.
static int kqv_prompt_avx512(float *out, const float *w, const uint16_t *v_cache, const int32_t *slots,
                                       int64_t slot_elems, int64_t head_offset, int32_t first, int32_t last,
                                       int32_t head_dim) {
    static const uint16_t zeros[FLINT_ATTENTION_MAX_HEAD_DIM];
    // Each pass over the keys reads 32 bytes of every value row; past 128 dimensions the
    // rows' other bytes leave L1 before their pass comes, and the in-memory accumulators of
    // kqv_accumulate win (measured with Gemma 3's 256).
    if (head_dim & 15 || head_dim > 128) return 0;
    const int32_t g0 = first & ~15;
    for (int32_t d = 0; d < head_dim; d += 16) {
        __m512 t[16];
        FL_UNROLL for (int l = 0; l < 16; l++) t[l] = _mm512_setzero_ps();
        for (int32_t g = g0; g <= last; g += 16) {
            if (g >= first && g + 15 <= last) {
                FL_UNROLL for (int l = 0; l < 16; l++)
                    t[l] = _mm512_fmadd_ps(ld16(fl_key_ptr(v_cache, slots, g + l, slot_elems, head_offset) + d),
                                           _mm512_set1_ps(w[g + l]), t[l]);
            } else {
                FL_UNROLL for (int l = 0; l < 16; l++) {
                    const int32_t j = g + l;
                    const int in = j >= first && j <= last;
                    const uint16_t *vj = in ? fl_key_ptr(v_cache, slots, j, slot_elems, head_offset) : zeros;
                    t[l] = _mm512_fmadd_ps(ld16(vj + d), _mm512_set1_ps(in ? w[j] : 0.0f), t[l]);
                }
            }
        }
        FL_UNROLL for (int l = 0; l < 8; l++) t[l] = _mm512_add_ps(t[l], t[l + 8]);
        FL_UNROLL for (int l = 0; l < 4; l++) t[l] = _mm512_add_ps(t[l], t[l + 4]);
        _mm512_storeu_ps(out + d, _mm512_add_ps(_mm512_add_ps(t[0], t[2]), _mm512_add_ps(t[1], t[3])));
    }
    return 1;
}

// The one-row KQV (64 lanes: key j to lane j % 64, lanes 16a..16a+15 the one-row kernel's
// accumulator a) with the finish, 16 head dimensions at a time, for keys spanning several
// rounds of 64: each accumulator's 16 lanes in registers over the keys, 16 consecutive keys
// at a time (a stream the hardware prefetcher follows through a long context), combined as
// kqv_finish does ((0 + 2) + (1 + 3), then R16 over the lanes). Keys of a round outside
// first..last count as a zero row with weight 0 (adds +0, see kqv_prompt_avx512). Same bits
// as kqv_accumulate + kqv_finish with 64 lanes. (The key loop repeats kqv_prompt_avx512's on
// purpose: a shared helper taking the lane array left the lanes in memory and cost ~8% of a
// batched decode step.)
static void kqv_decode_rounds_avx512(float *out, const float *w, const uint16_t *v_cache, const int32_t *slots,
                                               int64_t slot_elems, int64_t head_offset, int32_t first, int32_t last,
                                               int32_t head_dim) {
    static const uint16_t zeros[FLINT_ATTENTION_MAX_HEAD_DIM];
    const int32_t g0 = first & ~63;
    for (int32_t d = 0; d < head_dim; d += 16) {
        __m512 sum02[16], sum13[16];
        static const int order[4] = {0, 2, 1, 3};
        FL_UNROLL for (int oi = 0; oi < 4; oi++) {
            const int a = order[oi];
            __m512 t[16];
            FL_UNROLL for (int l = 0; l < 16; l++) t[l] = _mm512_setzero_ps();
            for (int32_t g = g0 + 16 * a; g <= last; g += 64) {
                if (g >= first && g + 15 <= last) {
                    FL_UNROLL for (int l = 0; l < 16; l++)
                        t[l] = _mm512_fmadd_ps(ld16(fl_key_ptr(v_cache, slots, g + l, slot_elems, head_offset) + d),
                                               _mm512_set1_ps(w[g + l]), t[l]);
                } else {
                    FL_UNROLL for (int l = 0; l < 16; l++) {
                        const int32_t j = g + l;
                        const int in = j >= first && j <= last;
                        const uint16_t *vj = in ? fl_key_ptr(v_cache, slots, j, slot_elems, head_offset) : zeros;
                        t[l] = _mm512_fmadd_ps(ld16(vj + d), _mm512_set1_ps(in ? w[j] : 0.0f), t[l]);
                    }
                }
            }
            FL_UNROLL for (int l = 0; l < 16; l++) {
                if (a == 0) sum02[l] = t[l];
                else if (a == 2) sum02[l] = _mm512_add_ps(sum02[l], t[l]);
                else if (a == 1) sum13[l] = t[l];
                else sum02[l] = _mm512_add_ps(sum02[l], _mm512_add_ps(sum13[l], t[l]));
            }
        }
        FL_UNROLL for (int l = 0; l < 8; l++) sum02[l] = _mm512_add_ps(sum02[l], sum02[l + 8]);
        FL_UNROLL for (int l = 0; l < 4; l++) sum02[l] = _mm512_add_ps(sum02[l], sum02[l + 4]);
        _mm512_storeu_ps(out + d, _mm512_add_ps(_mm512_add_ps(sum02[0], sum02[2]), _mm512_add_ps(sum02[1], sum02[3])));
    }
}

// The same for keys within one round of 64 (short contexts: most of a batched decode's rows
// early on), where the four accumulators of a lane are single products: lane l's four are
// built one after the other and combined at once, so only 16 sums are live (the form above
// spills its 48 registers, which costs more than the keys themselves here).
static int kqv_decode_avx512(float *out, const float *w, const uint16_t *v_cache, const int32_t *slots,
                                       int64_t slot_elems, int64_t head_offset, int32_t first, int32_t last,
                                       int32_t head_dim) {
    static const uint16_t zeros[FLINT_ATTENTION_MAX_HEAD_DIM];
    if (head_dim & 15) return 0;
    const int32_t g0 = first & ~63;
    if (last - g0 >= 64) {
        kqv_decode_rounds_avx512(out, w, v_cache, slots, slot_elems, head_offset, first, last, head_dim);
        return 1;
    }
    for (int32_t d = 0; d < head_dim; d += 16) {
        __m512 s[16];
        FL_UNROLL for (int l = 0; l < 16; l++) {
            __m512 t[4];
            FL_UNROLL for (int a = 0; a < 4; a++) {
                __m512 c = _mm512_setzero_ps();
                const int32_t j = g0 + 16 * a + l;
                if (j - l <= last) {  /* the round exists for this accumulator */
                    const int in = j >= first && j <= last;
                    const uint16_t *vj = in ? fl_key_ptr(v_cache, slots, j, slot_elems, head_offset) : zeros;
                    c = _mm512_fmadd_ps(ld16(vj + d), _mm512_set1_ps(in ? w[j] : 0.0f), c);
                }
                t[a] = c;
            }
            s[l] = _mm512_add_ps(_mm512_add_ps(t[0], t[2]), _mm512_add_ps(t[1], t[3]));
        }
        FL_UNROLL for (int l = 0; l < 8; l++) s[l] = _mm512_add_ps(s[l], s[l + 8]);
        FL_UNROLL for (int l = 0; l < 4; l++) s[l] = _mm512_add_ps(s[l], s[l + 4]);
        _mm512_storeu_ps(out + d, _mm512_add_ps(_mm512_add_ps(s[0], s[2]), _mm512_add_ps(s[1], s[3])));
    }
    return 1;
}

// vcvtps2ph rounds to nearest even, as fl_f2h does (NaNs stay NaNs).
static void store_f16_avx512(uint16_t *dst, const float *src, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    fl_attn_store_f16_scalar(dst + i, src + i, n - i);
}

static void round_f16_avx512(float *dst, const float *src, float scale, int32_t n) {
    const __m512 sv = _mm512_set1_ps(scale);
    int32_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_mul_ps(_mm512_loadu_ps(src + i), sv),
                                                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
    fl_attn_round_f16_scalar(dst + i, src + i, scale, n - i);
}

// kqv_finish_scalar's additions, 16 head dimensions at a time.
static void kqv_finish_avx512(float *acc, int32_t lanes, int32_t head_dim, float *out) {
    if (head_dim & 15) {
        fl_attn_finish_scalar(acc, lanes, head_dim, out);
        return;
    }
    for (int32_t d = 0; d < head_dim; d += 16) {
        __m512 t[16];
        const float *a = acc + d;
        if (lanes == 64)
            FL_UNROLL for (int l = 0; l < 16; l++)
                t[l] = _mm512_add_ps(_mm512_add_ps(_mm512_loadu_ps(a + (int64_t)l * head_dim), _mm512_loadu_ps(a + (int64_t)(l + 32) * head_dim)),
                                     _mm512_add_ps(_mm512_loadu_ps(a + (int64_t)(l + 16) * head_dim), _mm512_loadu_ps(a + (int64_t)(l + 48) * head_dim)));
        else
            FL_UNROLL for (int l = 0; l < 16; l++) t[l] = _mm512_loadu_ps(a + (int64_t)l * head_dim);
        FL_UNROLL for (int l = 0; l < 8; l++) t[l] = _mm512_add_ps(t[l], t[l + 8]);
        FL_UNROLL for (int l = 0; l < 4; l++) t[l] = _mm512_add_ps(t[l], t[l + 4]);
        _mm512_storeu_ps(out + d, _mm512_add_ps(_mm512_add_ps(t[0], t[2]), _mm512_add_ps(t[1], t[3])));
    }
}

// Elements d..d+15 of a cached row, widened: F16, or Q8_0 (scale times int8, one rounding,
// as ggml dequantizes and as widen_row_scalar does).
static inline __m512 ld_row16(const uint16_t *row, int32_t d, int q8) {
    if (!q8) return ld16(row + d);
    const block_q8_0 *b = (const block_q8_0 *)row + d / 32;
    const __m512 x = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b->qs + d % 32))));
    return _mm512_mul_ps(x, _mm512_set1_ps(_cvtsh_ss(b->d)));
}

static inline __attribute__((always_inline)) void widen_keys_of(float *kf, const uint16_t *cache, int q8,
                                                                const int32_t *slots, int64_t head_offset, int32_t kb,
                                                                int32_t nb, int32_t lo, int32_t head_dim) {
    const int64_t row_elems = fl_kv_row_elems(q8 ? FLINT_KV_Q8_0 : FLINT_KV_F16, head_dim);
    for (int32_t i = 0; i < nb; i++) {
        float *dst = kf + (int64_t)i * head_dim;
        const uint16_t *src = fl_key_ptr(cache, slots, kb + i, row_elems, head_offset);
        for (int32_t d = 0; d < head_dim; d += 16)
            _mm512_storeu_ps(dst + d, kb + i < lo ? _mm512_setzero_ps() : ld_row16(src, d, q8));
    }
}

static void widen_keys_avx512(float *kf, const uint16_t *cache, int32_t kv_type, const int32_t *slots,
                              int64_t head_offset, int32_t kb, int32_t nb, int32_t lo, int32_t head_dim) {
    if (head_dim & 15) return;  // attention.c tiles no other head sizes
    if (kv_type == FLINT_KV_Q8_0) widen_keys_of(kf, cache, 1, slots, head_offset, kb, nb, lo, head_dim);
    else widen_keys_of(kf, cache, 0, slots, head_offset, kb, nb, lo, head_dim);
}

// 16 rows of 16 floats to 16 columns: c[k] element i = r[i] element k (unpack pairs of
// rows, gather each 128-bit lane's columns of four rows, then the four rows' lanes).
static inline void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
    FL_UNROLL for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    FL_UNROLL for (int i = 0; i < 4; i++) {  // u[4i + k], 128-bit lane L: rows 4i..4i+3 at column 4L + k
        u[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    FL_UNROLL for (int k = 0; k < 4; k++) {
        const __m512 v = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x44), w = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x44);
        const __m512 v2 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xEE), w2 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xEE);
        r[k] = _mm512_shuffle_f32x4(v, w, 0x88);
        r[4 + k] = _mm512_shuffle_f32x4(v, w, 0xDD);
        r[8 + k] = _mm512_shuffle_f32x4(v2, w2, 0x88);
        r[12 + k] = _mm512_shuffle_f32x4(v2, w2, 0xDD);
    }
}

static inline __attribute__((always_inline)) void widen_values_of(float *vt, const uint16_t *cache, int q8,
                                                                  const int32_t *slots, int64_t head_offset, int32_t kb,
                                                                  int32_t nb, int32_t lo, int32_t head_dim) {
    const int64_t row_elems = fl_kv_row_elems(q8 ? FLINT_KV_Q8_0 : FLINT_KV_F16, head_dim);
    for (int32_t g = 0; g < nb; g += 16)
        for (int32_t d = 0; d < head_dim; d += 16) {
            __m512 r[16];
            FL_UNROLL for (int i = 0; i < 16; i++) {
                const int in = kb + g + i >= lo && g + i < nb;
                r[i] = in ? ld_row16(fl_key_ptr(cache, slots, kb + g + i, row_elems, head_offset), d, q8) : _mm512_setzero_ps();
            }
            transpose16(r);
            float *dst = vt + ((int64_t)(g / 16) * head_dim + d) * 16;
            FL_UNROLL for (int k = 0; k < 16; k++) _mm512_storeu_ps(dst + k * 16, r[k]);
        }
}

static void widen_values_avx512(float *vt, const uint16_t *cache, int32_t kv_type, const int32_t *slots,
                                int64_t head_offset, int32_t kb, int32_t nb, int32_t lo, int32_t head_dim) {
    if (head_dim & 15) return;
    if (kv_type == FLINT_KV_Q8_0) widen_values_of(vt, cache, 1, slots, head_offset, kb, nb, lo, head_dim);
    else widen_values_of(vt, cache, 0, slots, head_offset, kb, nb, lo, head_dim);
}

// The tile forms (isa.h), head sizes a multiple of 16 (attention.c takes no others), each
// compiled for the catalog's head sizes so the head-dimension loops unroll.
static inline __attribute__((always_inline)) void tile_scores_hd(const float *qh, int32_t rows, const int32_t *first,
                                                                 const int32_t *last, const float *kf, int32_t kb,
                                                                 int32_t nb, const int32_t hd, float scale, float *s,
                                                                 int64_t ld) {
    const __m512 sv = _mm512_set1_ps(scale);
    for (int32_t r = 0; r < rows; r++) {
        const int32_t lo = first[r] > kb ? first[r] : kb, hi = last[r] < kb + nb - 1 ? last[r] : kb + nb - 1;
        const float *q = qh + (int64_t)r * hd;
        for (int32_t j0 = lo; j0 <= hi; j0 += 16) {
            const int nk = hi - j0 + 1 < 16 ? hi - j0 + 1 : 16;
            const float *k0 = kf + (int64_t)(j0 - kb) * hd;
            __m512 x[16];
            FL_UNROLL for (int k = 0; k < 16; k++) x[k] = _mm512_setzero_ps();
            // 16 dimensions of the query at a time against the 16 keys: 17 registers live
            // whatever the head size, one load per product (each lane's sum still runs over
            // the dimensions in order).
            if (nk == 16) {
                for (int32_t c = 0; c < hd; c += 16) {
                    const __m512 qc = _mm512_loadu_ps(q + c);
                    FL_UNROLL for (int k = 0; k < 16; k++) x[k] = _mm512_fmadd_ps(_mm512_loadu_ps(k0 + k * hd + c), qc, x[k]);
                }
            } else {
                for (int32_t c = 0; c < hd; c += 16) {
                    const __m512 qc = _mm512_loadu_ps(q + c);
                    FL_UNROLL for (int k = 0; k < 16; k++)
                        if (k < nk) x[k] = _mm512_fmadd_ps(_mm512_loadu_ps(k0 + k * hd + c), qc, x[k]);
                }
            }
            _mm512_mask_storeu_ps(s + r * ld + j0, (__mmask16)((1u << nk) - 1), _mm512_mul_ps(r16_x16(x), sv));
        }
    }
}

static void tile_scores_avx512(const float *qh, int32_t rows, const int32_t *first, const int32_t *last,
                               const float *kf, int32_t kb, int32_t nb, int32_t head_dim, float scale, float *s,
                               int64_t ld) {
    switch (head_dim) {
    case 64: tile_scores_hd(qh, rows, first, last, kf, kb, nb, 64, scale, s, ld); break;
    case 128: tile_scores_hd(qh, rows, first, last, kf, kb, nb, 128, scale, s, ld); break;
    case 256: tile_scores_hd(qh, rows, first, last, kf, kb, nb, 256, scale, s, ld); break;
    default: tile_scores_hd(qh, rows, first, last, kf, kb, nb, head_dim, scale, s, ld); break;
    }
}

// Per 16 head dimensions and query: the dimensions' 16-lane accumulators in registers over
// the block's keys, a group of 16 keys at a time: one load of the group's probabilities,
// one transposed value vector per dimension (key j in lane j % 16, as the per-row forms).
// Dimensions outermost: the block's slice of 16 dimensions (64 bytes a key) stays in L1
// while every query of the tile reads it. Keys of a group outside the query's range get
// probability 0: the product is +-0, which leaves an accumulator's bits as they are (it is
// never -0). (Pairs of queries sharing each value load measured 5% slower: the second
// query's 16 accumulators no longer fit the registers with 16 dimensions, and 8 dimensions
// double the passes over the probabilities.)
static inline __attribute__((always_inline)) void tile_kqv_hd(float *acc, int32_t rows, const int32_t *first,
                                                              const int32_t *last, const float *w, int64_t ld,
                                                              const float *vt, int32_t kb, int32_t nb, const int32_t hd) {
    for (int32_t d = 0; d < hd; d += 16)
        for (int32_t r = 0; r < rows; r++) {
            const int32_t lo = first[r] > kb ? first[r] : kb, hi = last[r] < kb + nb - 1 ? last[r] : kb + nb - 1;
            if (lo > hi) continue;
            const float *wr = w + r * ld;
            float *a = acc + ((int64_t)r * hd + d) * 16;
            __m512 t[16];
            FL_UNROLL for (int i = 0; i < 16; i++) t[i] = _mm512_loadu_ps(a + i * 16);
            for (int32_t g = lo & ~15; g <= hi; g += 16) {
                const int l0 = lo > g ? lo - g : 0, l1 = hi - g < 15 ? hi - g : 15;
                const __m512 wv = _mm512_maskz_loadu_ps((__mmask16)(((1u << (l1 + 1)) - 1) & ~((1u << l0) - 1)), wr + g);
                const float *vg = vt + ((int64_t)(g - kb) / 16 * hd + d) * 16;
                FL_UNROLL for (int i = 0; i < 16; i++) t[i] = _mm512_fmadd_ps(_mm512_loadu_ps(vg + i * 16), wv, t[i]);
            }
            FL_UNROLL for (int i = 0; i < 16; i++) _mm512_storeu_ps(a + i * 16, t[i]);
        }
}

static void tile_kqv_avx512(float *acc, int32_t rows, const int32_t *first, const int32_t *last, const float *w,
                            int64_t ld, const float *vt, int32_t kb, int32_t nb, int32_t head_dim) {
    switch (head_dim) {
    case 64: tile_kqv_hd(acc, rows, first, last, w, ld, vt, kb, nb, 64); break;
    case 128: tile_kqv_hd(acc, rows, first, last, w, ld, vt, kb, nb, 128); break;
    case 256: tile_kqv_hd(acc, rows, first, last, w, ld, vt, kb, nb, 256); break;
    default: tile_kqv_hd(acc, rows, first, last, w, ld, vt, kb, nb, head_dim); break;
    }
}

void fl_attention_fill_avx512(fl_isa_table *t) {
    t->attn = (fl_attention_ops){scores_avx512, softmax_avx512, kqv_accumulate_avx512, kqv_finish_avx512,
                                 round_f16_avx512, store_f16_avx512, kqv_prompt_avx512, kqv_decode_avx512,
                                 widen_keys_avx512, widen_values_avx512, tile_scores_avx512, tile_kqv_avx512};
}

#pragma clang attribute pop
#else
#include "isa.h"
#endif
