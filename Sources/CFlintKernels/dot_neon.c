// NEON matmul kernels (AArch64 Advanced SIMD with the dot-product instructions, path "neon"):
// simd_impl.h's step functions in 128-bit form, turned into vec_dot and tiled gemm by
// gemm_tiles.h's GEN, and a prefetching 4-row GEMV for one activation row.
//
// Same bits as the AVX2 path (and so as avxvnni / avx512vnni) for every type and form, so that
// logits on ARM equal logits on x86. The AVX2 kernels keep a pair's state in one ymm of 8 float
// lanes plus a scalar s; here the ymm is two float32x4_t, lanes 0-3 and 4-7, and every lane
// sees the same operations in the same order:
//   - an integer lane l of a 32-byte chunk is the sum of the 4 products of bytes 4l..4l+3
//     (vpmaddubsw + vpmaddwd, or vpdpbusd): exactly one 32-bit lane of sdot over bytes 0..15
//     (lanes 0-3) or 16..31 (lanes 4-7). vpmaddubsw's int16 pair sums never saturate for these
//     operands (|q| <= 128 times an int8 gives -32768 ..= 32512; 4-, 5- and 6-bit weights stay
//     far inside), so the x86 lanes are exact integer sums and sdot gives the same.
//   - scale products (d_w * d_x) are rounded once, then acc = fma(scale, float(p), acc) per lane
//     (vfmaq is fused like vfmadd); int32 -> float conversions round to nearest on both.
//   - acc_finish: ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)) + s, the AVX2 tree.
//   - the signed types use the x86 sign trick |q| x sign(y, q), vpsignb's wrap of -128
//     included (see dot_s32), where a plain sdot(q, y) would differ for y = -128.
//   - K-quants: integer sums are exact in any order, but which integer lands in which float
//     lane is simd_impl.h's (lane l of sub-block sums, lane 0/1 of Q4_K's two accumulators).
// The tile shape never changes a pair's arithmetic (gemm_tiles.h), so gemm == vec_dot bit for bit.
#if defined(__aarch64__)
#include <arm_neon.h>
#include <stdlib.h>
#include "isa.h"
#include "scratch.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)
#pragma STDC FP_CONTRACT OFF
#else
#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod")  // arm_neon.h's sdot is declared for this target
#pragma GCC optimize("fp-contract=off")       // GCC ignores the STDC pragma
#endif

#define FL_INLINE static inline __attribute__((always_inline))

typedef struct { float32x4_t lo, hi; float s; } fl_acc;  // lo: AVX2 lanes 0-3, hi: lanes 4-7

FL_INLINE fl_acc acc_zero(void) {
    fl_acc a = {vdupq_n_f32(0.f), vdupq_n_f32(0.f), 0.f};
    return a;
}

FL_INLINE float acc_finish(fl_acc a) {
    const float32x4_t t = vaddq_f32(a.lo, a.hi);                          // l + (l + 4)
    const float32x2_t u = vadd_f32(vget_low_f32(t), vget_high_f32(t));   // t0 + t2, t1 + t3
    return vpadds_f32(u) + a.s;
}

FL_INLINE float h2f(fl_half h) {
    __fp16 f;
    memcpy(&f, &h, 2);
    return (float)f;
}

FL_INLINE float fmadd1(float a, float b, float c) { return __builtin_fmaf(a, b, c); }

FL_INLINE int32x4_t sdot(int8x16_t a, int8x16_t b) { return vdotq_s32(vdupq_n_s32(0), a, b); }

// acc (8 lanes) = fma(scale, float(p), acc) with p given as its two halves.
FL_INLINE void acc_fma(fl_acc *a, int32x4_t plo, int32x4_t phi, float scale) {
    a->lo = vfmaq_n_f32(a->lo, vcvtq_f32_s32(plo), scale);
    a->hi = vfmaq_n_f32(a->hi, vcvtq_f32_s32(phi), scale);
}

// 32 nibbles: low nibbles -> bytes 0..15 (q[0]), high nibbles -> bytes 16..31 (q[1]).
FL_INLINE void unpack_nibbles16(const uint8_t *qs, uint8x16_t q[2]) {
    const uint8x16_t t = vld1q_u8(qs);
    q[0] = vandq_u8(t, vdupq_n_u8(0x0F));
    q[1] = vshrq_n_u8(t, 4);
}

