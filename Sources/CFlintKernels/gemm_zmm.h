// AVX-512 gemm tiles for 32-element block types (included by simd_impl.h when FL_AVX512).
//
// A tile is 4 weight rows x NM (<= 8) activation rows. Two weight rows share one zmm register
// (row 2p in the low 256 bits, row 2p+1 in the high 256 bits), so every 512-bit instruction
// advances two (weight row, activation row) pairs. Per pair the arithmetic is exactly that of
// the 256-bit step functions (simd_impl.h):
//   - the weight block is unpacked by the same NAME##_prep,
//   - p (8 x int32) has the same per-lane integer values (vpdpbusd on the same byte lanes;
//     the vpsignb of the signed types is reproduced by a masked negation, wrap included),
//   - acc.v = fmadd(d_w * d_x, float(p), acc.v) lane by lane, with d_w * d_x the same single
//     float product; the Q4_1/Q5_1 min term acc.s = fmadd(m_w, s_x, acc.s) is kept per pair in
//     its own vector lane,
//   - acc_finish() on the pair's 8 lanes and its acc.s.
// Hence results are bit-identical to vec_dot (the 1x1 tile of gemm_tiles.h) for every pair.
#ifndef FLINT_GEMM_ZMM_H
#define FLINT_GEMM_ZMM_H

FL_INLINE __m512i z_pair(__m256i a, __m256i b) { return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1); }
FL_INLINE __m512 z_pairf(float a, float b) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(a)), _mm256_set1_ps(b), 1);
}
FL_INLINE float z_finish(__m256 v, float s) { fl_acc a; a.v = v; a.s = s; return acc_finish(a); }

#define ZNM 8

// Prepped weights of one 4-row group and block, shared by all activation tiles (m > ZNM).
typedef struct { __m512i q[2]; __m512 dw[2], mw[2]; __mmask64 neg[2]; } z_wblk;

