// AVX2 forms of the attention kernels (attention.c documents the arithmetic). llama.cpp's
// 16-lane vectors (its AVX-512 build, which the reference logits come from) are kept as
// pairs of 8-lane halves: lane l < 8 in the low ymm, lane l + 8 in the high one. Every
// operation of a lane is the one the scalar reference does, in the same order, so every
// form here gives the scalar reference's bits.
#if defined(__x86_64__) || defined(__i386__)
#include "attention_impl.h"
#include <immintrin.h>

#pragma STDC FP_CONTRACT OFF
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

static inline __m256 ld8(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

// R16 of a 16-lane vector given as its halves' sum t (t[i] = x[i] + x[i + 8]): quarters,
// then (u0 + u2) + (u1 + u3).
static inline float r16_half_sum(__m256 t) {
    const __m128 u = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
    const __m128 v = _mm_add_ps(u, _mm_movehl_ps(u, u));
    return _mm_cvtss_f32(_mm_add_ss(v, _mm_movehdup_ps(v)));
}

// The halves' sums of the 16 lanes a key's dot product ends with (before R16): the prompt
// kernel's one accumulator, or the one-row kernel's four combined as (0 + 2) + (1 + 3).
static inline __m256 dot_half_sum(const float *q, const uint16_t *k, int32_t n, int prompt) {
    if (prompt) {
        __m256 lo = _mm256_setzero_ps(), hi = lo;
        for (int32_t i = 0; i < n; i += 16) {
            lo = _mm256_fmadd_ps(ld8(k + i), _mm256_loadu_ps(q + i), lo);
            hi = _mm256_fmadd_ps(ld8(k + i + 8), _mm256_loadu_ps(q + i + 8), hi);
        }
        return _mm256_add_ps(lo, hi);
    }
    __m256 s[8];
    FL_UNROLL for (int a = 0; a < 8; a++) s[a] = _mm256_setzero_ps();
    for (int32_t i = 0; i < n; i += 64)
        FL_UNROLL for (int a = 0; a < 8; a++) s[a] = _mm256_fmadd_ps(ld8(k + i + 8 * a), _mm256_loadu_ps(q + i + 8 * a), s[a]);
    // accumulator a of the one-row kernel is s[2a] (low half), s[2a + 1] (high half)
    const __m256 lo = _mm256_add_ps(_mm256_add_ps(s[0], s[4]), _mm256_add_ps(s[2], s[6]));
    const __m256 hi = _mm256_add_ps(_mm256_add_ps(s[1], s[5]), _mm256_add_ps(s[3], s[7]));
    return _mm256_add_ps(lo, hi);
}

// One key whose head size the vectors do not divide: the lanes as above over the leading
// multiple, the rest one by one in double (the one-row kernel; the prompt kernel falls back
// to it for such sizes).
static float dot_one_row_avx2(const float *q, const uint16_t *k, int32_t n) {
    const int32_t np = n & ~63;
    double sum = r16_half_sum(dot_half_sum(q, k, np, 0));
    for (int32_t i = np; i < n; i++) sum += (double)(_cvtsh_ss(k[i]) * q[i]);
    return (float)sum;
}

// R16 of 8 keys at once from their halves' sums t[k]: element k of the result is
// r16_half_sum(t[k]) with the same additions.
static inline __m256 r16_x8(const __m256 t[8]) {
    __m256 u[4], v[2];
    FL_UNROLL for (int p = 0; p < 4; p++)  // 128-bit lane 0: quarters of key 2p, lane 1: of key 2p + 1
        u[p] = _mm256_add_ps(_mm256_permute2f128_ps(t[2 * p], t[2 * p + 1], 0x20),
                             _mm256_permute2f128_ps(t[2 * p], t[2 * p + 1], 0x31));
    FL_UNROLL for (int p = 0; p < 2; p++)  // per 128-bit lane: u0 + u2, u1 + u3 of two keys
        v[p] = _mm256_add_ps(_mm256_shuffle_ps(u[2 * p], u[2 * p + 1], 0x44), _mm256_shuffle_ps(u[2 * p], u[2 * p + 1], 0xEE));
    // lane 0 holds keys 0, 2, 4, 6, lane 1 keys 1, 3, 5, 7
    const __m256 w = _mm256_add_ps(_mm256_shuffle_ps(v[0], v[1], 0x88), _mm256_shuffle_ps(v[0], v[1], 0xDD));
    return _mm256_permutevar8x32_ps(w, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

static void scores_avx2(const float *q, const uint16_t *k_cache, const int32_t *slots, int64_t slot_elems,
                        int64_t head_offset, int32_t first, int32_t last, int32_t head_dim, float scale, int prompt,
                        float *scratch) {
    if (head_dim & (prompt ? 15 : 63)) {
        for (int32_t j = first; j <= last; j++)
            scratch[j] = dot_one_row_avx2(q, fl_key_ptr(k_cache, slots, j, slot_elems, head_offset), head_dim) * scale;
        return;
    }
    const __m256 sv = _mm256_set1_ps(scale);
    for (int32_t j0 = first; j0 <= last; j0 += 8) {
        const int nk = last - j0 + 1 < 8 ? last - j0 + 1 : 8;
        __m256 t[8];
        FL_UNROLL for (int k = 0; k < 8; k++)
            t[k] = k < nk ? dot_half_sum(q, fl_key_ptr(k_cache, slots, j0 + k, slot_elems, head_offset), head_dim, prompt)
                          : _mm256_setzero_ps();
        const __m256 s = _mm256_mul_ps(r16_x8(t), sv);
        if (nk == 8) _mm256_storeu_ps(scratch + j0, s);
        else _mm256_maskstore_ps(scratch + j0, _mm256_cmpgt_epi32(_mm256_set1_epi32(nk), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), s);
    }
}

static inline __m256i lane_mask(int lo, int hi) {  // lanes lo..hi
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(lo - 1)), _mm256_cmpgt_epi32(_mm256_set1_epi32(hi + 1), idx));
}

static double softmax_avx2(float *x, int32_t first, int32_t last) {
    __m256 mx = _mm256_set1_ps(-INFINITY);
    int32_t j = first;
    for (; j + 8 <= last + 1; j += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(x + j));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    float maxs = _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
    for (; j <= last; j++) maxs = x[j] > maxs ? x[j] : maxs;
    const __m256 mv = _mm256_set1_ps(maxs), ninf = _mm256_set1_ps(-INFINITY);
    double sum = 0.0;
    for (int32_t g = first & ~15; g <= last; g += 16) {
        // lanes outside first..last are masked keys: exp gives 0 there
        __m256 e[2];
        FL_UNROLL for (int half = 0; half < 2; half++) {
            const int32_t b = g + 8 * half;
            const int lo = first > b ? first - b : 0, hi = last - b < 7 ? last - b : 7;
            if (hi < lo) { e[half] = _mm256_setzero_ps(); continue; }
            const __m256i m = lane_mask(lo, hi);
            const __m256 xv = _mm256_blendv_ps(ninf, _mm256_maskload_ps(x + b, m), _mm256_castsi256_ps(m));
            e[half] = ggml_expf_ymm(_mm256_sub_ps(xv, mv));
            _mm256_maskstore_ps(x + b, m, e[half]);
        }
        sum += (double)r16_half_sum(_mm256_add_ps(e[0], e[1]));
    }
    return sum;
}

static void kqv_accumulate_avx2(float *acc, int32_t lanes, const float *w, const uint16_t *v_cache, const int32_t *slots,
                                int64_t slot_elems, int64_t head_offset, int32_t first, int32_t last, int32_t head_dim) {
    if (head_dim & 7) {
        fl_attn_kqv_scalar(acc, lanes, w, v_cache, slots, slot_elems, head_offset, first, last, head_dim);
        return;
    }
    for (int32_t j = first; j <= last; j++) {
        const uint16_t *vj = fl_key_ptr(v_cache, slots, j, slot_elems, head_offset);
        float *a = acc + (int64_t)(j % lanes) * head_dim;
        const __m256 wv = _mm256_set1_ps(w[j]);
        for (int32_t d = 0; d < head_dim; d += 8)
            _mm256_storeu_ps(a + d, _mm256_fmadd_ps(ld8(vj + d), wv, _mm256_loadu_ps(a + d)));
    }
}

// R16 over lanes 0..15 of s (8 head dimensions each) given as the halves' sums s[l] =
// lane l + lane l + 8: quarters, then (0 + 2) + (1 + 3).
static inline __m256 r16_lanes(const __m256 s[8]) {
    const __m256 t0 = _mm256_add_ps(s[0], s[4]), t1 = _mm256_add_ps(s[1], s[5]);
    const __m256 t2 = _mm256_add_ps(s[2], s[6]), t3 = _mm256_add_ps(s[3], s[7]);
    return _mm256_add_ps(_mm256_add_ps(t0, t2), _mm256_add_ps(t1, t3));
}

static void kqv_finish_avx2(float *acc, int32_t lanes, int32_t head_dim, float *out) {
    if (head_dim & 7) {
        fl_attn_finish_scalar(acc, lanes, head_dim, out);
        return;
    }
    for (int32_t d = 0; d < head_dim; d += 8) {
        __m256 t[16], s[8];
        const float *a = acc + d;
        if (lanes == 64)
            FL_UNROLL for (int l = 0; l < 16; l++)
                t[l] = _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(a + (int64_t)l * head_dim), _mm256_loadu_ps(a + (int64_t)(l + 32) * head_dim)),
                                     _mm256_add_ps(_mm256_loadu_ps(a + (int64_t)(l + 16) * head_dim), _mm256_loadu_ps(a + (int64_t)(l + 48) * head_dim)));
        else
            FL_UNROLL for (int l = 0; l < 16; l++) t[l] = _mm256_loadu_ps(a + (int64_t)l * head_dim);
        FL_UNROLL for (int l = 0; l < 8; l++) s[l] = _mm256_add_ps(t[l], t[l + 8]);
        _mm256_storeu_ps(out + d, r16_lanes(s));
    }
}