// bit i of the 32-bit word qh -> byte i = 0x10 where set, else 0 (bytes 0..15 in h[0]).
FL_INLINE void bits_to_0x10(const uint8_t qh[4], uint8x16_t h[2]) {
    static const uint8_t sel[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t bits = vld1q_u8(sel), m = vdupq_n_u8(0x10);
    h[0] = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1])), bits), m);
    h[1] = vandq_u8(vtstq_u8(vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3])), bits), m);
}

// ---------------- signed 32-element weights against Q8_0 (Q4_0, Q5_0, Q8_0) ----------------
// The x86 kernels multiply |q| (vpsignb(q, q), unsigned) by vpsignb(y, q) = y negated where
// q < 0 (two's complement: -(-128) stays -128) and zeroed where q == 0. That differs from
// q * y exactly where y = -128 meets q < 0, which the activation quantizers never write, but
// the NEON path reproduces it all the same: z = (y ^ m) - m with m = (q < 0) is vpsignb's
// value wherever |q| != 0, and |q| x z is sdot(|q|, z) while |q| <= 127. |q| = 128 (q = -128,
// possible only in Q8_0 weights) does not fit a signed byte: such blocks ("wide") split |q|
// into two halves of at most 64 and take two sdots.
typedef struct { int8x16_t a[2], ah[2], m[2]; float d; int wide; } w_s32;

FL_INLINE void set_s32(w_s32 *w, const int8x16_t q[2], fl_half d, int may_be_wide) {
    w->wide = may_be_wide && vminvq_s8(vminq_s8(q[0], q[1])) == -128;
    FL_UNROLL for (int h = 0; h < 2; h++) {
        const uint8x16_t a = vreinterpretq_u8_s8(vabsq_s8(q[h]));  // |-128| wraps to 0x80 = 128
        w->m[h] = vreinterpretq_s8_u8(vcltzq_s8(q[h]));
        if (w->wide) {
            const uint8x16_t lo = vshrq_n_u8(a, 1);
            w->a[h] = vreinterpretq_s8_u8(lo);
            w->ah[h] = vreinterpretq_s8_u8(vsubq_u8(a, lo));
        } else {
            w->a[h] = vreinterpretq_s8_u8(a);
        }
    }
    w->d = h2f(d);
}

// may_be_wide: 0 for Q4_0 / Q5_0 (|q| <= 16), so that their steps have no branch.
FL_INLINE int32x4_t dot_s32(const w_s32 *w, int h, int8x16_t y, int may_be_wide) {
    const int8x16_t z = vsubq_s8(veorq_s8(y, w->m[h]), w->m[h]);
    int32x4_t p = sdot(w->a[h], z);
    if (may_be_wide && w->wide) p = vdotq_s32(p, w->ah[h], z);
    return p;
}

FL_INLINE void step_s32(fl_acc *a, const w_s32 *w, const block_q8_0 *x, int may_be_wide) {
    const int32x4_t plo = dot_s32(w, 0, vld1q_s8(x->qs), may_be_wide);
    const int32x4_t phi = dot_s32(w, 1, vld1q_s8(x->qs + 16), may_be_wide);
    acc_fma(a, plo, phi, w->d * h2f(x->d));
}

typedef w_s32 q8_0_w, q4_0_w, q5_0_w;
FL_INLINE void q8_0_prep(q8_0_w *w, const block_q8_0 *b) {
    const int8x16_t q[2] = {vld1q_s8(b->qs), vld1q_s8(b->qs + 16)};
    set_s32(w, q, b->d, 1);
}
FL_INLINE void q8_0_step(fl_acc *a, const q8_0_w *w, const block_q8_0 *x) { step_s32(a, w, x, 1); }
FL_INLINE void q4_0_prep(q4_0_w *w, const block_q4_0 *b) {
    uint8x16_t u[2];
    unpack_nibbles16(b->qs, u);
    const int8x16_t q[2] = {vsubq_s8(vreinterpretq_s8_u8(u[0]), vdupq_n_s8(8)), vsubq_s8(vreinterpretq_s8_u8(u[1]), vdupq_n_s8(8))};
    set_s32(w, q, b->d, 0);
}
FL_INLINE void q4_0_step(fl_acc *a, const q4_0_w *w, const block_q8_0 *x) { step_s32(a, w, x, 0); }
FL_INLINE void q5_0_prep(q5_0_w *w, const block_q5_0 *b) {
    uint8x16_t u[2], h[2];
    unpack_nibbles16(b->qs, u);
    bits_to_0x10(b->qh, h);
    int8x16_t q[2];
    FL_UNROLL for (int k = 0; k < 2; k++) q[k] = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(u[k], h[k])), vdupq_n_s8(16));
    set_s32(w, q, b->d, 0);
}
FL_INLINE void q5_0_step(fl_acc *a, const q5_0_w *w, const block_q8_0 *x) { step_s32(a, w, x, 0); }

