// AVX-512 kernels for Q4_K and Q6_K against Q8_K (included by simd_impl.h when FL_AVX512).
//
// Two weight rows share one zmm (row a in the low 256 bits, row c in the high 256 bits). Per
// pair the arithmetic is that of q4_K_step / q6_K_step (simd_impl.h):
//   - every int32 lane of sumi / pm has the same value: vpmaddubsw on the same byte lanes (no
//     saturation for these operand ranges), then the per-sub-block int16 scale applied with
//     vpdpwssd (exact int32 multiply-add; integer addition order does not matter),
//   - the float operations are the same per lane and in the same order: Q6_K fmadd(d_w * d_x,
//     float(sumi), acc); Q4_K the two-accumulator form described at q4_K_step,
//   - acc_finish() on the pair's 8 lanes.
// Hence results are bit-identical to vec_dot for every (weight row, activation row) pair.
#ifndef FLINT_GEMM_ZMM_K_H
#define FLINT_GEMM_ZMM_K_H

#define ZK_NM 8

// vpdpwssd as one instruction: clang's generic tuning otherwise splits it into vpmaddwd + vpaddd.
FL_INLINE __m512i zk_dpwssd(__m512i acc, __m512i a, __m512i b) {
    __asm__("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
}

// Integer sums of one block for NM activation rows: vpmaddubsw of the unpacked weights and
// each row's bytes, scaled per 32 elements by vpdpwssd (exact int32 arithmetic).
FL_INLINE void zk_block_sums(const int nm, const __m512i *q, const __m512i *sc, const block_q8_K *const *x,
                             __m512i *sumi) {
    FL_UNROLL for (int i = 0; i < nm; i++) sumi[i] = _mm512_setzero_si512();
    FL_UNROLL for (int j = 0; j < 8; j++)
        FL_UNROLL for (int i = 0; i < nm; i++) {
            const __m512i y = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x[i]->qs + 32 * j)));
            sumi[i] = zk_dpwssd(sumi[i], _mm512_maddubs_epi16(q[j], y), sc[j]);
        }
}

// ---- Q4_K ----
typedef struct { __m512i q[8], sc[8], mins; __m512 dd; } zk4_w;  // dd: d, dmin, 0 x 6 per row

// 6-bit scales and mins of one Q4_K block (same values as fl_get_scale_min_k4):
// out[0..1] = scales 0..7 (bytes), out[2..3] = mins 0..7.
FL_INLINE void zk4_scales(const uint8_t *s, uint32_t *sc, uint32_t *mn) {
    uint32_t u[3];
    memcpy(u, s, 12);
    sc[0] = u[0] & 0x3f3f3f3f;
    sc[1] = (u[2] & 0x0f0f0f0f) | (((u[0] >> 6) & 0x03030303) << 4);
    mn[0] = u[1] & 0x3f3f3f3f;
    mn[1] = ((u[2] >> 4) & 0x0f0f0f0f) | (((u[1] >> 6) & 0x03030303) << 4);
}

static const int16_t zk4_min_idx[32] = {16, 16, 17, 17, 18, 18, 19, 19, 20, 20, 21, 21, 22, 22, 23, 23,
                                        24, 24, 25, 25, 26, 26, 27, 27, 28, 28, 29, 29, 30, 30, 31, 31};

