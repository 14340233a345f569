// NEON forms of the attention kernels (attention.c documents the arithmetic). llama.cpp's
// 16-lane vectors (its AVX-512 build, which the reference logits come from) are kept as four
// 4-lane quarters: lane l in quarter l / 4. This is attention_avx2.c with quarters for its
// halves: every operation of a lane is the one the scalar reference does, in the same order
// (vfmaq is the reference's fmaf, F16 conversions round to nearest even like fl_f2h), so every
// form here gives the scalar reference's bits, and so the AVX2 path's. The tile forms at the end
// serve prompt tiles and every row of a Q8_0 cache (attention.c).
#if defined(__aarch64__)
#include "attention_impl.h"
#include <arm_neon.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#else
#pragma GCC optimize("fp-contract=off")  // GCC ignores the STDC pragma
#endif

static inline float32x4_t ld4(const uint16_t *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }

// The end of R16 from its first two steps' result u (u[i] = (x[i] + x[i + 8]) + (x[i + 4] +
// x[i + 12])): (u0 + u2) + (u1 + u3).
static inline float r16_end(float32x4_t u) { return vpadds_f32(vadd_f32(vget_low_f32(u), vget_high_f32(u))); }

// R16's first two steps on quarters q0..q3 (lanes 0-3, 4-7, 8-11, 12-15): halves, quarters.
static inline float32x4_t r16_quarters(float32x4_t q0, float32x4_t q1, float32x4_t q2, float32x4_t q3) {
    return vaddq_f32(vaddq_f32(q0, q2), vaddq_f32(q1, q3));
}

// The quarters' sum of the 16 lanes a key's dot product ends with (before R16's last step):
// the prompt kernel's one accumulator, or the one-row kernel's four combined as (0 + 2) + (1 + 3).
static inline float32x4_t dot_quarter_sum(const float *q, const uint16_t *k, int32_t n, int prompt) {
    if (prompt) {
        float32x4_t s[4];
        FL_UNROLL for (int c = 0; c < 4; c++) s[c] = vdupq_n_f32(0.f);
        for (int32_t i = 0; i < n; i += 16)
            FL_UNROLL for (int c = 0; c < 4; c++) s[c] = vfmaq_f32(s[c], ld4(k + i + 4 * c), vld1q_f32(q + i + 4 * c));
        return r16_quarters(s[0], s[1], s[2], s[3]);
    }
    float32x4_t s[16];  // s[4a + c]: quarter c of the one-row kernel's accumulator a
    FL_UNROLL for (int a = 0; a < 16; a++) s[a] = vdupq_n_f32(0.f);
    for (int32_t i = 0; i < n; i += 64)
        FL_UNROLL for (int a = 0; a < 16; a++) s[a] = vfmaq_f32(s[a], ld4(k + i + 4 * a), vld1q_f32(q + i + 4 * a));
    float32x4_t t[4];
    FL_UNROLL for (int c = 0; c < 4; c++) t[c] = vaddq_f32(vaddq_f32(s[c], s[8 + c]), vaddq_f32(s[4 + c], s[12 + c]));
    return r16_quarters(t[0], t[1], t[2], t[3]);
}

// One key whose head size the vectors do not divide: the lanes over the leading multiple of
// 64, the rest one by one in double (the one-row kernel; the prompt kernel falls back to it).
static float dot_one_row_neon(const float *q, const uint16_t *k, int32_t n) {
    const int32_t np = n & ~63;
    double sum = r16_end(dot_quarter_sum(q, k, np, 0));
    for (int32_t i = np; i < n; i++) sum += (double)(fl_h2f(k[i]) * q[i]);
    return (float)sum;
}