// The weighted sum of 8 lanes' keys over rounds: keys g + l (l < 8) for g = g0, g0 + stride,
// ... <= last, into t[l]; keys outside first..last count as a zero row with weight 0, which
// adds +0 (an accumulator is never -0: it starts at +0, and fma rounds an exact zero sum to
// +0), as in the AVX-512 forms.
static inline void kqv_lanes8(__m256 t[8], const float *w, const uint16_t *v_cache, const int32_t *slots,
                              int64_t slot_elems, int64_t head_offset, int32_t first, int32_t last, int32_t g0,
                              int32_t stride, int32_t d) {
    static const uint16_t zeros[FLINT_ATTENTION_MAX_HEAD_DIM];
    FL_UNROLL for (int l = 0; l < 8; l++) t[l] = _mm256_setzero_ps();
    for (int32_t g = g0; g <= last; g += stride) {
        if (g >= first && g + 7 <= last) {
            FL_UNROLL for (int l = 0; l < 8; l++)
                t[l] = _mm256_fmadd_ps(ld8(fl_key_ptr(v_cache, slots, g + l, slot_elems, head_offset) + d), _mm256_set1_ps(w[g + l]), t[l]);
        } else {
            FL_UNROLL for (int l = 0; l < 8; l++) {
                const int32_t j = g + l;
                const int in = j >= first && j <= last;
                const uint16_t *vj = in ? fl_key_ptr(v_cache, slots, j, slot_elems, head_offset) : zeros;
                t[l] = _mm256_fmadd_ps(ld8(vj + d), _mm256_set1_ps(in ? w[j] : 0.0f), t[l]);
            }
        }
    }
}