FL_INLINE void zk4_prep(zk4_w *w, const block_q4_K *a, const block_q4_K *c) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    FL_UNROLL for (int j = 0; j < 4; j++) {
        const __m512i q = z_pair(_mm256_loadu_si256((const __m256i *)(a->qs + 32 * j)),
                                 _mm256_loadu_si256((const __m256i *)(c->qs + 32 * j)));
        w->q[2 * j] = _mm512_and_si512(q, m4);
        w->q[2 * j + 1] = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
    }
    // bytes: a scales, c scales, a mins, c mins -> words 0-7, 8-15, 16-23, 24-31
    uint32_t t[8];
    zk4_scales(a->scales, t, t + 4);
    zk4_scales(c->scales, t + 2, t + 6);
    const __m512i all = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)t));
    const __m512i hi8 = _mm512_mask_blend_epi16(0xFFFF0000u, _mm512_setzero_si512(), _mm512_set1_epi16(8));
    FL_UNROLL for (int j = 0; j < 8; j++)
        w->sc[j] = _mm512_permutexvar_epi16(_mm512_add_epi16(hi8, _mm512_set1_epi16((short)j)), all);
    w->mins = _mm512_permutexvar_epi16(_mm512_loadu_si512((const void *)zk4_min_idx), all);
    // d, dmin of both rows in one conversion (same values as h2f)
    uint32_t ha, hc;
    memcpy(&ha, &a->d, 4);
    memcpy(&hc, &c->d, 4);
    const __m512 f = _mm512_castps128_ps512(_mm_cvtph_ps(_mm_setr_epi32((int)ha, (int)hc, 0, 0)));
    w->dd = _mm512_maskz_permutexvar_ps(0x0303, _mm512_setr_epi32(0, 1, 0, 0, 0, 0, 0, 0, 2, 3, 0, 0, 0, 0, 0, 0), f);
}

// One block of NM activation rows against one prepped pair.
FL_INLINE void zk4_dot(const int nm, const zk4_w *w, const block_q8_K *const *x, __m512 *acc) {
    __m512i sumi[ZK_NM];
    zk_block_sums(nm, w->q, w->sc, x, sumi);
    // q4_K_step's arithmetic (simd_impl.h) on both rows of the pair: lanes 0 and 8 accumulate
    // the sums, lanes 1 and 9 the negated min sums; the other lanes stay 0.
    FL_UNROLL for (int i = 0; i < nm; i++) {
        const __m512i pm = _mm512_madd_epi16(_mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)x[i]->bsums)), w->mins);
        __m512i t = _mm512_add_epi32(_mm512_unpacklo_epi32(sumi[i], pm), _mm512_unpackhi_epi32(sumi[i], pm));
        t = _mm512_add_epi32(t, _mm512_shuffle_epi32(t, (_MM_PERM_ENUM)0x4E));
        t = _mm512_add_epi32(t, _mm512_shuffle_i32x4(t, t, 0xB1));
        t = _mm512_mask_sub_epi32(t, 0x0202, _mm512_setzero_si512(), t);
        acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), _mm512_mul_ps(w->dd, _mm512_set1_ps(x[i]->d)), acc[i]);
    }
}

// q4_K_gemm4_step's arithmetic (simd_impl.h) on both rows of the pair: the accumulators are
// updated after each pair of sub-blocks. The four pairs' integer sums are reduced together
// (integer addition in any order is exact) into C: lanes 0-3 the sums S_p of row a, 4-7 its
// negated min sums -M_p, 8-15 the same for row c; then for p = 0..3 in order the lanes of
// pair p are moved to lanes 0, 1, 8, 9 and fused into the accumulators as q4_K_gemm4_step does.
FL_INLINE void zk4_gemm4_dot(const int nm, const zk4_w *w, const block_q8_K *const *x, __m512 *acc) {
    const __m512i to_c = _mm512_setr_epi32(0, 1, 2, 3, 16, 18, 20, 22, 8, 9, 10, 11, 24, 26, 28, 30);
    FL_UNROLL for (int i = 0; i < nm; i++) {
        __m512i s[4];
        FL_UNROLL for (int p = 0; p < 4; p++) {
            s[p] = _mm512_setzero_si512();
            for (int j = 2 * p; j < 2 * p + 2; j++) {
                const __m512i y = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x[i]->qs + 32 * j)));
                s[p] = zk_dpwssd(s[p], _mm512_maddubs_epi16(w->q[j], y), w->sc[j]);
            }
        }
        // per 128-bit lane: [s0, s1, s2, s3] each summed over the lane's 4 values
        const __m512i u01 = _mm512_add_epi32(_mm512_unpacklo_epi32(s[0], s[1]), _mm512_unpackhi_epi32(s[0], s[1]));
        const __m512i u23 = _mm512_add_epi32(_mm512_unpacklo_epi32(s[2], s[3]), _mm512_unpackhi_epi32(s[2], s[3]));
        __m512i r = _mm512_add_epi32(_mm512_unpacklo_epi64(u01, u23), _mm512_unpackhi_epi64(u01, u23));
        r = _mm512_add_epi32(r, _mm512_shuffle_i32x4(r, r, 0xB1));  // lanes 0-3: row a, 8-11: row c
        // min terms: pm lane 2p + 2p+1 of each row is M_p
        const __m512i pm = _mm512_madd_epi16(_mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)x[i]->bsums)), w->mins);
        const __m512i m = _mm512_add_epi32(pm, _mm512_shuffle_epi32(pm, (_MM_PERM_ENUM)0xB1));
        __m512i c = _mm512_permutex2var_epi32(r, to_c, m);
        c = _mm512_mask_sub_epi32(c, 0xF0F0, _mm512_setzero_si512(), c);
        const __m512 f = _mm512_cvtepi32_ps(c);
        const __m512 scale = _mm512_mul_ps(w->dd, _mm512_set1_ps(x[i]->d));
        FL_UNROLL for (int p = 0; p < 4; p++) {
            const __m512i idx = _mm512_setr_epi32(p, 4 + p, 0, 0, 0, 0, 0, 0, 8 + p, 12 + p, 0, 0, 0, 0, 0, 0);
            acc[i] = _mm512_fmadd_ps(_mm512_maskz_permutexvar_ps(0x0303, idx, f), scale, acc[i]);
        }
    }
}