static void scores_neon(const float *q, const uint16_t *k_cache, const int32_t *slots, int64_t slot_elems,
                        int64_t head_offset, int32_t first, int32_t last, int32_t head_dim, float scale, int prompt,
                        float *scratch) {
    if (head_dim & (prompt ? 15 : 63)) {
        for (int32_t j = first; j <= last; j++)
            scratch[j] = dot_one_row_neon(q, fl_key_ptr(k_cache, slots, j, slot_elems, head_offset), head_dim) * scale;
        return;
    }
    // Four keys at a time: key k's (u0 + u2, u1 + u3) pairs, then one pairwise add for the four.
    for (int32_t j0 = first; j0 <= last; j0 += 4) {
        const int nk = last - j0 + 1 < 4 ? last - j0 + 1 : 4;
        float32x2_t v[4];
        FL_UNROLL for (int k = 0; k < 4; k++) {
            const float32x4_t u = k < nk ? dot_quarter_sum(q, fl_key_ptr(k_cache, slots, j0 + k, slot_elems, head_offset),
                                                           head_dim, prompt)
                                         : vdupq_n_f32(0.f);
            v[k] = vadd_f32(vget_low_f32(u), vget_high_f32(u));
        }
        const float32x4_t s = vmulq_n_f32(vpaddq_f32(vcombine_f32(v[0], v[1]), vcombine_f32(v[2], v[3])), scale);
        if (nk == 4) {
            vst1q_f32(scratch + j0, s);
        } else {
            float tmp[4];
            vst1q_f32(tmp, s);
            FL_UNROLL for (int k = 0; k < nk; k++) scratch[j0 + k] = tmp[k];
        }
    }
}

static double softmax_neon(float *x, int32_t first, int32_t last) {
    // The reference's max scan keeps m unless x > m, per lane here (NaNs never enter).
    float32x4_t mx = vdupq_n_f32(-INFINITY);
    int32_t j = first;
    for (; j + 4 <= last + 1; j += 4) {
        const float32x4_t v = vld1q_f32(x + j);
        mx = vbslq_f32(vcgtq_f32(v, mx), v, mx);
    }
    float maxs = vmaxvq_f32(mx);
    for (; j <= last; j++) maxs = x[j] > maxs ? x[j] : maxs;
    const float32x4_t mv = vdupq_n_f32(maxs);
    double sum = 0.0;
    for (int32_t g = first & ~15; g <= last; g += 16) {
        float32x4_t e[4];
        if (g >= first && g + 15 <= last) {
            FL_UNROLL for (int c = 0; c < 4; c++) {
                e[c] = ggml_expf_neon(vsubq_f32(vld1q_f32(x + g + 4 * c), mv));
                vst1q_f32(x + g + 4 * c, e[c]);
            }
        } else {
            // a group with masked keys (outside first..last): exp gives 0 there
            float buf[16];
            FL_UNROLL for (int l = 0; l < 16; l++) buf[l] = g + l >= first && g + l <= last ? x[g + l] : 0.f;
            FL_UNROLL for (int c = 0; c < 4; c++) vst1q_f32(buf + 4 * c, ggml_expf_neon(vsubq_f32(vld1q_f32(buf + 4 * c), mv)));
            FL_UNROLL for (int l = 0; l < 16; l++) {
                if (g + l >= first && g + l <= last) x[g + l] = buf[l];
                else buf[l] = 0.f;
            }
            FL_UNROLL for (int c = 0; c < 4; c++) e[c] = vld1q_f32(buf + 4 * c);
        }
        sum += (double)r16_end(r16_quarters(e[0], e[1], e[2], e[3]));
    }
    return sum;
}

static void kqv_accumulate_neon(float *acc, int32_t lanes, const float *w, const uint16_t *v_cache, const int32_t *slots,
                                int64_t slot_elems, int64_t head_offset, int32_t first, int32_t last, int32_t head_dim) {
    if (head_dim & 3) {
        fl_attn_kqv_scalar(acc, lanes, w, v_cache, slots, slot_elems, head_offset, first, last, head_dim);
        return;
    }
    for (int32_t j = first; j <= last; j++) {
        const uint16_t *vj = fl_key_ptr(v_cache, slots, j, slot_elems, head_offset);
        float *a = acc + (int64_t)(j % lanes) * head_dim;
        const float32x4_t wv = vdupq_n_f32(w[j]);
        for (int32_t d = 0; d < head_dim; d += 4) vst1q_f32(a + d, vfmaq_f32(vld1q_f32(a + d), ld4(vj + d), wv));
    }
}

// 8 head dimensions as two quarters.
typedef struct { float32x4_t lo, hi; } v8;

static inline v8 v8_add(v8 a, v8 b) { return (v8){vaddq_f32(a.lo, b.lo), vaddq_f32(a.hi, b.hi)}; }
static inline v8 v8_ld(const float *p) { return (v8){vld1q_f32(p), vld1q_f32(p + 4)}; }
static inline void v8_st(float *p, v8 a) { vst1q_f32(p, a.lo), vst1q_f32(p + 4, a.hi); }