// The prompt KQV (16 lanes: key j to lane j % 16) with the finish, 8 head dimensions at a
// time: lanes 0-7 in one pass over the keys, lanes 8-15 in a second, their sums the first
// step of R16. Same bits as kqv_accumulate + kqv_finish with 16 lanes.
static int kqv_prompt_avx2(float *out, const float *w, const uint16_t *v_cache, const int32_t *slots, int64_t slot_elems,
                           int64_t head_offset, int32_t first, int32_t last, int32_t head_dim) {
    // Each pass reads 16 bytes of every value row; past 64 dimensions the in-memory
    // accumulators of kqv_accumulate, which read each row once, measured faster (and for
    // decoding rows at every head size, so this path has no decode form).
    if (head_dim & 7 || head_dim > 64) return 0;
    const int32_t g0 = first & ~15;
    for (int32_t d = 0; d < head_dim; d += 8) {
        __m256 lo[8], hi[8];
        kqv_lanes8(lo, w, v_cache, slots, slot_elems, head_offset, first, last, g0, 16, d);
        kqv_lanes8(hi, w, v_cache, slots, slot_elems, head_offset, first, last, g0 + 8, 16, d);
        FL_UNROLL for (int l = 0; l < 8; l++) lo[l] = _mm256_add_ps(lo[l], hi[l]);
        _mm256_storeu_ps(out + d, r16_lanes(lo));
    }
    return 1;
}

// vcvtps2ph rounds to nearest even, as fl_f2h does (NaNs stay NaNs).
static void store_f16_avx2(uint16_t *dst, const float *src, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    fl_attn_store_f16_scalar(dst + i, src + i, n - i);
}

static void round_f16_avx2(float *dst, const float *src, float scale, int32_t n) {
    const __m256 sv = _mm256_set1_ps(scale);
    int32_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(src + i), sv),
                                                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
    fl_attn_round_f16_scalar(dst + i, src + i, scale, n - i);
}