// ---- Q6_K ----
typedef struct { __m512i q[8], sc[8], scales; __m512 d, d0; } zk6_w;  // d0: d, 0 x 7 per row

FL_INLINE void zk6_prep(zk6_w *w, const block_q6_K *a, const block_q6_K *c) {
    const __m512i m4 = _mm512_set1_epi8(0x0F), m3 = _mm512_set1_epi8(3);
    FL_UNROLL for (int h = 0; h < 2; h++) {
        const __m512i l0 = z_pair(_mm256_loadu_si256((const __m256i *)(a->ql + 64 * h)),
                                  _mm256_loadu_si256((const __m256i *)(c->ql + 64 * h)));
        const __m512i l1 = z_pair(_mm256_loadu_si256((const __m256i *)(a->ql + 64 * h + 32)),
                                  _mm256_loadu_si256((const __m256i *)(c->ql + 64 * h + 32)));
        const __m512i hb = z_pair(_mm256_loadu_si256((const __m256i *)(a->qh + 32 * h)),
                                  _mm256_loadu_si256((const __m256i *)(c->qh + 32 * h)));
        const __m512i h0 = _mm512_slli_epi16(_mm512_and_si512(hb, m3), 4);
        const __m512i h1 = _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hb, 2), m3), 4);
        const __m512i h2 = _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hb, 4), m3), 4);
        const __m512i h3 = _mm512_slli_epi16(_mm512_and_si512(_mm512_srli_epi16(hb, 6), m3), 4);
        w->q[4 * h + 0] = _mm512_or_si512(_mm512_and_si512(l0, m4), h0);
        w->q[4 * h + 1] = _mm512_or_si512(_mm512_and_si512(l1, m4), h1);
        w->q[4 * h + 2] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l0, 4), m4), h2);
        w->q[4 * h + 3] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l1, 4), m4), h3);
    }
    // words 0-15: a's 16 scales, 16-31: c's
    const __m512i all = _mm512_cvtepi8_epi16(_mm256_set_m128i(_mm_loadu_si128((const __m128i *)c->scales),
                                                              _mm_loadu_si128((const __m128i *)a->scales)));
    w->scales = all;
    // sc[c]: words 0-7 scale 2c, 8-15 scale 2c+1 (row a), same +16 for row c
    static const int16_t base[32] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                     16, 16, 16, 16, 16, 16, 16, 16, 17, 17, 17, 17, 17, 17, 17, 17};
    const __m512i bi = _mm512_loadu_si512((const void *)base);
    FL_UNROLL for (int cc = 0; cc < 8; cc++)
        w->sc[cc] = _mm512_permutexvar_epi16(_mm512_add_epi16(bi, _mm512_set1_epi16((short)(2 * cc))), all);
    w->d = z_pairf(h2f(a->d), h2f(c->d));
    w->d0 = _mm512_maskz_mov_ps(0x0101, w->d);
}

