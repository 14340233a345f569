// SIMD kernels shared by the AVX2, AVX-VNNI and AVX-512 VNNI builds (256-bit vectors).
// Included by dot_avx2.c / dot_avxvnni.c / dot_avx512.c inside a `#pragma clang attribute`
// target region with
//   FL_SFX    : name suffix of the fill function (fl_fill_<sfx>)
//   FL_VNNI   : 1 to use vpdpbusd for unsigned x signed byte dot products, through
//               FL_DPBUSD(acc, u, s) (the EVEX or the VEX encoding);
//   FL_AVX512 : 1 to add the zmm kernels (gemm_zmm*.h) over the 256-bit ones.
//
// Batch invariance: every (weight row, activation row) pair owns an accumulator `fl_acc` and
// is updated by exactly the same sequence of operations (prep of the weight block, then
// step) in whichever tile shape it is computed; vec_dot is the 1x1 tile.
#include <immintrin.h>
#include <stdlib.h>
#include "isa.h"
#include "scratch.h"

#define FL_INLINE static inline __attribute__((always_inline))
#define FL_CAT2(a, b) a##b
#define FL_CAT(a, b) FL_CAT2(a, b)

typedef struct { __m256 v; float s; } fl_acc;

FL_INLINE fl_acc acc_zero(void) { fl_acc a = {_mm256_setzero_ps(), 0.f}; return a; }

FL_INLINE float acc_finish(fl_acc a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s) + a.s;
}

FL_INLINE float h2f(fl_half h) { return _cvtsh_ss(h); }

FL_INLINE float fmadd1(float a, float b, float c) {
    return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
}

// unsigned bytes x signed bytes -> 8 x int32 (sums of 4 adjacent products).
// Without VNNI the int16 intermediate never saturates for the operand ranges used here.
FL_INLINE __m256i dot_us8(__m256i u, __m256i s) {
#if FL_VNNI
    return FL_DPBUSD(_mm256_setzero_si256(), u, s);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}

// 32 nibbles: low nibbles -> bytes 0..15, high nibbles -> bytes 16..31.
FL_INLINE __m256i unpack_nibbles16(const uint8_t *qs) {
    const __m128i t = _mm_loadu_si128((const __m128i *)qs);
    const __m256i v = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

// bit i of the 32-bit word -> byte i = 0x10 where set, else 0.
FL_INLINE __m256i bits_to_0x10(const uint8_t qh[4]) {
    uint32_t w; memcpy(&w, qh, 4);
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bitsel = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)w), shuf);
    v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bitsel), bitsel);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

// ---------------- signed 32-element weights against Q8_0 (Q4_0, Q5_0, Q8_0) ----------------
typedef struct { __m256i ax, q; float d; } w_s32;

FL_INLINE void step_s32(fl_acc *a, const w_s32 *w, const block_q8_0 *x) {
    const __m256i y = _mm256_loadu_si256((const __m256i *)x->qs);
    const __m256i p = dot_us8(w->ax, _mm256_sign_epi8(y, w->q));
    a->v = _mm256_fmadd_ps(_mm256_set1_ps(w->d * h2f(x->d)), _mm256_cvtepi32_ps(p), a->v);
}

FL_INLINE void set_s32(w_s32 *w, __m256i q, fl_half d) {
    w->q = q;
    w->ax = _mm256_sign_epi8(q, q);
    w->d = h2f(d);
}

typedef w_s32 q8_0_w, q4_0_w, q5_0_w;
FL_INLINE void q8_0_prep(q8_0_w *w, const block_q8_0 *b) { set_s32(w, _mm256_loadu_si256((const __m256i *)b->qs), b->d); }
FL_INLINE void q8_0_step(fl_acc *a, const q8_0_w *w, const block_q8_0 *x) { step_s32(a, w, x); }
FL_INLINE void q4_0_prep(q4_0_w *w, const block_q4_0 *b) {
    set_s32(w, _mm256_sub_epi8(unpack_nibbles16(b->qs), _mm256_set1_epi8(8)), b->d);
}
FL_INLINE void q4_0_step(fl_acc *a, const q4_0_w *w, const block_q8_0 *x) { step_s32(a, w, x); }
FL_INLINE void q5_0_prep(q5_0_w *w, const block_q5_0 *b) {
    const __m256i q = _mm256_or_si256(unpack_nibbles16(b->qs), bits_to_0x10(b->qh));
    set_s32(w, _mm256_sub_epi8(q, _mm256_set1_epi8(16)), b->d);
}
FL_INLINE void q5_0_step(fl_acc *a, const q5_0_w *w, const block_q8_0 *x) { step_s32(a, w, x); }