// Elements d..d+7 of a cached row, widened: F16, or Q8_0 (scale times int8, one rounding,
// as ggml dequantizes and as widen_row_scalar does).
static inline __m256 ld_row8(const uint16_t *row, int32_t d, int q8) {
    if (!q8) return ld8(row + d);
    const block_q8_0 *b = (const block_q8_0 *)row + d / 32;
    const __m256 x = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b->qs + d % 32))));
    return _mm256_mul_ps(x, _mm256_set1_ps(_cvtsh_ss(b->d)));
}

static inline __attribute__((always_inline)) void widen_keys_of(float *kf, const uint16_t *cache, int q8,
                                                                const int32_t *slots, int64_t head_offset, int32_t kb,
                                                                int32_t nb, int32_t lo, int32_t head_dim) {
    const int64_t row_elems = fl_kv_row_elems(q8 ? FLINT_KV_Q8_0 : FLINT_KV_F16, head_dim);
    for (int32_t i = 0; i < nb; i++) {
        float *dst = kf + (int64_t)i * head_dim;
        const uint16_t *src = fl_key_ptr(cache, slots, kb + i, row_elems, head_offset);
        for (int32_t d = 0; d < head_dim; d += 8)
            _mm256_storeu_ps(dst + d, kb + i < lo ? _mm256_setzero_ps() : ld_row8(src, d, q8));
    }
}

static void widen_keys_avx2(float *kf, const uint16_t *cache, int32_t kv_type, const int32_t *slots, int64_t head_offset,
                            int32_t kb, int32_t nb, int32_t lo, int32_t head_dim) {
    if (head_dim & 15) return;  // attention.c tiles no other head sizes
    if (kv_type == FLINT_KV_Q8_0) widen_keys_of(kf, cache, 1, slots, head_offset, kb, nb, lo, head_dim);
    else widen_keys_of(kf, cache, 0, slots, head_offset, kb, nb, lo, head_dim);
}

// 8 rows of 8 floats to 8 columns: c[k] element i = r[i] element k.
static inline void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    FL_UNROLL for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    FL_UNROLL for (int i = 0; i < 2; i++) {  // u[4i + k], 128-bit lane L: rows 4i..4i+3 at column 4L + k
        u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    FL_UNROLL for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x20);
        r[4 + k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x31);
    }
}

static inline __attribute__((always_inline)) void widen_values_of(float *vt, const uint16_t *cache, int q8,
                                                                  const int32_t *slots, int64_t head_offset, int32_t kb,
                                                                  int32_t nb, int32_t lo, int32_t head_dim) {
    const int64_t row_elems = fl_kv_row_elems(q8 ? FLINT_KV_Q8_0 : FLINT_KV_F16, head_dim);
    for (int32_t g = 0; g < (nb + 15) / 16 * 16; g += 8)  // whole groups of 16
        for (int32_t d = 0; d < head_dim; d += 8) {
            __m256 r[8];
            FL_UNROLL for (int i = 0; i < 8; i++) {
                const int in = kb + g + i >= lo && g + i < nb;
                r[i] = in ? ld_row8(fl_key_ptr(cache, slots, kb + g + i, row_elems, head_offset), d, q8) : _mm256_setzero_ps();
            }
            transpose8(r);
            float *dst = vt + ((int64_t)(g / 16) * head_dim + d) * 16 + g % 16;
            FL_UNROLL for (int k = 0; k < 8; k++) _mm256_storeu_ps(dst + k * 16, r[k]);
        }
}

static void widen_values_avx2(float *vt, const uint16_t *cache, int32_t kv_type, const int32_t *slots,
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
    const __m256 sv = _mm256_set1_ps(scale);
    for (int32_t r = 0; r < rows; r++) {
        const int32_t lo = first[r] > kb ? first[r] : kb, hi = last[r] < kb + nb - 1 ? last[r] : kb + nb - 1;
        const float *q = qh + (int64_t)r * hd;
        for (int32_t j0 = lo; j0 <= hi; j0 += 8) {
            const int nk = hi - j0 + 1 < 8 ? hi - j0 + 1 : 8;
            __m256 t[8];
            FL_UNROLL for (int k = 0; k < 8; k++) {  // dot_half_sum's prompt form
                __m256 a = _mm256_setzero_ps(), b = a;
                if (k < nk) {
                    const float *kj = kf + (int64_t)(j0 + k - kb) * hd;
                    for (int32_t i = 0; i < hd; i += 16) {
                        a = _mm256_fmadd_ps(_mm256_loadu_ps(kj + i), _mm256_loadu_ps(q + i), a);
                        b = _mm256_fmadd_ps(_mm256_loadu_ps(kj + i + 8), _mm256_loadu_ps(q + i + 8), b);
                    }
                }
                t[k] = _mm256_add_ps(a, b);
            }
            const __m256 x = _mm256_mul_ps(r16_x8(t), sv);
            if (nk == 8) _mm256_storeu_ps(s + r * ld + j0, x);
            else _mm256_maskstore_ps(s + r * ld + j0, lane_mask(0, nk - 1), x);
        }
    }
}