// R16 over lanes 0..15 of s (8 head dimensions each) given as the halves' sums s[l] =
// lane l + lane l + 8: quarters, then (0 + 2) + (1 + 3).
static inline v8 r16_lanes(const v8 s[8]) {
    const v8 t0 = v8_add(s[0], s[4]), t1 = v8_add(s[1], s[5]), t2 = v8_add(s[2], s[6]), t3 = v8_add(s[3], s[7]);
    return v8_add(v8_add(t0, t2), v8_add(t1, t3));
}

static void kqv_finish_neon(float *acc, int32_t lanes, int32_t head_dim, float *out) {
    if (head_dim & 7) {
        fl_attn_finish_scalar(acc, lanes, head_dim, out);
        return;
    }
    for (int32_t d = 0; d < head_dim; d += 8) {
        v8 t[16], s[8];
        const float *a = acc + d;
        if (lanes == 64)
            FL_UNROLL for (int l = 0; l < 16; l++)
                t[l] = v8_add(v8_add(v8_ld(a + (int64_t)l * head_dim), v8_ld(a + (int64_t)(l + 32) * head_dim)),
                              v8_add(v8_ld(a + (int64_t)(l + 16) * head_dim), v8_ld(a + (int64_t)(l + 48) * head_dim)));
        else
            FL_UNROLL for (int l = 0; l < 16; l++) t[l] = v8_ld(a + (int64_t)l * head_dim);
        FL_UNROLL for (int l = 0; l < 8; l++) s[l] = v8_add(t[l], t[l + 8]);
        v8_st(out + d, r16_lanes(s));
    }
}

// The weighted sum of 8 lanes' keys over rounds: keys g + l (l < 8) for g = g0, g0 + stride,
// ... <= last, into t[l]; keys outside first..last count as a zero row with weight 0, which
// adds +0 (an accumulator is never -0: it starts at +0, and fma rounds an exact zero sum to
// +0), as in the AVX2 and AVX-512 forms.
static inline void kqv_lanes8(v8 t[8], const float *w, const uint16_t *v_cache, const int32_t *slots, int64_t slot_elems,
                              int64_t head_offset, int32_t first, int32_t last, int32_t g0, int32_t stride, int32_t d) {
    static const uint16_t zeros[FLINT_ATTENTION_MAX_HEAD_DIM];
    FL_UNROLL for (int l = 0; l < 8; l++) t[l].lo = t[l].hi = vdupq_n_f32(0.f);
    for (int32_t g = g0; g <= last; g += stride) {
        if (g >= first && g + 7 <= last) {
            FL_UNROLL for (int l = 0; l < 8; l++) {
                const uint16_t *vj = fl_key_ptr(v_cache, slots, g + l, slot_elems, head_offset) + d;
                const float32x4_t wv = vdupq_n_f32(w[g + l]);
                t[l].lo = vfmaq_f32(t[l].lo, ld4(vj), wv);
                t[l].hi = vfmaq_f32(t[l].hi, ld4(vj + 4), wv);
            }
            continue;
        }
        FL_UNROLL for (int l = 0; l < 8; l++) {
            const int32_t j = g + l;
            const int in = j >= first && j <= last;
            const uint16_t *vj = in ? fl_key_ptr(v_cache, slots, j, slot_elems, head_offset) + d : zeros;
            const float32x4_t wv = vdupq_n_f32(in ? w[j] : 0.0f);
            t[l].lo = vfmaq_f32(t[l].lo, ld4(vj), wv);
            t[l].hi = vfmaq_f32(t[l].hi, ld4(vj + 4), wv);
        }
    }
}

// The prompt KQV (16 lanes: key j to lane j % 16) with the finish, 8 head dimensions at a
// time: lanes 0-7 in one pass over the keys, lanes 8-15 in a second, their sums the first
// step of R16. Same bits as kqv_accumulate + kqv_finish with 16 lanes.
static int kqv_prompt_neon(float *out, const float *w, const uint16_t *v_cache, const int32_t *slots, int64_t slot_elems,
                           int64_t head_offset, int32_t first, int32_t last, int32_t head_dim) {
    // Each pass reads 16 bytes of every value row; for larger heads the in-memory
    // accumulators of kqv_accumulate read each row once (as the AVX2 form decides).
    if (head_dim & 7 || head_dim > 128) return 0;
    const int32_t g0 = first & ~15;
    for (int32_t d = 0; d < head_dim; d += 8) {
        v8 lo[8], hi[8];
        kqv_lanes8(lo, w, v_cache, slots, slot_elems, head_offset, first, last, g0, 16, d);
        kqv_lanes8(hi, w, v_cache, slots, slot_elems, head_offset, first, last, g0 + 8, 16, d);
        FL_UNROLL for (int l = 0; l < 8; l++) lo[l] = v8_add(lo[l], hi[l]);
        v8_st(out + d, r16_lanes(lo));
    }
    return 1;
}