// ---------------- unsigned 32-element weights with min against Q8_1 (Q4_1, Q5_1) ----------------
typedef struct { __m256i q; float d, m; } w_u32;

FL_INLINE void step_u32(fl_acc *a, const w_u32 *w, const block_q8_1 *x) {
    const __m256i p = dot_us8(w->q, _mm256_loadu_si256((const __m256i *)x->qs));
    // The min term goes to its own scalar sum, added after the horizontal sum, in the
    // same order as GGML's x86 kernel: results then agree with llama.cpp bit for bit.
    a->v = _mm256_fmadd_ps(_mm256_set1_ps(w->d * h2f(x->d)), _mm256_cvtepi32_ps(p), a->v);
    a->s = fmadd1(w->m, h2f(x->s), a->s);
}

typedef w_u32 q4_1_w, q5_1_w;
FL_INLINE void q4_1_prep(q4_1_w *w, const block_q4_1 *b) {
    w->q = unpack_nibbles16(b->qs);
    w->d = h2f(b->d);
    w->m = h2f(b->m);
}
FL_INLINE void q4_1_step(fl_acc *a, const q4_1_w *w, const block_q8_1 *x) { step_u32(a, w, x); }
FL_INLINE void q5_1_prep(q5_1_w *w, const block_q5_1 *b) {
    w->q = _mm256_or_si256(unpack_nibbles16(b->qs), bits_to_0x10(b->qh));
    w->d = h2f(b->d);
    w->m = h2f(b->m);
}
FL_INLINE void q5_1_step(fl_acc *a, const q5_1_w *w, const block_q8_1 *x) { step_u32(a, w, x); }

// ---------------- K-quants against Q8_K ----------------
// Q4_K / Q5_K: 8 sub-blocks of 32 unsigned values, 6-bit scales and mins.
typedef struct { __m256i q[8]; __m256i mins; int16_t sc[8]; float d, dmin; } w_kaff;

FL_INLINE void kaff_scales(w_kaff *w, const uint8_t *scales, fl_half d, fl_half dmin) {
    int16_t mn[16];
    FL_UNROLL for (int j = 0; j < 8; j++) {
        uint8_t s, m;
        fl_get_scale_min_k4(j, scales, &s, &m);
        w->sc[j] = s;
        mn[2 * j] = mn[2 * j + 1] = m;
    }
    w->mins = _mm256_loadu_si256((const __m256i *)mn);
    w->d = h2f(d);
    w->dmin = h2f(dmin);
}

// Integer sums of sub-blocks j0..j1-1 (32 elements each) with their scales, in 8 lanes.
FL_INLINE __m256i kaff_sumi(const w_kaff *w, const block_q8_K *x, int j0, int j1) {
    __m256i sumi = _mm256_setzero_si256();
    for (int j = j0; j < j1; j++) {
        const __m256i y = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * j));
        const __m256i p = _mm256_maddubs_epi16(w->q[j], y);
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, _mm256_set1_epi16(w->sc[j])));
    }
    return sumi;
}

// Lane 0 <- the sum of sumi's lanes, lane 1 <- minus the sum of pm's (the Q4_K forms below;
// integer sums are exact in any order). Lanes 2-7 hold copies; the callers scale them by 0.
FL_INLINE __m256i kaff_lanes01(__m256i sumi, __m256i pm) {
    __m256i t = _mm256_add_epi32(_mm256_unpacklo_epi32(sumi, pm), _mm256_unpackhi_epi32(sumi, pm));
    t = _mm256_add_epi32(t, _mm256_shuffle_epi32(t, 0x4E));
    t = _mm256_add_epi32(t, _mm256_permute2x128_si256(t, t, 1));
    return _mm256_blend_epi32(t, _mm256_sub_epi32(_mm256_setzero_si256(), t), 0x02);
}