#define ZGENB(NAME, WB, XB, HAS_MIN)                                                                       \
    FL_INLINE void NAME##_zprep(int64_t nb, const uint8_t *w, size_t ws, z_wblk *pw) {                   \
        const size_t ahead = fl_pf_ahead(ws);                                                             \
        for (int64_t b = 0; b < nb; b++) {                                                                \
            FL_UNROLL for (int q_ = 0; q_ < 4; q_++)                                                                \
                _mm_prefetch((const char *)((const WB *)(w + ahead + (size_t)q_ * ws) + b), _MM_HINT_T0);     \
            FL_UNROLL for (int p = 0; p < 2; p++) {                                                                 \
                NAME##_w w0, w1;                                                                          \
                NAME##_prep(&w0, (const WB *)(w + (size_t)(2 * p) * ws) + b);                             \
                NAME##_prep(&w1, (const WB *)(w + (size_t)(2 * p + 1) * ws) + b);                         \
                pw[b].dw[p] = z_pairf(w0.d, w1.d);                                                        \
                const __m512i q = z_pair(w0.q, w1.q);                                                     \
                if (HAS_MIN) {                                                                            \
                    pw[b].q[p] = q;                                                                       \
                    pw[b].mw[p] = z_pairf(FL_ZMIN(w0), FL_ZMIN(w1));                                      \
                } else {                                                                                  \
                    pw[b].q[p] = _mm512_abs_epi8(q);                                                      \
                    pw[b].neg[p] = _mm512_movepi8_mask(q);                                                \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
    }                                                                                                     \
    FL_INLINE void NAME##_ztileb(const int nm, int64_t nb, const z_wblk *pw, const uint8_t *x,           \
                                 size_t xs, const float *dx, const float *sx, float *y, int64_t ldy) {     \
        __m512 acc[2][ZNM], accs[2];                                                                      \
        FL_UNROLL for (int p = 0; p < 2; p++) {                                                                     \
            accs[p] = _mm512_setzero_ps();                                                                \
            FL_UNROLL for (int i = 0; i < nm; i++) acc[p][i] = _mm512_setzero_ps();                                 \
        }                                                                                                 \
        for (int64_t b = 0; b < nb; b++) {                                                                \
            if (HAS_MIN) {                                                                                \
                const __m512 sxb = _mm512_broadcast_f32x8(_mm256_loadu_ps(sx + b * ZNM));                 \
                FL_UNROLL for (int p = 0; p < 2; p++) accs[p] = _mm512_fmadd_ps(pw[b].mw[p], sxb, accs[p]);        \
            }                                                                                             \
            FL_UNROLL for (int i = 0; i < nm; i++) {                                                                \
                const XB *xb = (const XB *)(x + (size_t)i * xs) + b;                                      \
                const __m512i xv = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)xb->qs));  \
                const __m512 dxi = _mm512_set1_ps(dx[b * ZNM + i]);                                       \
                FL_UNROLL for (int p = 0; p < 2; p++) {                                                             \
                    __m512i pz;                                                                           \
                    if (HAS_MIN) pz = _mm512_dpbusd_epi32(_mm512_setzero_si512(), pw[b].q[p], xv);       \
                    else pz = _mm512_dpbusd_epi32(_mm512_setzero_si512(), pw[b].q[p],                    \
                                                  _mm512_mask_sub_epi8(xv, pw[b].neg[p], _mm512_setzero_si512(), xv)); \
                    acc[p][i] = _mm512_fmadd_ps(_mm512_mul_ps(pw[b].dw[p], dxi), _mm512_cvtepi32_ps(pz), acc[p][i]); \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
        FL_UNROLL for (int p = 0; p < 2; p++) {                                                                     \
            float s[16];                                                                                  \
            _mm512_storeu_ps(s, accs[p]);                                                                 \
            FL_UNROLL for (int i = 0; i < nm; i++) {                                                                \
                y[i * ldy + 2 * p] = z_finish(_mm512_castps512_ps256(acc[p][i]), HAS_MIN ? s[i] : 0.f);   \
                y[i * ldy + 2 * p + 1] = z_finish(_mm512_extractf32x8_ps(acc[p][i], 1), HAS_MIN ? s[8 + i] : 0.f); \
            }                                                                                             \
        }                                                                                                 \
    }                                                                                                     \
    /* m > ZNM: activation scales for all tiles, then per 4-row group one prep and all tiles */          \
    static int NAME##_zgemm_big(int64_t nb, const uint8_t *W, size_t ws, int64_t r0, int64_t r4,        \
                                const uint8_t *X, size_t xs, int64_t m, float *y, int64_t ldy) {         \
        const int64_t nt = (m + ZNM - 1) / ZNM;                                                           \
        float *sc = (float *)fl_scratch(0, sizeof(float) * 2 * ZNM * (size_t)(nb * nt));                 \
        z_wblk *pw = (z_wblk *)fl_scratch(1, sizeof(z_wblk) * (size_t)nb);                               \
        if (!sc || !pw) return 0;                                                                         \
        for (int64_t t = 0; t < nt; t++) {                                                                \
            float *dx = sc + 2 * ZNM * nb * t, *sx = dx + ZNM * nb;                                       \
            const int64_t i0 = t * ZNM;                                                                   \
            for (int64_t b = 0; b < nb; b++)                                                              \
                FL_UNROLL for (int i = 0; i < ZNM; i++) {                                                           \
                    const int ok = i0 + i < m;                                                            \
                    const XB *xb = (const XB *)(X + (size_t)(ok ? i0 + i : 0) * xs) + b;                  \
                    dx[b * ZNM + i] = ok ? h2f(xb->d) : 0.f;                                              \
                    sx[b * ZNM + i] = ok ? FL_ZXS(xb) : 0.f;                                              \
                }                                                                                         \
        }                                                                                                 \
        for (int64_t r = r0; r < r4; r += 4) {                                                            \
            NAME##_zprep(nb, W + (size_t)r * ws, ws, pw);                                                 \
            for (int64_t t = 0; t < nt; t++) {                                                            \
                const float *dx = sc + 2 * ZNM * nb * t, *sx = dx + ZNM * nb;                             \
                const int64_t i0 = t * ZNM;                                                               \
                const int nm = (int)(m - i0 < ZNM ? m - i0 : ZNM);                                        \
                const uint8_t *xt = X + (size_t)i0 * xs;                                                  \
                float *yt = y + i0 * ldy + r;                                                             \
                switch (nm) {                                                                             \
                case 1: NAME##_ztileb(1, nb, pw, xt, xs, dx, sx, yt, ldy); break;                         \
                case 2: NAME##_ztileb(2, nb, pw, xt, xs, dx, sx, yt, ldy); break;                         \
                case 3: NAME##_ztileb(3, nb, pw, xt, xs, dx, sx, yt, ldy); break;                         \
                case 4: NAME##_ztileb(4, nb, pw, xt, xs, dx, sx, yt, ldy); break;                         \
                case 5: NAME##_ztileb(5, nb, pw, xt, xs, dx, sx, yt, ldy); break;                         \
                case 6: NAME##_ztileb(6, nb, pw, xt, xs, dx, sx, yt, ldy); break;                         \
                case 7: NAME##_ztileb(7, nb, pw, xt, xs, dx, sx, yt, ldy); break;                         \
                default: NAME##_ztileb(8, nb, pw, xt, xs, dx, sx, yt, ldy); break;                        \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
        return 1;                                                                                         \
    }


// HAS_MIN: 1 for the unsigned-with-min types against Q8_1 (acc.s term), 0 for the signed types.
#define ZGEN(NAME, WB, XB, HAS_MIN)                                                                        \
    ZGENB(NAME, WB, XB, HAS_MIN)                                                                          \
    FL_INLINE void NAME##_ztile(const int nm, int64_t nb, const uint8_t *w, size_t ws, const uint8_t *x,  \
                                size_t xs, const float *dx, const float *sx, float *y, int64_t ldy) {      \
        __m512 acc[2][ZNM], accs[2];                                                                      \
        FL_UNROLL for (int p = 0; p < 2; p++) {                                                                     \
            accs[p] = _mm512_setzero_ps();                                                                \
            FL_UNROLL for (int i = 0; i < nm; i++) acc[p][i] = _mm512_setzero_ps();                                 \
        }                                                                                                 \
        const size_t ahead = fl_pf_ahead(ws); /* m <= ZNM: weights stream once, as in a GEMV */           \
        for (int64_t b = 0; b < nb; b++) {                                                                \
            __m512i q[2], qs[2];                                                                          \
            __mmask64 neg[2];                                                                             \
            __m512 dw[2];                                                                                 \
            FL_UNROLL for (int q_ = 0; q_ < 4; q_++)                                                                \
                _mm_prefetch((const char *)((const WB *)(w + ahead + (size_t)q_ * ws) + b), _MM_HINT_T0);     \
            FL_UNROLL for (int p = 0; p < 2; p++) {                                                                 \
                NAME##_w w0, w1;                                                                          \
                NAME##_prep(&w0, (const WB *)(w + (size_t)(2 * p) * ws) + b);                             \
                NAME##_prep(&w1, (const WB *)(w + (size_t)(2 * p + 1) * ws) + b);                         \
                dw[p] = z_pairf(w0.d, w1.d);                                                              \
                if (HAS_MIN) {                                                                            \
                    q[p] = z_pair(w0.q, w1.q);                                                            \
                    const __m512 mw = z_pairf(FL_ZMIN(w0), FL_ZMIN(w1));                                  \
                    accs[p] = _mm512_fmadd_ps(mw, _mm512_broadcast_f32x8(_mm256_loadu_ps(sx + b * ZNM)), accs[p]); \
                } else {                                                                                  \
                    qs[p] = z_pair(w0.q, w1.q);                                                           \
                    q[p] = _mm512_abs_epi8(qs[p]);                                                        \
                    neg[p] = _mm512_movepi8_mask(qs[p]);                                                  \
                }                                                                                         \
            }                                                                                             \
            FL_UNROLL for (int i = 0; i < nm; i++) {                                                                \
                const XB *xb = (const XB *)(x + (size_t)i * xs) + b;                                      \
                const __m512i xv = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)xb->qs));  \
                const __m512 dxi = _mm512_set1_ps(dx[b * ZNM + i]);                                       \
                FL_UNROLL for (int p = 0; p < 2; p++) {                                                             \
                    __m512i pz;                                                                           \
                    if (HAS_MIN) pz = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[p], xv);             \
                    else pz = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[p],                          \
                                                  _mm512_mask_sub_epi8(xv, neg[p], _mm512_setzero_si512(), xv)); \
                    acc[p][i] = _mm512_fmadd_ps(_mm512_mul_ps(dw[p], dxi), _mm512_cvtepi32_ps(pz), acc[p][i]); \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
        FL_UNROLL for (int p = 0; p < 2; p++) {                                                                     \
            float s[16];                                                                                  \
            _mm512_storeu_ps(s, accs[p]);                                                                 \
            FL_UNROLL for (int i = 0; i < nm; i++) {                                                                \
                y[i * ldy + 2 * p] = z_finish(_mm512_castps512_ps256(acc[p][i]), HAS_MIN ? s[i] : 0.f);   \
                y[i * ldy + 2 * p + 1] = z_finish(_mm512_extractf32x8_ps(acc[p][i], 1), HAS_MIN ? s[8 + i] : 0.f); \
            }                                                                                             \
        }                                                                                                 \
    }                                                                                                     \
    static void NAME##_zgemm(int64_t k, const void *wv, size_t ws, int64_t r0, int64_t r1, const void *xv, \
                             size_t xs, int64_t m, float *y, int64_t ldy) {                               \
        const uint8_t *W = (const uint8_t *)wv, *X = (const uint8_t *)xv;                                 \
        const int64_t nb = k / 32;                                                                        \
        if (m == 1) { NAME##_gemm(k, wv, ws, r0, r1, xv, xs, m, y, ldy); return; }                        \
        const int64_t r4 = r0 + (r1 - r0) / 4 * 4;                                                        \
        if (r4 > r0 && m > ZNM && NAME##_zgemm_big(nb, W, ws, r0, r4, X, xs, m, y, ldy)) r0 = r4;         \
        if (r4 > r0) {                                                                                    \
            float stackbuf[2 * ZNM * 256];                                                                \
            float *buf = nb <= 256 ? stackbuf : (float *)fl_scratch(0, sizeof(float) * 2 * ZNM * (size_t)nb); \
            float *dx = buf, *sx = buf + ZNM * nb;                                                        \
            for (int64_t i0 = 0; i0 < m; i0 += ZNM) {                                                     \
                const int nm = (int)(m - i0 < ZNM ? m - i0 : ZNM);                                        \
                const uint8_t *xt = X + (size_t)i0 * xs;                                                  \
                for (int64_t b = 0; b < nb; b++)                                                          \
                    FL_UNROLL for (int i = 0; i < ZNM; i++) {                                                       \
                        const XB *xb = (const XB *)(xt + (size_t)i * xs) + b;                             \
                        dx[b * ZNM + i] = i < nm ? h2f(xb->d) : 0.f;                                      \
                        if (HAS_MIN) sx[b * ZNM + i] = i < nm ? FL_ZXS(xb) : 0.f;                         \
                    }                                                                                     \
                for (int64_t r = r0; r < r4; r += 4) {                                                    \
                    const uint8_t *wr = W + (size_t)r * ws;                                               \
                    float *yt = y + i0 * ldy + r;                                                         \
                    switch (nm) {                                                                         \
                    case 1: NAME##_ztile(1, nb, wr, ws, xt, xs, dx, sx, yt, ldy); break;                  \
                    case 2: NAME##_ztile(2, nb, wr, ws, xt, xs, dx, sx, yt, ldy); break;                  \
                    case 3: NAME##_ztile(3, nb, wr, ws, xt, xs, dx, sx, yt, ldy); break;                  \
                    case 4: NAME##_ztile(4, nb, wr, ws, xt, xs, dx, sx, yt, ldy); break;                  \
                    case 5: NAME##_ztile(5, nb, wr, ws, xt, xs, dx, sx, yt, ldy); break;                  \
                    case 6: NAME##_ztile(6, nb, wr, ws, xt, xs, dx, sx, yt, ldy); break;                  \
                    case 7: NAME##_ztile(7, nb, wr, ws, xt, xs, dx, sx, yt, ldy); break;                  \
                    default: NAME##_ztile(8, nb, wr, ws, xt, xs, dx, sx, yt, ldy); break;                 \
                    }                                                                                     \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
        for (int64_t r = r4; r < r1; r++) NAME##_rows(1, k, W + (size_t)r * ws, ws, X, xs, m, y + r, ldy); \
    }


// Signed weights x Q8_0, m > ZNM, offset form: q = u - OFF with u unsigned, and where no
// activation byte is -128 (checked; else 0 is returned and the caller takes the sign path)
// |q| * sign(y, q) summed over 4 bytes equals sum(q * y) = sum(u * y) - OFF * sum(y) exactly,
// so p = vpdpbusd(-OFF * sum4(y), u, y) has each lane's int32 value of step_s32.
FL_INLINE __m512i q5_0_zpair_u(const block_q5_0 *a, const block_q5_0 *b) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m512i lanes = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
    const __m256i t = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)b->qs), _mm_loadu_si128((const __m128i *)a->qs));
    const __m512i nib = _mm512_permutex2var_epi64(_mm512_castsi256_si512(_mm256_and_si256(t, m4)), lanes,
                                                  _mm512_castsi256_si512(_mm256_and_si256(_mm256_srli_epi16(t, 4), m4)));
    uint32_t ha, hb;
    memcpy(&ha, a->qh, 4); memcpy(&hb, b->qh, 4);
    return _mm512_mask_add_epi8(nib, _cvtu64_mask64((uint64_t)ha | ((uint64_t)hb << 32)), nib, _mm512_set1_epi8(16));
}
typedef struct { __m512i u[2]; __m512 dw[2]; } z_ublk;

// Whether any of the m Q8_0 activation rows holds the byte -128, where the sign trick of the
// signed kernels wraps and the offset forms (exact products) would differ from it.
FL_INLINE int z_q8_0_has_min_byte(int64_t nb, const uint8_t *X, size_t xs, int64_t m) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t b = 0; b < nb; b++) {
            const block_q8_0 *xb = (const block_q8_0 *)(X + (size_t)i * xs) + b;
            if (_mm256_cmpeq_epi8_mask(_mm256_loadu_si256((const __m256i *)xb->qs), _mm256_set1_epi8(-128))) return 1;
        }
    return 0;
}
#define ZBIG_U(NAME, WB, OFF)                                                                              \
    FL_INLINE void NAME##_ztileu(const int nm, int64_t nb, const z_ublk *pw, const uint8_t *x, size_t xs,  \
                                 const float *dx, const __m256i *nc, float *y, int64_t ldy) {             \
        __m512 acc[2][ZNM];                                                                               \
        FL_UNROLL for (int p = 0; p < 2; p++)                                                                       \
            FL_UNROLL for (int i = 0; i < nm; i++) acc[p][i] = _mm512_setzero_ps();                                 \
        for (int64_t b = 0; b < nb; b++) {                                                                \
            FL_UNROLL for (int i = 0; i < nm; i++) {                                                                \
                const block_q8_0 *xb = (const block_q8_0 *)(x + (size_t)i * xs) + b;                      \
                const __m512i xv = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)xb->qs));  \
                const __m512i c = _mm512_broadcast_i64x4(_mm256_load_si256(nc + b * ZNM + i));           \
                const __m512 dxi = _mm512_set1_ps(dx[b * ZNM + i]);                                       \
                FL_UNROLL for (int p = 0; p < 2; p++) {                                                             \
                    const __m512i pz = _mm512_dpbusd_epi32(c, pw[b].u[p], xv);                            \
                    acc[p][i] = _mm512_fmadd_ps(_mm512_mul_ps(pw[b].dw[p], dxi), _mm512_cvtepi32_ps(pz), acc[p][i]); \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
        FL_UNROLL for (int p = 0; p < 2; p++)                                                                       \
            FL_UNROLL for (int i = 0; i < nm; i++) {                                                                \
                y[i * ldy + 2 * p] = z_finish(_mm512_castps512_ps256(acc[p][i]), 0.f);                    \
                y[i * ldy + 2 * p + 1] = z_finish(_mm512_extractf32x8_ps(acc[p][i], 1), 0.f);             \
            }                                                                                             \
    }                                                                                                     \
    static int NAME##_zbig_u(int64_t nb, const uint8_t *W, size_t ws, int64_t r0, int64_t r4,            \
                             const uint8_t *X, size_t xs, int64_t m, float *y, int64_t ldy) {             \
        if (z_q8_0_has_min_byte(nb, X, xs, m)) return 0;                                                  \
        const int64_t nt = (m + ZNM - 1) / ZNM;                                                           \
        if (nb * nt * ZNM * 32 > (512 << 10)) return 0; /* sum terms beyond L2: sign path measured faster */ \
        float *sc = (float *)fl_scratch(0, sizeof(float) * ZNM * (size_t)(nb * nt));                     \
        __m256i *nc = (__m256i *)fl_scratch(1, sizeof(__m256i) * ZNM * (size_t)(nb * nt));              \
        z_ublk *pw = (z_ublk *)fl_scratch(2, sizeof(z_ublk) * (size_t)nb);                               \
        if (!sc || !nc || !pw) return 0;                                                                  \
        for (int64_t t = 0; t < nt; t++)                                                                  \
            for (int64_t b = 0; b < nb; b++)                                                              \
                FL_UNROLL for (int i = 0; i < ZNM; i++) {                                                           \
                    const int64_t ii = t * ZNM + i;                                                       \
                    const int ok = ii < m;                                                                \
                    const block_q8_0 *xb = (const block_q8_0 *)(X + (size_t)(ok ? ii : 0) * xs) + b;      \
                    sc[(t * nb + b) * ZNM + i] = ok ? h2f(xb->d) : 0.f;                                   \
                    nc[(t * nb + b) * ZNM + i] = _mm256_sub_epi32(_mm256_setzero_si256(),                 \
                        _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8((char)(OFF)),                \
                                            _mm256_loadu_si256((const __m256i *)xb->qs)));                \
                }                                                                                         \
        const size_t ahead = fl_pf_ahead(ws);                                                             \
        for (int64_t r = r0; r < r4; r += 4) {                                                            \
            const uint8_t *w = W + (size_t)r * ws;                                                        \
            for (int64_t b = 0; b < nb; b++)                                                              \
                FL_UNROLL for (int p = 0; p < 2; p++) {                                                             \
                    _mm_prefetch((const char *)((const WB *)(w + ahead + (size_t)(2 * p) * ws) + b), _MM_HINT_T0); \
                    _mm_prefetch((const char *)((const WB *)(w + ahead + (size_t)(2 * p + 1) * ws) + b), _MM_HINT_T0); \
                    const WB *a = (const WB *)(w + (size_t)(2 * p) * ws) + b;                             \
                    const WB *c = (const WB *)(w + (size_t)(2 * p + 1) * ws) + b;                         \
                    pw[b].u[p] = NAME##_zpair_u(a, c);                                                    \
                    pw[b].dw[p] = z_pairf(h2f(a->d), h2f(c->d));                                          \
                }                                                                                         \
            for (int64_t t = 0; t < nt; t++) {                                                            \
                const int64_t i0 = t * ZNM;                                                               \
                const int nm = (int)(m - i0 < ZNM ? m - i0 : ZNM);                                        \
                const uint8_t *xt = X + (size_t)i0 * xs;                                                  \
                const float *dx = sc + t * nb * ZNM;                                                      \
                const __m256i *nct = nc + t * nb * ZNM;                                                   \
                float *yt = y + i0 * ldy + r;                                                             \
                switch (nm) {                                                                             \
                case 1: NAME##_ztileu(1, nb, pw, xt, xs, dx, nct, yt, ldy); break;                        \
                case 2: NAME##_ztileu(2, nb, pw, xt, xs, dx, nct, yt, ldy); break;                        \
                case 3: NAME##_ztileu(3, nb, pw, xt, xs, dx, nct, yt, ldy); break;                        \
                case 4: NAME##_ztileu(4, nb, pw, xt, xs, dx, nct, yt, ldy); break;                        \
                case 5: NAME##_ztileu(5, nb, pw, xt, xs, dx, nct, yt, ldy); break;                        \
                case 6: NAME##_ztileu(6, nb, pw, xt, xs, dx, nct, yt, ldy); break;                        \
                case 7: NAME##_ztileu(7, nb, pw, xt, xs, dx, nct, yt, ldy); break;                        \
                default: NAME##_ztileu(8, nb, pw, xt, xs, dx, nct, yt, ldy); break;                       \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
        return 1;                                                                                         \
    }
// Q8_0: u = q + 128 = q ^ 0x80 is the unsigned form (OFF = 128); vpdpbusd does not saturate, so
// sum(u * y) - 128 * sum(y) is exact. Saves the per-pair masked negation of the sign path.
FL_INLINE __m512i q8_0_zpair_u(const block_q8_0 *a, const block_q8_0 *b) {
    return _mm512_xor_si512(z_pair(_mm256_loadu_si256((const __m256i *)a->qs), _mm256_loadu_si256((const __m256i *)b->qs)),
                            _mm512_set1_epi8((char)0x80));
}

// Signed weights, m > 1 (one row goes to gemv_ymm.h): the offset form for m > ZNM, else (and
// for activations holding -128) the sign-path tiles.
#define ZGEMM_U(NAME)                                                                                      \
    static void NAME##_zgemm_u(int64_t k, const void *wv, size_t ws, int64_t r0, int64_t r1, const void *xv, \
                               size_t xs, int64_t m, float *y, int64_t ldy) {                             \
        const int64_t r4 = r0 + (r1 - r0) / 4 * 4;                                                        \
        if (k % 32 == 0 && m > ZNM && r4 > r0 &&                                                          \
            NAME##_zbig_u(k / 32, (const uint8_t *)wv, ws, r0, r4, (const uint8_t *)xv, xs, m, y, ldy)) { \
            for (int64_t r = r4; r < r1; r++)                                                             \
                NAME##_rows(1, k, (const uint8_t *)wv + (size_t)r * ws, ws, (const uint8_t *)xv, xs, m, y + r, ldy); \
            return;                                                                                       \
        }                                                                                                 \
        NAME##_zgemm(k, wv, ws, r0, r1, xv, xs, m, y, ldy);                                               \
    }

#define FL_ZMIN(wv) ((wv).m)
#define FL_ZXS(xb) h2f((xb)->s)
ZGEN(q4_1, block_q4_1, block_q8_1, 1)
ZGEN(q5_1, block_q5_1, block_q8_1, 1)
#undef FL_ZMIN
#undef FL_ZXS

#define FL_ZMIN(wv) 0.f
#define FL_ZXS(xb) 0.f
ZGEN(q8_0, block_q8_0, block_q8_0, 0)
ZGEN(q4_0, block_q4_0, block_q8_0, 0)
ZGEN(q5_0, block_q5_0, block_q8_0, 0)
ZBIG_U(q5_0, block_q5_0, 16)
ZBIG_U(q8_0, block_q8_0, 128)
ZGEMM_U(q5_0)
ZGEMM_U(q8_0)
#undef FL_ZMIN
#undef FL_ZXS

#endif