FL_INLINE void zk6_dot(const int nm, const zk6_w *w, const block_q8_K *const *x, __m512 *acc) {
    __m512i sumi[ZK_NM];
    zk_block_sums(nm, w->q, w->sc, x, sumi);
    FL_UNROLL for (int i = 0; i < nm; i++) {
        const __m512i pm = _mm512_madd_epi16(_mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)x[i]->bsums)), w->scales);
        const __m512i s = _mm512_sub_epi32(sumi[i], _mm512_slli_epi32(pm, 5));
        acc[i] = _mm512_fmadd_ps(_mm512_mul_ps(w->d, _mm512_set1_ps(x[i]->d)), _mm512_cvtepi32_ps(s), acc[i]);
    }
}

// q6_K_tiled_step's arithmetic (simd_impl.h) on both rows of the pair (lanes 0 and 8).
FL_INLINE void zk6_tiled_dot(const int nm, const zk6_w *w, const block_q8_K *const *x, __m512 *acc) {
    __m512i sumi[ZK_NM];
    zk_block_sums(nm, w->q, w->sc, x, sumi);
    FL_UNROLL for (int i = 0; i < nm; i++) {
        const __m512i pm = _mm512_madd_epi16(_mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)x[i]->bsums)), w->scales);
        __m512i t = _mm512_sub_epi32(sumi[i], _mm512_slli_epi32(pm, 5));
        t = _mm512_add_epi32(t, _mm512_shuffle_epi32(t, (_MM_PERM_ENUM)0x4E));
        t = _mm512_add_epi32(t, _mm512_shuffle_epi32(t, (_MM_PERM_ENUM)0xB1));
        t = _mm512_add_epi32(t, _mm512_shuffle_i32x4(t, t, 0xB1));
        const __m512 r = _mm512_mul_ps(_mm512_cvtepi32_ps(t), w->d0);
        acc[i] = _mm512_fmadd_ps(r, _mm512_set1_ps(x[i]->d), acc[i]);
    }
}