FL_INLINE void step_kaff(fl_acc *a, const w_kaff *w, const block_q8_K *x) {
    const __m256i sumi = kaff_sumi(w, x, 0, 8);
    const __m256i pm = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)x->bsums), w->mins);
    a->v = _mm256_fmadd_ps(_mm256_set1_ps(w->d * x->d), _mm256_cvtepi32_ps(sumi), a->v);
    a->v = _mm256_fmadd_ps(_mm256_set1_ps(-(w->dmin * x->d)), _mm256_cvtepi32_ps(pm), a->v);
}

typedef w_kaff q4_K_w, q5_K_w;
FL_INLINE void q4_K_prep(q4_K_w *w, const block_q4_K *b) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    FL_UNROLL for (int j = 0; j < 4; j++) {
        const __m256i q = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * j));
        w->q[2 * j] = _mm256_and_si256(q, m4);
        w->q[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
    }
    kaff_scales(w, b->scales, b->d, b->dmin);
}
// Q4_K follows llama.cpp's repacked Q4_K kernels (ggml_gemv/gemm_q4_K_8x8_q8_K, which it uses
// for Q4_K weights on AVX2 CPUs): per block the whole integer sum and the whole min sum, each
// scaled by a product of scales into its own float accumulator, and the two subtracted at the
// end. Here lane 0 holds the sum accumulator and lane 1 the negated min accumulator (every
// other lane stays 0), so acc_finish's reduction adds them exactly: acc - acc_min.
FL_INLINE void q4_K_step(fl_acc *a, const q4_K_w *w, const block_q8_K *x) {
    const __m256i pm = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)x->bsums), w->mins);
    const __m256 scale = _mm256_setr_ps(w->d * x->d, w->dmin * x->d, 0, 0, 0, 0, 0, 0);
    a->v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(kaff_lanes01(kaff_sumi(w, x, 0, 8), pm)), scale, a->v);
}

// q4_K_step as llama.cpp's 4-row Q4_K GEMM computes it: both accumulators are updated after
// each pair of sub-blocks (64 elements). pm's lanes 2p and 2p+1 hold the pair's min terms.
typedef q4_K_w q4_K_gemm4_w;
#define q4_K_gemm4_prep q4_K_prep
FL_INLINE void q4_K_gemm4_step(fl_acc *a, const q4_K_w *w, const block_q8_K *x) {
    const __m256i pm = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)x->bsums), w->mins);
    const __m256 scale = _mm256_setr_ps(w->d * x->d, w->dmin * x->d, 0, 0, 0, 0, 0, 0);
    FL_UNROLL for (int p = 0; p < 4; p++) {
        const __m256i pmp = _mm256_and_si256(pm, _mm256_cmpeq_epi32(_mm256_srli_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), 1),
                                                                   _mm256_set1_epi32(p)));
        const __m256i t = kaff_lanes01(kaff_sumi(w, x, 2 * p, 2 * p + 2), pmp);
        a->v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t), scale, a->v);
    }
}

FL_INLINE void q5_K_prep(q5_K_w *w, const block_q5_K *b) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    const __m256i hb = _mm256_loadu_si256((const __m256i *)b->qh);
    FL_UNROLL for (int j = 0; j < 4; j++) {
        const __m256i q = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * j));
        const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j), one), 4);
        const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * j + 1), one), 4);
        w->q[2 * j] = _mm256_or_si256(_mm256_and_si256(q, m4), h0);
        w->q[2 * j + 1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), h1);
    }
    kaff_scales(w, b->scales, b->d, b->dmin);
}
FL_INLINE void q5_K_step(fl_acc *a, const q5_K_w *w, const block_q8_K *x) { step_kaff(a, w, x); }

// Q6_K: 16 sub-blocks of 16 values 0..63 (offset 32), int8 scales.
typedef struct { __m256i q[8]; __m256i sc16[8]; __m256i scales; float d; } q6_K_w;