// ---------------- unsigned 32-element weights with min against Q8_1 (Q4_1, Q5_1) ----------------
// Weights 0..31 fit a signed byte: sdot is the x86 unsigned x signed product.
typedef struct { int8x16_t q[2]; float d, m; } w_u32;

FL_INLINE void step_u32(fl_acc *a, const w_u32 *w, const block_q8_1 *x) {
    const int32x4_t plo = sdot(w->q[0], vld1q_s8(x->qs)), phi = sdot(w->q[1], vld1q_s8(x->qs + 16));
    acc_fma(a, plo, phi, w->d * h2f(x->d));
    a->s = fmadd1(w->m, h2f(x->s), a->s);  // the min term's own sum, as simd_impl.h's step_u32
}

typedef w_u32 q4_1_w, q5_1_w;
FL_INLINE void q4_1_prep(q4_1_w *w, const block_q4_1 *b) {
    uint8x16_t u[2];
    unpack_nibbles16(b->qs, u);
    w->q[0] = vreinterpretq_s8_u8(u[0]);
    w->q[1] = vreinterpretq_s8_u8(u[1]);
    w->d = h2f(b->d);
    w->m = h2f(b->m);
}
FL_INLINE void q4_1_step(fl_acc *a, const q4_1_w *w, const block_q8_1 *x) { step_u32(a, w, x); }
FL_INLINE void q5_1_prep(q5_1_w *w, const block_q5_1 *b) {
    uint8x16_t u[2], h[2];
    unpack_nibbles16(b->qs, u);
    bits_to_0x10(b->qh, h);
    w->q[0] = vreinterpretq_s8_u8(vorrq_u8(u[0], h[0]));
    w->q[1] = vreinterpretq_s8_u8(vorrq_u8(u[1], h[1]));
    w->d = h2f(b->d);
    w->m = h2f(b->m);
}
FL_INLINE void q5_1_step(fl_acc *a, const q5_1_w *w, const block_q8_1 *x) { step_u32(a, w, x); }

// ---------------- K-quants against Q8_K ----------------
// Q4_K / Q5_K: 8 sub-blocks of 32 unsigned values (q[j][0]: bytes 0..15, q[j][1]: 16..31),
// 6-bit scales and mins.
typedef struct { int8x16_t q[8][2]; int32x4_t mins[2]; int32_t sc[8]; float d, dmin; } w_kaff;

FL_INLINE void kaff_scales(w_kaff *w, const uint8_t *scales, fl_half d, fl_half dmin) {
    int32_t mn[8];
    FL_UNROLL for (int j = 0; j < 8; j++) {
        uint8_t s, m;
        fl_get_scale_min_k4(j, scales, &s, &m);
        w->sc[j] = s;
        mn[j] = m;
    }
    w->mins[0] = vld1q_s32(mn);
    w->mins[1] = vld1q_s32(mn + 4);
    w->d = h2f(d);
    w->dmin = h2f(dmin);
}

// simd_impl.h's kaff_sumi: lane l of sub-blocks j0..j1-1, each 4-byte group's sum times the
// sub-block's scale (vpmaddwd with the scale), in two halves.
FL_INLINE void kaff_sumi(const w_kaff *w, const block_q8_K *x, int j0, int j1, int32x4_t s[2]) {
    s[0] = s[1] = vdupq_n_s32(0);
    for (int j = j0; j < j1; j++) {
        s[0] = vmlaq_n_s32(s[0], sdot(w->q[j][0], vld1q_s8(x->qs + 32 * j)), w->sc[j]);
        s[1] = vmlaq_n_s32(s[1], sdot(w->q[j][1], vld1q_s8(x->qs + 32 * j + 16)), w->sc[j]);
    }
}