#define ZKGEN(NAME, WB, ZW, PREP, DOT)                                                                     \
    FL_INLINE void NAME##_zktile(const int nm, int64_t nb, const ZW *pw, const uint8_t *X, size_t xs,    \
                                 float *y, int64_t ldy) {                                                 \
        __m512 acc[2][ZK_NM];                                                                             \
        FL_UNROLL for (int p = 0; p < 2; p++)                                                                       \
            FL_UNROLL for (int i = 0; i < nm; i++) acc[p][i] = _mm512_setzero_ps();                                 \
        for (int64_t b = 0; b < nb; b++) {                                                                \
            const block_q8_K *xp[ZK_NM];                                                                  \
            FL_UNROLL for (int i = 0; i < nm; i++) xp[i] = (const block_q8_K *)(X + (size_t)i * xs) + b;            \
            DOT(nm, &pw[2 * b], xp, acc[0]);                                                              \
            DOT(nm, &pw[2 * b + 1], xp, acc[1]);                                                          \
        }                                                                                                 \
        FL_UNROLL for (int p = 0; p < 2; p++)                                                                       \
            FL_UNROLL for (int i = 0; i < nm; i++) {                                                                \
                y[i * ldy + 2 * p] = z_finish(_mm512_castps512_ps256(acc[p][i]), 0.f);                    \
                y[i * ldy + 2 * p + 1] = z_finish(_mm512_extractf32x8_ps(acc[p][i], 1), 0.f);             \
            }                                                                                             \
    }                                                                                                     \
    /* m > 8: unpack each 4-row group once, then stream all activation rows over it */                    \
    static int NAME##_zkbig(int64_t nb, const uint8_t *W, size_t ws, int64_t r0, int64_t r4,             \
                            const uint8_t *X, size_t xs, int64_t m, float *y, int64_t ldy) {              \
        ZW *pw = (ZW *)fl_scratch(0, sizeof(ZW) * 2 * (size_t)nb);                                    \
        if (!pw) return 0;                                                                                \
        const size_t ahead = fl_pf_ahead(ws);                                                             \
        for (int64_t r = r0; r < r4; r += 4) {                                                            \
            const WB *w0 = (const WB *)(W + (size_t)r * ws), *w1 = (const WB *)((const uint8_t *)w0 + ws), \
                     *w2 = (const WB *)((const uint8_t *)w1 + ws), *w3 = (const WB *)((const uint8_t *)w2 + ws); \
            for (int64_t b = 0; b < nb; b++) {                                                            \
                const char *pf = (const char *)&w0[b] + ahead;                                            \
                FL_UNROLL for (int q_ = 0; q_ < 4; q_++)                                                            \
                    for (size_t o_ = 0; o_ < sizeof(WB); o_ += 64) _mm_prefetch(pf + q_ * ws + o_, _MM_HINT_T0); \
                PREP(&pw[2 * b], &w0[b], &w1[b]);                                                         \
                PREP(&pw[2 * b + 1], &w2[b], &w3[b]);                                                     \
            }                                                                                             \
            int64_t i = 0;                                                                                \
            for (; i + ZK_NM <= m; i += ZK_NM) NAME##_zktile(ZK_NM, nb, pw, X + (size_t)i * xs, xs, y + i * ldy + r, ldy); \
            switch (m - i) {                                                                              \
            case 1: NAME##_zktile(1, nb, pw, X + (size_t)i * xs, xs, y + i * ldy + r, ldy); break;        \
            case 2: NAME##_zktile(2, nb, pw, X + (size_t)i * xs, xs, y + i * ldy + r, ldy); break;        \
            case 3: NAME##_zktile(3, nb, pw, X + (size_t)i * xs, xs, y + i * ldy + r, ldy); break;        \
            case 4: NAME##_zktile(4, nb, pw, X + (size_t)i * xs, xs, y + i * ldy + r, ldy); break;        \
            case 5: NAME##_zktile(5, nb, pw, X + (size_t)i * xs, xs, y + i * ldy + r, ldy); break;        \
            case 6: NAME##_zktile(6, nb, pw, X + (size_t)i * xs, xs, y + i * ldy + r, ldy); break;        \
            case 7: NAME##_zktile(7, nb, pw, X + (size_t)i * xs, xs, y + i * ldy + r, ldy); break;        \
            default: break;                                                                               \
            }                                                                                             \
        }                                                                                                 \
        return 1;                                                                                         \
    }                                                                                                     \
    static void NAME##_zkgemm(int64_t k, const void *wv, size_t ws, int64_t r0, int64_t r1, const void *xv, \
                              size_t xs, int64_t m, float *y, int64_t ldy) {                              \
        const uint8_t *W = (const uint8_t *)wv, *X = (const uint8_t *)xv;                                 \
        const int64_t nb = k / QK_K, r4 = r0 + (r1 - r0) / 4 * 4;                                         \
        const int done = nb > 0 && r4 > r0 && m > ZNM && NAME##_zkbig(nb, W, ws, r0, r4, X, xs, m, y, ldy); \
        if (!done) { NAME##_gemm(k, wv, ws, r0, r1, xv, xs, m, y, ldy); return; }                         \
        for (int64_t r = r4; r < r1; r++) NAME##_rows(1, k, W + (size_t)r * ws, ws, X, xs, m, y + r, ldy); \
    }

ZKGEN(q4_K, block_q4_K, zk4_w, zk4_prep, zk4_dot)
ZKGEN(q4_K_gemm4, block_q4_K, zk4_w, zk4_prep, zk4_gemm4_dot)
ZKGEN(q6_K, block_q6_K, zk6_w, zk6_prep, zk6_dot)
ZKGEN(q6_K_tiled, block_q6_K, zk6_w, zk6_prep, zk6_tiled_dot)

#endif