FL_INLINE void q6_K_prep(q6_K_w *w, const block_q6_K *b) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3);
    FL_UNROLL for (int h = 0; h < 2; h++) {
        const __m256i l0 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h));
        const __m256i l1 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h + 32));
        const __m256i hb = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h));
        const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(hb, m3), 4);
        const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m3), 4);
        const __m256i h2 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m3), 4);
        const __m256i h3 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m3), 4);
        w->q[4 * h + 0] = _mm256_or_si256(_mm256_and_si256(l0, m4), h0);
        w->q[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(l1, m4), h1);
        w->q[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), h2);
        w->q[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), h3);
    }
    FL_UNROLL for (int c = 0; c < 8; c++)
        w->sc16[c] = _mm256_set_m128i(_mm_set1_epi16(b->scales[2 * c + 1]), _mm_set1_epi16(b->scales[2 * c]));
    w->scales = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
    w->d = h2f(b->d);
}

// A Q6_K block's integer sums in 8 lanes: the 6-bit values as unsigned (q + 32) times the
// activations, scaled per 16 elements, minus 32 times the scaled activation sums.
FL_INLINE __m256i q6_K_sumi(const q6_K_w *w, const block_q8_K *x) {
    __m256i sumi = _mm256_setzero_si256();
    FL_UNROLL for (int c = 0; c < 8; c++) {
        const __m256i y = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * c));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(w->q[c], y), w->sc16[c]));
    }
    const __m256i pm = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)x->bsums), w->scales);
    sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(pm, 5));
    return sumi;
}

FL_INLINE void q6_K_step(fl_acc *a, const q6_K_w *w, const block_q8_K *x) {
    const __m256i sumi = q6_K_sumi(w, x);
    a->v = _mm256_fmadd_ps(_mm256_set1_ps(w->d * x->d), _mm256_cvtepi32_ps(sumi), a->v);
}

// q6_K_step as llama.cpp's tiled K-quant GEMM computes it (dot_q6_K_tiled): lane 0 of the
// accumulator gets ((float)sum * d_w) * d_x per block, the other lanes stay 0.
typedef q6_K_w q6_K_tiled_w;
#define q6_K_tiled_prep q6_K_prep
FL_INLINE void q6_K_tiled_step(fl_acc *a, const q6_K_w *w, const block_q8_K *x) {
    __m256i sumi = q6_K_sumi(w, x);
    sumi = _mm256_add_epi32(sumi, _mm256_shuffle_epi32(sumi, 0x4E));
    sumi = _mm256_add_epi32(sumi, _mm256_shuffle_epi32(sumi, 0xB1));
    sumi = _mm256_add_epi32(sumi, _mm256_permute2x128_si256(sumi, sumi, 1));
    const __m256 r = _mm256_mul_ps(_mm256_cvtepi32_ps(sumi), _mm256_setr_ps(w->d, 0, 0, 0, 0, 0, 0, 0));
    a->v = _mm256_fmadd_ps(r, _mm256_set1_ps(x->d), a->v);
}

// ---------------- float types: "blocks" of 8 elements, scalar tail ----------------
typedef struct { float f[8]; } blk_f32;
typedef struct { uint16_t h[8]; } blk_h8;
typedef __m256 f32_w, f16_w, bf16_w;

FL_INLINE void f32_prep(f32_w *w, const blk_f32 *b) { *w = _mm256_loadu_ps(b->f); }
FL_INLINE void f32_step(fl_acc *a, const f32_w *w, const blk_f32 *x) { a->v = _mm256_fmadd_ps(*w, _mm256_loadu_ps(x->f), a->v); }
FL_INLINE float f32_elem(const void *p, int64_t i) { return ((const float *)p)[i]; }

FL_INLINE __m256 load_h8(const blk_h8 *b) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)b->h)); }
FL_INLINE void f16_prep(f16_w *w, const blk_h8 *b) { *w = load_h8(b); }
FL_INLINE void f16_step(fl_acc *a, const f16_w *w, const blk_h8 *x) { a->v = _mm256_fmadd_ps(*w, load_h8(x), a->v); }
FL_INLINE float f16_elem(const void *p, int64_t i) { return h2f(((const uint16_t *)p)[i]); }