static void tile_scores_avx2(const float *qh, int32_t rows, const int32_t *first, const int32_t *last,
                             const float *kf, int32_t kb, int32_t nb, int32_t head_dim, float scale, float *s,
                             int64_t ld) {
    switch (head_dim) {
    case 64: tile_scores_hd(qh, rows, first, last, kf, kb, nb, 64, scale, s, ld); break;
    case 128: tile_scores_hd(qh, rows, first, last, kf, kb, nb, 128, scale, s, ld); break;
    case 256: tile_scores_hd(qh, rows, first, last, kf, kb, nb, 256, scale, s, ld); break;
    default: tile_scores_hd(qh, rows, first, last, kf, kb, nb, head_dim, scale, s, ld); break;
    }
}

// Per 4 head dimensions and query: the dimensions' 16-lane accumulators (two halves each)
// in registers over the block's keys, a group of 16 keys at a time: one load of the
// group's probabilities, one transposed value vector per dimension and half (key j in lane
// j % 16, as the per-row forms). Dimensions outermost, so the block's slice stays in L1
// while every query of the tile reads it. Keys of a group outside the query's range get
// probability 0: the product is +-0, which leaves an accumulator's bits as they are (it is
// never -0).
static inline __attribute__((always_inline)) void tile_kqv_hd(float *acc, int32_t rows, const int32_t *first,
                                                              const int32_t *last, const float *w, int64_t ld,
                                                              const float *vt, int32_t kb, int32_t nb, const int32_t hd) {
    for (int32_t d = 0; d < hd; d += 4)
        for (int32_t r = 0; r < rows; r++) {
            const int32_t lo = first[r] > kb ? first[r] : kb, hi = last[r] < kb + nb - 1 ? last[r] : kb + nb - 1;
            if (lo > hi) continue;
            const float *wr = w + r * ld;
            float *a = acc + ((int64_t)r * hd + d) * 16;
            __m256 t[8];
            FL_UNROLL for (int i = 0; i < 8; i++) t[i] = _mm256_loadu_ps(a + (i / 2) * 16 + 8 * (i % 2));
            for (int32_t g = lo & ~15; g <= hi; g += 16) {
                const int l0 = lo > g ? lo - g : 0, l1 = hi - g < 15 ? hi - g : 15;
                __m256 wv[2];
                FL_UNROLL for (int half = 0; half < 2; half++)
                    wv[half] = _mm256_maskload_ps(wr + g + 8 * half, lane_mask(l0 - 8 * half, l1 - 8 * half));
                const float *vg = vt + ((int64_t)(g - kb) / 16 * hd + d) * 16;
                FL_UNROLL for (int i = 0; i < 8; i++)
                    t[i] = _mm256_fmadd_ps(_mm256_loadu_ps(vg + (i / 2) * 16 + 8 * (i % 2)), wv[i % 2], t[i]);
            }
            FL_UNROLL for (int i = 0; i < 8; i++) _mm256_storeu_ps(a + (i / 2) * 16 + 8 * (i % 2), t[i]);
        }
}

static void tile_kqv_avx2(float *acc, int32_t rows, const int32_t *first, const int32_t *last, const float *w,
                          int64_t ld, const float *vt, int32_t kb, int32_t nb, int32_t head_dim) {
    switch (head_dim) {
    case 64: tile_kqv_hd(acc, rows, first, last, w, ld, vt, kb, nb, 64); break;
    case 128: tile_kqv_hd(acc, rows, first, last, w, ld, vt, kb, nb, 128); break;
    case 256: tile_kqv_hd(acc, rows, first, last, w, ld, vt, kb, nb, 256); break;
    default: tile_kqv_hd(acc, rows, first, last, w, ld, vt, kb, nb, head_dim); break;
    }
}

void fl_attention_fill_avx2(fl_isa_table *t) {
    t->attn = (fl_attention_ops){scores_avx2, softmax_avx2, kqv_accumulate_avx2, kqv_finish_avx2,
                                 round_f16_avx2, store_f16_avx2, kqv_prompt_avx2, NULL,
                                 widen_keys_avx2, widen_values_avx2, tile_scores_avx2, tile_kqv_avx2};
}

#pragma clang attribute pop
#else
#include "isa.h"
#endif