// The one-row KQV (64 lanes: key j to lane j % 64; lanes 16a..16a+15 the one-row kernel's
// accumulator a) with the finish, 8 head dimensions at a time: each group of 8 lanes in a
// pass over the rounds of 64 keys, the four accumulators of a lane combined as
// (0 + 2) + (1 + 3), then R16 over the lanes. Same bits as kqv_accumulate + kqv_finish with
// 64 lanes.
static int kqv_decode_neon(float *out, const float *w, const uint16_t *v_cache, const int32_t *slots, int64_t slot_elems,
                           int64_t head_offset, int32_t first, int32_t last, int32_t head_dim) {
    if (head_dim & 7) return 0;
    const int32_t g0 = first & ~63;
    for (int32_t d = 0; d < head_dim; d += 8) {
        v8 s[2][8];
        FL_UNROLL for (int h = 0; h < 2; h++) {
            v8 t0[8], t1[8], t2[8], t3[8];
            kqv_lanes8(t0, w, v_cache, slots, slot_elems, head_offset, first, last, g0 + 8 * h, 64, d);
            kqv_lanes8(t2, w, v_cache, slots, slot_elems, head_offset, first, last, g0 + 32 + 8 * h, 64, d);
            FL_UNROLL for (int l = 0; l < 8; l++) t0[l] = v8_add(t0[l], t2[l]);
            kqv_lanes8(t1, w, v_cache, slots, slot_elems, head_offset, first, last, g0 + 16 + 8 * h, 64, d);
            kqv_lanes8(t3, w, v_cache, slots, slot_elems, head_offset, first, last, g0 + 48 + 8 * h, 64, d);
            FL_UNROLL for (int l = 0; l < 8; l++) s[h][l] = v8_add(t0[l], v8_add(t1[l], t3[l]));
        }
        FL_UNROLL for (int l = 0; l < 8; l++) s[0][l] = v8_add(s[0][l], s[1][l]);
        v8_st(out + d, r16_lanes(s[0]));
    }
    return 1;
}

// fcvtn rounds to nearest even (FPCR's default mode), as fl_f2h does; NaNs stay NaNs.
static void store_f16_neon(uint16_t *dst, const float *src, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1_u16(dst + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(src + i))));
    fl_attn_store_f16_scalar(dst + i, src + i, n - i);
}

static void round_f16_neon(float *dst, const float *src, float scale, int32_t n) {
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, vcvt_f32_f16(vcvt_f16_f32(vmulq_n_f32(vld1q_f32(src + i), scale))));
    fl_attn_round_f16_scalar(dst + i, src + i, scale, n - i);
}

// Elements d..d+3 of a cached row, widened: F16, or Q8_0 (scale times int8, one rounding,
// as ggml dequantizes and as widen_row_scalar does).
static inline float32x4_t ld_row4(const uint16_t *row, int32_t d, int q8) {
    if (!q8) return ld4(row + d);
    const block_q8_0 *b = (const block_q8_0 *)row + d / 32;
    const int8_t *p = b->qs + d % 32;
    const int16x4_t x = vget_low_s16(vmovl_s8(vcreate_s8((uint64_t)(uint8_t)p[0] | (uint64_t)(uint8_t)p[1] << 8 |
                                                         (uint64_t)(uint8_t)p[2] << 16 | (uint64_t)(uint8_t)p[3] << 24)));
    return vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(x)), fl_h2f(b->d));
}