// The min terms: lane l = min_l x (bsums[2l] + bsums[2l + 1]) (vpmaddwd of bsums and the
// mins, each min in both halves of its lane), widened before the sum as vpmaddwd does.
FL_INLINE void kaff_pm(const w_kaff *w, const block_q8_K *x, int32x4_t pm[2]) {
    pm[0] = vmulq_s32(vpaddlq_s16(vld1q_s16(x->bsums)), w->mins[0]);
    pm[1] = vmulq_s32(vpaddlq_s16(vld1q_s16(x->bsums + 8)), w->mins[1]);
}

// int32 sums wrap like the x86 lane adds, so the order of the horizontal sums is free.
FL_INLINE int32_t hsum8(const int32x4_t v[2]) { return vaddvq_s32(vaddq_s32(v[0], v[1])); }

// simd_impl.h's kaff_lanes01 + fma: lane 0 accumulates float(S) * (d_w d_x), lane 1
// float(-M) * (dmin_w d_x); lanes 2-7 take x * 0 + 0 = +0 there and stay +0 here.
FL_INLINE void kaff_acc01(fl_acc *a, int32_t S, int32_t M, float ds, float dm) {
    const int32_t t[4] = {S, (int32_t)(0u - (uint32_t)M), 0, 0};
    const float sc[4] = {ds, dm, 0.f, 0.f};
    a->lo = vfmaq_f32(a->lo, vcvtq_f32_s32(vld1q_s32(t)), vld1q_f32(sc));
}

typedef w_kaff q4_K_w, q5_K_w;
FL_INLINE void q4_K_prep(q4_K_w *w, const block_q4_K *b) {
    FL_UNROLL for (int j = 0; j < 4; j++)
        FL_UNROLL for (int h = 0; h < 2; h++) {
            const uint8x16_t q = vld1q_u8(b->qs + 32 * j + 16 * h);
            w->q[2 * j][h] = vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0F)));
            w->q[2 * j + 1][h] = vreinterpretq_s8_u8(vshrq_n_u8(q, 4));
        }
    kaff_scales(w, b->scales, b->d, b->dmin);
}
// Q4_K: llama.cpp's repacked Q4_K arithmetic (simd_impl.h's q4_K_step): per block the whole
// integer sum and the whole min sum into lanes 0 and 1.
FL_INLINE void q4_K_step(fl_acc *a, const q4_K_w *w, const block_q8_K *x) {
    int32x4_t s[2], pm[2];
    kaff_sumi(w, x, 0, 8, s);
    kaff_pm(w, x, pm);
    kaff_acc01(a, hsum8(s), hsum8(pm), w->d * x->d, w->dmin * x->d);
}

// q4_K_step as llama.cpp's 4-row Q4_K GEMM computes it: after each pair of sub-blocks.
typedef q4_K_w q4_K_gemm4_w;
#define q4_K_gemm4_prep q4_K_prep
FL_INLINE void q4_K_gemm4_step(fl_acc *a, const q4_K_w *w, const block_q8_K *x) {
    int32x4_t pmv[2];
    kaff_pm(w, x, pmv);
    int32_t pm[8];
    vst1q_s32(pm, pmv[0]);
    vst1q_s32(pm + 4, pmv[1]);
    const float ds = w->d * x->d, dm = w->dmin * x->d;
    FL_UNROLL for (int p = 0; p < 4; p++) {
        int32x4_t s[2];
        kaff_sumi(w, x, 2 * p, 2 * p + 2, s);
        kaff_acc01(a, hsum8(s), (int32_t)((uint32_t)pm[2 * p] + (uint32_t)pm[2 * p + 1]), ds, dm);
    }
}

FL_INLINE void q5_K_prep(q5_K_w *w, const block_q5_K *b) {
    const uint8x16_t m4 = vdupq_n_u8(0x0F), b4 = vdupq_n_u8(0x10);
    FL_UNROLL for (int h = 0; h < 2; h++) {
        const uint8x16_t hb = vld1q_u8(b->qh + 16 * h);
        FL_UNROLL for (int j = 0; j < 4; j++) {
            const uint8x16_t q = vld1q_u8(b->qs + 32 * j + 16 * h);
            const uint8x16_t h0 = vandq_u8(vtstq_u8(hb, vdupq_n_u8((uint8_t)(1u << (2 * j)))), b4);
            const uint8x16_t h1 = vandq_u8(vtstq_u8(hb, vdupq_n_u8((uint8_t)(2u << (2 * j)))), b4);
            w->q[2 * j][h] = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(q, m4), h0));
            w->q[2 * j + 1][h] = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(q, 4), h1));
        }
    }
    kaff_scales(w, b->scales, b->d, b->dmin);
}
// simd_impl.h's step_kaff: lane l gets the scaled sums, then minus the min terms.
FL_INLINE void q5_K_step(fl_acc *a, const q5_K_w *w, const block_q8_K *x) {
    int32x4_t s[2], pm[2];
    kaff_sumi(w, x, 0, 8, s);
    kaff_pm(w, x, pm);
    acc_fma(a, s[0], s[1], w->d * x->d);
    acc_fma(a, pm[0], pm[1], -(w->dmin * x->d));
}