FL_INLINE __m256 load_bf8(const blk_h8 *b) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)b->h));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}
FL_INLINE void bf16_prep(bf16_w *w, const blk_h8 *b) { *w = load_bf8(b); }
FL_INLINE void bf16_step(fl_acc *a, const bf16_w *w, const blk_h8 *x) { a->v = _mm256_fmadd_ps(*w, load_bf8(x), a->v); }
FL_INLINE float bf16_elem(const void *p, int64_t i) { return fl_bf2f(((const uint16_t *)p)[i]); }

#include "gemm_tiles.h"

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

#include "gemv_ymm.h"
#if !FL_AVX512
#include "gemm_ymm.h"
#include "gemm_ymm_k.h"
#endif
#if FL_AVX512
#include "gemm_zmm.h"
#include "gemm_zmm_k.h"
#include "gemm_zmm_t.h"
// One activation row on gemv_ymm.h's sequential GEMV, more on the zmm tiles.
YMV1(q4_0, QK4_0, q4_0_tgemm_mv)
YMV1(q4_1, QK4_1, q4_1_tgemm_mv)
YMV1(q5_0, QK5_0, q5_0_tgemm_mv)
YMV1(q8_0, QK8_0, q8_0_tgemm_mv)
YMV1(q4_K, QK_K, q4_K_zkgemm)
YMV1(q4_K_gemm4, QK_K, q4_K_gemm4_zkgemm)
YMV1(q6_K, QK_K, q6_K_zkgemm)
YMV1(q6_K_tiled, QK_K, q6_K_tiled_zkgemm)
#endif

void FL_CAT(fl_fill_, FL_SFX)(fl_isa_table *t) {
    FL_SET_GEN_KERNELS(t);
#if !FL_AVX512
    // One activation row: gemv_ymm.h; more: the transposed 8-row tiles (gemm_ymm.h, gemm_ymm_k.h).
    t->k[FLINT_TYPE_Q4_0].gemm = q4_0_ygemm;
    t->k[FLINT_TYPE_Q4_1].gemm = q4_1_ygemm;
    t->k[FLINT_TYPE_Q5_0].gemm = q5_0_ygemm;
    t->k[FLINT_TYPE_Q8_0].gemm = q8_0_ygemm;
    t->k[FLINT_TYPE_Q4_K].gemm = q4_K_ykgemm;
    t->k[FL_SLOT_Q4_K_GEMM4].gemm = q4_K_gemm4_ykgemm;
    t->k[FLINT_TYPE_Q6_K].gemm = q6_K_ykgemm;
    t->k[FL_SLOT_Q6_K_TILED].gemm = q6_K_tiled_ykgemm;
#endif
#if FL_AVX512
    // One activation row: gemv_ymm.h. More: 16-row transposed tiles (gemm_zmm_t.h) and 4 x 8
    // tiles on zmm pairs of weight rows (gemm_zmm.h) for the rest; K-quants on gemm_zmm_k.h;
    // vec_dot stays the 1x1 tile.
    t->k[FLINT_TYPE_Q4_0].gemm = q4_0_mv1;
    t->k[FLINT_TYPE_Q4_1].gemm = q4_1_mv1;
    t->k[FLINT_TYPE_Q5_0].gemm = q5_0_mv1;
    t->k[FLINT_TYPE_Q5_1].gemm = q5_1_zgemm;
    t->k[FLINT_TYPE_Q8_0].gemm = q8_0_mv1;
    t->k[FLINT_TYPE_Q4_K].gemm = q4_K_mv1;  // gemm_zmm_k.h: m > 8
    t->k[FL_SLOT_Q4_K_GEMM4].gemm = q4_K_gemm4_mv1;
    t->k[FLINT_TYPE_Q6_K].gemm = q6_K_mv1;
    t->k[FL_SLOT_Q6_K_TILED].gemm = q6_K_tiled_mv1;
#endif
}