static inline __attribute__((always_inline)) void widen_keys_of(float *kf, const uint16_t *cache, int q8,
                                                                const int32_t *slots, int64_t head_offset, int32_t kb,
                                                                int32_t nb, int32_t lo, int32_t head_dim) {
    const int64_t row_elems = fl_kv_row_elems(q8 ? FLINT_KV_Q8_0 : FLINT_KV_F16, head_dim);
    for (int32_t i = 0; i < nb; i++) {
        float *dst = kf + (int64_t)i * head_dim;
        const uint16_t *src = fl_key_ptr(cache, slots, kb + i, row_elems, head_offset);
        for (int32_t d = 0; d < head_dim; d += 4) vst1q_f32(dst + d, kb + i < lo ? vdupq_n_f32(0.f) : ld_row4(src, d, q8));
    }
}

static void widen_keys_neon(float *kf, const uint16_t *cache, int32_t kv_type, const int32_t *slots, int64_t head_offset,
                            int32_t kb, int32_t nb, int32_t lo, int32_t head_dim) {
    if (head_dim & 15) return;  // attention.c tiles no other head sizes
    if (kv_type == FLINT_KV_Q8_0) widen_keys_of(kf, cache, 1, slots, head_offset, kb, nb, lo, head_dim);
    else widen_keys_of(kf, cache, 0, slots, head_offset, kb, nb, lo, head_dim);
}

// Values transposed 4 keys by 4 dimensions at a time (isa.h's layout).
static inline __attribute__((always_inline)) void widen_values_of(float *vt, const uint16_t *cache, int q8,
                                                                  const int32_t *slots, int64_t head_offset, int32_t kb,
                                                                  int32_t nb, int32_t lo, int32_t head_dim) {
    const int64_t row_elems = fl_kv_row_elems(q8 ? FLINT_KV_Q8_0 : FLINT_KV_F16, head_dim);
    for (int32_t g = 0; g < (nb + 15) / 16 * 16; g += 4) {
        const uint16_t *row[4];
        int in[4];
        FL_UNROLL for (int i = 0; i < 4; i++) {
            in[i] = kb + g + i >= lo && g + i < nb;
            row[i] = in[i] ? fl_key_ptr(cache, slots, kb + g + i, row_elems, head_offset) : NULL;
        }
        for (int32_t d = 0; d < head_dim; d += 4) {
            float32x4_t r[4];
            FL_UNROLL for (int i = 0; i < 4; i++) r[i] = in[i] ? ld_row4(row[i], d, q8) : vdupq_n_f32(0.f);
            const float64x2_t t0 = vreinterpretq_f64_f32(vtrn1q_f32(r[0], r[1])), t1 = vreinterpretq_f64_f32(vtrn2q_f32(r[0], r[1]));
            const float64x2_t t2 = vreinterpretq_f64_f32(vtrn1q_f32(r[2], r[3])), t3 = vreinterpretq_f64_f32(vtrn2q_f32(r[2], r[3]));
            float *dst = vt + ((int64_t)(g / 16) * head_dim + d) * 16 + g % 16;
            vst1q_f32(dst, vreinterpretq_f32_f64(vtrn1q_f64(t0, t2)));
            vst1q_f32(dst + 16, vreinterpretq_f32_f64(vtrn1q_f64(t1, t3)));
            vst1q_f32(dst + 32, vreinterpretq_f32_f64(vtrn2q_f64(t0, t2)));
            vst1q_f32(dst + 48, vreinterpretq_f32_f64(vtrn2q_f64(t1, t3)));
        }
    }
}

static void widen_values_neon(float *vt, const uint16_t *cache, int32_t kv_type, const int32_t *slots,
                              int64_t head_offset, int32_t kb, int32_t nb, int32_t lo, int32_t head_dim) {
    if (head_dim & 15) return;
    if (kv_type == FLINT_KV_Q8_0) widen_values_of(vt, cache, 1, slots, head_offset, kb, nb, lo, head_dim);
    else widen_values_of(vt, cache, 0, slots, head_offset, kb, nb, lo, head_dim);
}