// Q6_K: 16 sub-blocks of 16 values 0..63 (offset 32), int8 scales. q[c] are the 32 values
// multiplied with x->qs[32c..32c+31]; lanes 0-3 take scale 2c, lanes 4-7 scale 2c + 1.
typedef struct { int8x16_t q[8][2]; int16x8_t sc16[2]; int32_t sc[16]; float d; } q6_K_w;

FL_INLINE void q6_K_prep(q6_K_w *w, const block_q6_K *b) {
    const uint8x16_t m4 = vdupq_n_u8(0x0F), m3 = vdupq_n_u8(3);
    FL_UNROLL for (int h = 0; h < 2; h++)
        FL_UNROLL for (int k = 0; k < 2; k++) {
            const uint8x16_t l0 = vld1q_u8(b->ql + 64 * h + 16 * k), l1 = vld1q_u8(b->ql + 64 * h + 32 + 16 * k);
            const uint8x16_t hb = vld1q_u8(b->qh + 32 * h + 16 * k);
            const uint8x16_t h0 = vshlq_n_u8(vandq_u8(hb, m3), 4);
            const uint8x16_t h1 = vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 2), m3), 4);
            const uint8x16_t h2 = vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 4), m3), 4);
            const uint8x16_t h3 = vshlq_n_u8(vshrq_n_u8(hb, 6), 4);
            w->q[4 * h + 0][k] = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(l0, m4), h0));
            w->q[4 * h + 1][k] = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(l1, m4), h1));
            w->q[4 * h + 2][k] = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(l0, 4), h2));
            w->q[4 * h + 3][k] = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(l1, 4), h3));
        }
    FL_UNROLL for (int j = 0; j < 16; j++) w->sc[j] = b->scales[j];
    w->sc16[0] = vmovl_s8(vld1_s8(b->scales));
    w->sc16[1] = vmovl_s8(vld1_s8(b->scales + 8));
    w->d = h2f(b->d);
}

// simd_impl.h's q6_K_sumi: lane l = the scaled unsigned sums minus 32 x (bsums[2l] x
// scale[2l] + bsums[2l + 1] x scale[2l + 1]).
FL_INLINE void q6_K_sumi(const q6_K_w *w, const block_q8_K *x, int32x4_t s[2]) {
    s[0] = s[1] = vdupq_n_s32(0);
    FL_UNROLL for (int c = 0; c < 8; c++) {
        s[0] = vmlaq_n_s32(s[0], sdot(w->q[c][0], vld1q_s8(x->qs + 32 * c)), w->sc[2 * c]);
        s[1] = vmlaq_n_s32(s[1], sdot(w->q[c][1], vld1q_s8(x->qs + 32 * c + 16)), w->sc[2 * c + 1]);
    }
    FL_UNROLL for (int h = 0; h < 2; h++) {
        const int16x8_t bs = vld1q_s16(x->bsums + 8 * h);
        const int32x4_t pm = vpaddq_s32(vmull_s16(vget_low_s16(bs), vget_low_s16(w->sc16[h])), vmull_high_s16(bs, w->sc16[h]));
        s[h] = vsubq_s32(s[h], vshlq_n_s32(pm, 5));
    }
}

FL_INLINE void q6_K_step(fl_acc *a, const q6_K_w *w, const block_q8_K *x) {
    int32x4_t s[2];
    q6_K_sumi(w, x, s);
    acc_fma(a, s[0], s[1], w->d * x->d);
}

// q6_K_step as llama.cpp's tiled K-quant GEMM computes it (simd_impl.h's q6_K_tiled_step):
// every lane holds the block's whole sum S, r = float(S) x (d_w, 0, ..., 0), acc = fma(r, d_x, acc).
typedef q6_K_w q6_K_tiled_w;
#define q6_K_tiled_prep q6_K_prep
FL_INLINE void q6_K_tiled_step(fl_acc *a, const q6_K_w *w, const block_q8_K *x) {
    int32x4_t s[2];
    q6_K_sumi(w, x, s);
    const float32x4_t sf = vdupq_n_f32((float)hsum8(s));
    const float dw[4] = {w->d, 0.f, 0.f, 0.f};
    a->lo = vfmaq_n_f32(a->lo, vmulq_f32(sf, vld1q_f32(dw)), x->d);
    a->hi = vfmaq_n_f32(a->hi, vmulq_n_f32(sf, 0.f), x->d);
}

// ---------------- float types: "blocks" of 8 elements, scalar tail ----------------
typedef struct { float f[8]; } blk_f32;
typedef struct { uint16_t h[8]; } blk_h8;
typedef struct { float32x4_t lo, hi; } f32_w;
typedef f32_w f16_w, bf16_w;

FL_INLINE void f8_step(fl_acc *a, const f32_w *w, float32x4_t xlo, float32x4_t xhi) {
    a->lo = vfmaq_f32(a->lo, w->lo, xlo);
    a->hi = vfmaq_f32(a->hi, w->hi, xhi);
}

FL_INLINE void f32_prep(f32_w *w, const blk_f32 *b) { w->lo = vld1q_f32(b->f), w->hi = vld1q_f32(b->f + 4); }
FL_INLINE void f32_step(fl_acc *a, const f32_w *w, const blk_f32 *x) { f8_step(a, w, vld1q_f32(x->f), vld1q_f32(x->f + 4)); }
FL_INLINE float f32_elem(const void *p, int64_t i) { return ((const float *)p)[i]; }

FL_INLINE float32x4_t load_h4(const uint16_t *h) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h))); }
FL_INLINE void f16_prep(f16_w *w, const blk_h8 *b) { w->lo = load_h4(b->h), w->hi = load_h4(b->h + 4); }
FL_INLINE void f16_step(fl_acc *a, const f16_w *w, const blk_h8 *x) { f8_step(a, w, load_h4(x->h), load_h4(x->h + 4)); }
FL_INLINE float f16_elem(const void *p, int64_t i) { return h2f(((const uint16_t *)p)[i]); }

FL_INLINE float32x4_t load_bf4(const uint16_t *h) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(h), 16)); }
FL_INLINE void bf16_prep(bf16_w *w, const blk_h8 *b) { w->lo = load_bf4(b->h), w->hi = load_bf4(b->h + 4); }
FL_INLINE void bf16_step(fl_acc *a, const bf16_w *w, const blk_h8 *x) { f8_step(a, w, load_bf4(x->h), load_bf4(x->h + 4)); }
FL_INLINE float bf16_elem(const void *p, int64_t i) { return fl_bf2f(((const uint16_t *)p)[i]); }

#include "gemm_tiles.h"

// Tile widths (activation rows per 4-row tile) for 32 vector registers: a tile holds
// 4 x TM accumulators of two registers each. Float types: 24 of them, plus weights and
// activations; the 32-element types need about 8 more for the unpacked weights and the
// sign trick, so 16; the K-quants' long steps keep their accumulators in memory anyway.
#define FL_TM_F 3
#define FL_TM_Q 2
#define FL_TM_K 4

GEN(f32, blk_f32, blk_f32, 8, 1, FL_TM_F)
GEN(f16, blk_h8, blk_h8, 8, 1, FL_TM_F)
GEN(bf16, blk_h8, blk_h8, 8, 1, FL_TM_F)
GEN(q4_0, block_q4_0, block_q8_0, QK4_0, 0, FL_TM_Q)
GEN(q4_1, block_q4_1, block_q8_1, QK4_1, 0, FL_TM_Q)
GEN(q5_0, block_q5_0, block_q8_0, QK5_0, 0, FL_TM_Q)
GEN(q5_1, block_q5_1, block_q8_1, QK5_1, 0, FL_TM_Q)
GEN(q8_0, block_q8_0, block_q8_0, QK8_0, 0, FL_TM_Q)
GEN(q4_K, block_q4_K, block_q8_K, QK_K, 0, FL_TM_K)
GEN(q4_K_gemm4, block_q4_K, block_q8_K, QK_K, 0, FL_TM_K)
GEN(q5_K, block_q5_K, block_q8_K, QK_K, 0, FL_TM_K)
GEN(q6_K, block_q6_K, block_q8_K, QK_K, 0, FL_TM_K)
GEN(q6_K_tiled, block_q6_K, block_q8_K, QK_K, 0, FL_TM_K)