// The tile forms (isa.h): four keys at a time per query, each key's 16 lanes as four
// quarters (16 accumulators live), reduced as scores_neon reduces them.
static void tile_scores_neon(const float *qh, int32_t rows, const int32_t *first, const int32_t *last, const float *kf,
                             int32_t kb, int32_t nb, int32_t head_dim, float scale, float *s, int64_t ld) {
    for (int32_t r = 0; r < rows; r++) {
        const int32_t lo = first[r] > kb ? first[r] : kb, hi = last[r] < kb + nb - 1 ? last[r] : kb + nb - 1;
        const float *q = qh + (int64_t)r * head_dim;
        for (int32_t j0 = lo; j0 <= hi; j0 += 4) {
            const int nk = hi - j0 + 1 < 4 ? hi - j0 + 1 : 4;
            const float *k0 = kf + (int64_t)(j0 - kb) * head_dim;
            float32x4_t x[4][4];
            FL_UNROLL for (int k = 0; k < 4; k++) FL_UNROLL for (int c = 0; c < 4; c++) x[k][c] = vdupq_n_f32(0.f);
            for (int32_t i = 0; i < head_dim; i += 16)
                FL_UNROLL for (int c = 0; c < 4; c++) {
                    const float32x4_t qc = vld1q_f32(q + i + 4 * c);
                    FL_UNROLL for (int k = 0; k < 4; k++)
                        if (k < nk) x[k][c] = vfmaq_f32(x[k][c], vld1q_f32(k0 + (int64_t)k * head_dim + i + 4 * c), qc);
                }
            float32x2_t v[4];
            FL_UNROLL for (int k = 0; k < 4; k++) {
                const float32x4_t u = r16_quarters(x[k][0], x[k][1], x[k][2], x[k][3]);
                v[k] = vadd_f32(vget_low_f32(u), vget_high_f32(u));
            }
            const float32x4_t sv = vmulq_n_f32(vpaddq_f32(vcombine_f32(v[0], v[1]), vcombine_f32(v[2], v[3])), scale);
            float tmp[4];
            vst1q_f32(tmp, sv);
            FL_UNROLL for (int k = 0; k < 4; k++) if (k < nk) s[r * ld + j0 + k] = tmp[k];
        }
    }
}

// Per 4 head dimensions and query: their 16 lanes (as quarters) in registers over the block's
// keys, a group of 16 at a time, probabilities of keys outside the query's range 0 (adds +0
// to an accumulator that is never -0, as in the other paths).
static void tile_kqv_neon(float *acc, int32_t rows, const int32_t *first, const int32_t *last, const float *w, int64_t ld,
                          const float *vt, int32_t kb, int32_t nb, int32_t head_dim) {
    for (int32_t d = 0; d < head_dim; d += 4)
        for (int32_t r = 0; r < rows; r++) {
            const int32_t lo = first[r] > kb ? first[r] : kb, hi = last[r] < kb + nb - 1 ? last[r] : kb + nb - 1;
            if (lo > hi) continue;
            const float *wr = w + r * ld;
            float *a = acc + ((int64_t)r * head_dim + d) * 16;
            float32x4_t t[4][4];  // t[e][c]: dimension d + e, lanes 4c..4c+3
            FL_UNROLL for (int e = 0; e < 4; e++) FL_UNROLL for (int c = 0; c < 4; c++) t[e][c] = vld1q_f32(a + e * 16 + 4 * c);
            for (int32_t g = lo & ~15; g <= hi; g += 16) {
                float32x4_t wv[4];
                if (g >= lo && g + 15 <= hi) {
                    FL_UNROLL for (int c = 0; c < 4; c++) wv[c] = vld1q_f32(wr + g + 4 * c);
                } else {
                    float buf[16];
                    FL_UNROLL for (int l = 0; l < 16; l++) buf[l] = g + l >= lo && g + l <= hi ? wr[g + l] : 0.f;
                    FL_UNROLL for (int c = 0; c < 4; c++) wv[c] = vld1q_f32(buf + 4 * c);
                }
                const float *vg = vt + ((int64_t)(g - kb) / 16 * head_dim + d) * 16;
                FL_UNROLL for (int e = 0; e < 4; e++)
                    FL_UNROLL for (int c = 0; c < 4; c++) t[e][c] = vfmaq_f32(t[e][c], vld1q_f32(vg + e * 16 + 4 * c), wv[c]);
            }
            FL_UNROLL for (int e = 0; e < 4; e++) FL_UNROLL for (int c = 0; c < 4; c++) vst1q_f32(a + e * 16 + 4 * c, t[e][c]);
        }
}

void fl_attention_fill_neon(fl_isa_table *t) {
    t->attn = (fl_attention_ops){scores_neon, softmax_neon, kqv_accumulate_neon, kqv_finish_neon,
                                 round_f16_neon, store_f16_neon, kqv_prompt_neon, kqv_decode_neon,
                                 widen_keys_neon, widen_values_neon, tile_scores_neon, tile_kqv_neon};
}

#else
#include "isa.h"
#endif