// NAME##_ngemm: the table's gemm for the 32-element types. One activation row (decoding)
// streams every weight once and waits on memory: weight rows in groups of 4, each pair with
// vec_dot's prep, step and finish, the rows' cache lines prefetched a few KB ahead (as
// gemm_ymm.h's GEMV). Several rows, and rows past the groups, go through GEN's tiles.
#define NGEN(NAME, WB, XB)                                                                               \
    static void NAME##_ngemv(int64_t nb, const uint8_t *W, size_t ws, int64_t r0, int64_t r4,            \
                             const uint8_t *X, float *y) {                                               \
        const XB *xb = (const XB *)X;                                                                    \
        const size_t ahead = fl_pf_ahead(ws);                                                            \
        for (int64_t r = r0; r < r4; r += 4) {                                                           \
            const uint8_t *w = W + (size_t)r * ws;                                                       \
            fl_acc acc[4] = {acc_zero(), acc_zero(), acc_zero(), acc_zero()};                            \
            for (int64_t b = 0; b < nb; b++) {                                                           \
                const uint8_t *wb = w + (size_t)b * sizeof(WB);                                          \
                /* the cache lines starting within this block, once per row */                           \
                const uintptr_t line = ((uintptr_t)wb + 63) & ~(uintptr_t)63;                            \
                if (line < (uintptr_t)wb + sizeof(WB))                                                   \
                    FL_UNROLL for (int q = 0; q < 4; q++) __builtin_prefetch((const void *)(line + ahead + (size_t)q * ws), 0, 3); \
                FL_UNROLL for (int q = 0; q < 4; q++) {                                                            \
                    NAME##_w pw;                                                                         \
                    NAME##_prep(&pw, (const WB *)(wb + (size_t)q * ws));                                 \
                    NAME##_step(&acc[q], &pw, &xb[b]);                                                   \
                }                                                                                        \
            }                                                                                            \
            FL_UNROLL for (int q = 0; q < 4; q++) y[r + q] = acc_finish(acc[q]);                                   \
        }                                                                                                \
    }                                                                                                    \
    static void NAME##_ngemm(int64_t k, const void *wv, size_t ws, int64_t r0, int64_t r1, const void *xv, \
                             size_t xs, int64_t m, float *y, int64_t ldy) {                              \
        const uint8_t *W = (const uint8_t *)wv, *X = (const uint8_t *)xv;                                \
        const int64_t nb = k / 32;                                                                       \
        if (m == 1 && k % 32 == 0 && nb > 0) {                                                           \
            const int64_t r4 = r0 + (r1 - r0) / 4 * 4;                                                   \
            NAME##_ngemv(nb, W, ws, r0, r4, X, y);                                                       \
            for (int64_t r = r4; r < r1; r++) NAME##_rows(1, k, W + (size_t)r * ws, ws, X, xs, 1, y + r, ldy); \
            return;                                                                                      \
        }                                                                                                \
        NAME##_gemm(k, wv, ws, r0, r1, xv, xs, m, y, ldy);                                               \
    }

NGEN(q4_0, block_q4_0, block_q8_0)
NGEN(q4_1, block_q4_1, block_q8_1)
NGEN(q5_0, block_q5_0, block_q8_0)
NGEN(q5_1, block_q5_1, block_q8_1)
NGEN(q8_0, block_q8_0, block_q8_0)

void fl_fill_neon(fl_isa_table *t) {
    FL_SET_GEN_KERNELS(t);
    t->k[FLINT_TYPE_Q4_0].gemm = q4_0_ngemm;
    t->k[FLINT_TYPE_Q4_1].gemm = q4_1_ngemm;
    t->k[FLINT_TYPE_Q5_0].gemm = q5_0_ngemm;
    t->k[FLINT_TYPE_Q5_1].gemm = q5_1_ngemm;
    t->k[FLINT_TYPE_Q8_0].gemm = q8_0_ngemm;
}

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#else
#include "isa.h"
#endif
