// AVX-512 VNNI gemm for the 32-element block types Q4_1 (x Q8_1) and Q8_0, Q5_0, Q4_0
// (x Q8_0) with GGML's lane-wise vec_dot arithmetic, on a transposed 16-row layout (zb_w:
// dword r of u[l] = bytes 4l..4l+3 of weight row r's block). The default
// "avx512vnni" gemm of these types wherever a whole 16-row group and m > 1 (Q4_1: every m)
// allow it (included by simd_impl.h when FL_AVX512).
//
// zmm acc[l] holds lane l of the 8-lane accumulators of 16 weight rows, so per row the
// operations are exactly those of the 256-bit step functions: p_l = vpdpbusd lane l,
// acc_l = fmadd(d_w * d_x, float(p_l), acc_l), for Q4_1 s = fmadd(m_w, s_x, s), then
// acc_finish()'s sum tree ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)) + s:
// bit-identical to vec_dot.
// Why this layout: the scale product d_w * d_x is one multiply for 16 rows and all 8 lanes,
// and the activation dword is a broadcast memory operand of vpdpbusd, so each 64 products
// cost one vpdpbusd, one convert and one fma. The pairwise tiles of gemm_zmm.h also need a
// multiply per 64 products, as the two rows of a zmm have different scales.
#ifndef FLINT_GEMM_ZMM_T_H
#define FLINT_GEMM_ZMM_T_H

// The transposed layout of a 16-row group, built per block from the GGML rows (never
// stored in the model): 8 zmm u[j], dword r of u[j] = bytes 4j..4j+3 of row r's unpacked
// block as unsigned bytes u = q + OFF, so one vpdpbusd with a broadcast activation dword
// advances all 16 rows.
typedef struct { __m512i u[8]; __m512 d, mn; } zb_w;

// 4x4 dword transpose inside each 128-bit lane.
FL_INLINE void zb_tr4(const __m512i a[4], __m512i t[4]) {
    const __m512i t0 = _mm512_unpacklo_epi32(a[0], a[1]), t1 = _mm512_unpackhi_epi32(a[0], a[1]);
    const __m512i t2 = _mm512_unpacklo_epi32(a[2], a[3]), t3 = _mm512_unpackhi_epi32(a[2], a[3]);
    t[0] = _mm512_unpacklo_epi64(t0, t2);
    t[1] = _mm512_unpackhi_epi64(t0, t2);
    t[2] = _mm512_unpacklo_epi64(t1, t3);
    t[3] = _mm512_unpackhi_epi64(t1, t3);
}

// 16 bytes at p of each of 16 rows (ws apart) -> t[c] with dword r = dword c of row r.
// a[q] holds rows q, 4+q, 8+q, 12+q in its 128-bit lanes, so the in-lane transpose puts
// rows in natural order.
FL_INLINE void zb_load16(const uint8_t *p, size_t ws, __m512i t[4]) {
    __m512i a[4];
    FL_UNROLL for (int q = 0; q < 4; q++) {
        __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(p + (size_t)q * ws)));
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + (size_t)(4 + q) * ws)), 1);
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + (size_t)(8 + q) * ws)), 2);
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + (size_t)(12 + q) * ws)), 3);
        a[q] = v;
    }
    zb_tr4(a, t);
}

FL_INLINE void zb_nibbles(const __m512i t[4], zb_w *o) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    FL_UNROLL for (int j = 0; j < 4; j++) {
        o->u[j] = _mm512_and_si512(t[j], m4);                             // elements 4j..4j+3
        o->u[j + 4] = _mm512_and_si512(_mm512_srli_epi16(t[j], 4), m4);   // elements 16+4j..
    }
}

// fp16 in the low half of each dword -> float
FL_INLINE __m512 zb_h2f_lo(__m512i v) { return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v)); }

// w: block b of row 0; vidx: r * ws per lane (gathers of the per-row block headers).
FL_INLINE void q4_0_bpack(const uint8_t *w, size_t ws, __m512i vidx, zb_w *o) {
    __m512i t[4];
    zb_load16(w + offsetof(block_q4_0, qs), ws, t);
    zb_nibbles(t, o);
    o->d = zb_h2f_lo(_mm512_i32gather_epi32(vidx, w, 1));
    o->mn = _mm512_setzero_ps();
}
FL_INLINE void q4_1_bpack(const uint8_t *w, size_t ws, __m512i vidx, zb_w *o) {
    __m512i t[4];
    zb_load16(w + offsetof(block_q4_1, qs), ws, t);
    zb_nibbles(t, o);
    const __m512i dm = _mm512_i32gather_epi32(vidx, w, 1);  // d | m << 16
    o->d = zb_h2f_lo(dm);
    o->mn = zb_h2f_lo(_mm512_srli_epi32(dm, 16));
}
// Q5_0: the 5th bit of element e is bit e of qh; dword j of a row takes bits 4j..4j+3, which
// vpermd spreads to bit 4 of the 4 bytes (table indexed by the 4 bits).
FL_INLINE void q5_0_bpack(const uint8_t *w, size_t ws, __m512i vidx, zb_w *o) {
    __m512i t[4];
    zb_load16(w + offsetof(block_q5_0, qs), ws, t);
    zb_nibbles(t, o);
    const __m512i spread = _mm512_setr_epi32(0x00000000, 0x00000010, 0x00001000, 0x00001010,
                                             0x00100000, 0x00100010, 0x00101000, 0x00101010,
                                             0x10000000, 0x10000010, 0x10001000, 0x10001010,
                                             0x10100000, 0x10100010, 0x10101000, 0x10101010);
    const __m512i qh = _mm512_i32gather_epi32(vidx, w + offsetof(block_q5_0, qh), 1);
    FL_UNROLL for (int j = 0; j < 8; j++)
        o->u[j] = _mm512_or_si512(o->u[j], _mm512_permutexvar_epi32(_mm512_srli_epi32(qh, 4 * j), spread));
    o->d = zb_h2f_lo(_mm512_i32gather_epi32(vidx, w, 1));
    o->mn = _mm512_setzero_ps();
}
FL_INLINE void q8_0_bpack(const uint8_t *w, size_t ws, __m512i vidx, zb_w *o) {
    __m512i t[4];
    const __m512i sgn = _mm512_set1_epi8((char)0x80);
    zb_load16(w + offsetof(block_q8_0, qs), ws, t);
    FL_UNROLL for (int j = 0; j < 4; j++) o->u[j] = _mm512_xor_si512(t[j], sgn);
    zb_load16(w + offsetof(block_q8_0, qs) + 16, ws, t);
    FL_UNROLL for (int j = 0; j < 4; j++) o->u[4 + j] = _mm512_xor_si512(t[j], sgn);
    o->d = zb_h2f_lo(_mm512_i32gather_epi32(vidx, w, 1));
    o->mn = _mm512_setzero_ps();
}

FL_INLINE __m512i zb_bcast32(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

FL_INLINE __m512 zt_finish(const __m512 acc[8], __m512 s) {
    const __m512 t0 = _mm512_add_ps(acc[0], acc[4]), t1 = _mm512_add_ps(acc[1], acc[5]);
    const __m512 t2 = _mm512_add_ps(acc[2], acc[6]), t3 = _mm512_add_ps(acc[3], acc[7]);
    return _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(t0, t2), _mm512_add_ps(t1, t3)), s);
}

FL_INLINE __m512i zt_row_offsets(size_t ws) {
    return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                              _mm512_set1_epi32((int)ws));
}

// m > 1: each 16-row group is unpacked once into scratch (NAME##_bpack), then used by tiles
// of ZT_NI activation rows: 8 * ZT_NI accumulators and ZT_NI scale vectors stay in registers.
// The min term of Q4_1, an independent sum, runs in its own loop afterwards. The signed types
// (bpack stores u = q + OFF) start each vpdpbusd at -OFF * (sum of the 4 activation bytes), so
// p = sum(q * y) exactly, which is vec_dot's sign-trick value wherever no activation byte is
// -128 (checked per call; otherwise the caller keeps the pairwise tiles).
#define ZT_NI 3
#define ZTGEN(NAME, WB, XB, OFF, HAS_MIN)                                                                  \
    FL_INLINE void NAME##_ttile(const int ni, int64_t nb, const zb_w *pw, const uint8_t *x, size_t xs,   \
                                const float *dx, const float *sx, const int32_t *nc, float *y, int64_t ldy) { \
        __m512 acc[ZT_NI][8];                                                                             \
        FL_UNROLL for (int i = 0; i < ni; i++)                                                                      \
            FL_UNROLL for (int l = 0; l < 8; l++) acc[i][l] = _mm512_setzero_ps();                                  \
        for (int64_t b = 0; b < nb; b++) {                                                                \
            __m512 dd[ZT_NI];                                                                             \
            FL_UNROLL for (int i = 0; i < ni; i++) dd[i] = _mm512_mul_ps(pw[b].d, _mm512_set1_ps(dx[b * ZT_NI + i])); \
            FL_UNROLL for (int l = 0; l < 8; l++) {                                                                 \
                const __m512i u = pw[b].u[l];                                                             \
                FL_UNROLL for (int i = 0; i < ni; i++) {                                                            \
                    const XB *xb = (const XB *)(x + (size_t)i * xs) + b;                                  \
                    const __m512i p0 = HAS_MIN ? _mm512_setzero_si512()                                   \
                                               : _mm512_set1_epi32(nc[(b * ZT_NI + i) * 8 + l]);          \
                    const __m512i p = _mm512_dpbusd_epi32(p0, u, zb_bcast32(xb->qs + 4 * l));             \
                    acc[i][l] = _mm512_fmadd_ps(dd[i], _mm512_cvtepi32_ps(p), acc[i][l]);                 \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
        /* the min term, an independent sum: ni chains side by side */                                  \
        __m512 s[ZT_NI];                                                                                  \
        FL_UNROLL for (int i = 0; i < ni; i++) s[i] = _mm512_setzero_ps();                                          \
        if (HAS_MIN)                                                                                      \
            for (int64_t b = 0; b < nb; b++)                                                              \
                FL_UNROLL for (int i = 0; i < ni; i++) s[i] = _mm512_fmadd_ps(pw[b].mn, _mm512_set1_ps(sx[b * ZT_NI + i]), s[i]); \
        FL_UNROLL for (int i = 0; i < ni; i++) _mm512_storeu_ps(y + (size_t)i * ldy, zt_finish(acc[i], s[i]));    \
    }                                                                                                     \
    /* Rows r0..r16 (whole 16-row groups); 0 (nothing written) when it does not apply. */               \
    static int NAME##_tgemm(int64_t nb, const uint8_t *W, size_t ws, int64_t r0, int64_t r16,            \
                            const uint8_t *X, size_t xs, int64_t m, float *y, int64_t ldy) {              \
        if (!HAS_MIN && z_q8_0_has_min_byte(nb, X, xs, m)) return 0;                                      \
        const int64_t nt = (m + ZT_NI - 1) / ZT_NI;                                                       \
        float *sc = (float *)fl_scratch(0, sizeof(float) * 2 * ZT_NI * (size_t)(nb * nt));               \
        zb_w *pw = (zb_w *)fl_scratch(1, sizeof(zb_w) * (size_t)nb);                                     \
        int32_t *nc = HAS_MIN ? NULL : (int32_t *)fl_scratch(2, sizeof(int32_t) * 8 * ZT_NI * (size_t)(nb * nt)); \
        if (!sc || !pw || (!HAS_MIN && !nc)) return 0;                                                    \
        for (int64_t t = 0; t < nt; t++) /* activation side, [tile][b][i], zero past m */                \
            for (int64_t b = 0; b < nb; b++)                                                              \
                FL_UNROLL for (int i = 0; i < ZT_NI; i++) {                                                         \
                    const int64_t row = t * ZT_NI + i;                                                    \
                    const int ok = row < m;                                                               \
                    const XB *xb = (const XB *)(X + (size_t)(ok ? row : 0) * xs) + b;                     \
                    float *dx = sc + 2 * ZT_NI * nb * t, *sx = dx + ZT_NI * nb;                           \
                    dx[b * ZT_NI + i] = ok ? h2f(xb->d) : 0.f;                                            \
                    if (HAS_MIN) sx[b * ZT_NI + i] = ok ? FL_ZXS(xb) : 0.f;                               \
                    else {                                                                                \
                        int32_t *c = nc + ((t * nb + b) * ZT_NI + i) * 8;                                 \
                        FL_UNROLL for (int l = 0; l < 8; l++)                                                       \
                            c[l] = -(OFF) * (xb->qs[4 * l] + xb->qs[4 * l + 1] + xb->qs[4 * l + 2] + xb->qs[4 * l + 3]); \
                    }                                                                                     \
                }                                                                                         \
        const __m512i vidx = zt_row_offsets(ws);                                                          \
        for (int64_t r = r0; r < r16; r += 16) {                                                          \
            const uint8_t *w = W + (size_t)r * ws;                                                        \
            for (int64_t b = 0; b < nb; b++) {                                                            \
                const uint8_t *wb = w + (size_t)b * sizeof(WB);                                           \
                FL_UNROLL for (int q = 0; q < 16; q++) _mm_prefetch((const char *)(wb + (size_t)(16 + q) * ws), _MM_HINT_T0); \
                NAME##_bpack(wb, ws, vidx, &pw[b]);                                                       \
            }                                                                                             \
            for (int64_t t = 0; t < nt; t++) {                                                            \
                const float *dx = sc + 2 * ZT_NI * nb * t, *sx = dx + ZT_NI * nb;                         \
                const int32_t *nct = HAS_MIN ? NULL : nc + t * nb * ZT_NI * 8;                            \
                const int64_t i0 = t * ZT_NI;                                                             \
                const uint8_t *xt = X + (size_t)i0 * xs;                                                  \
                float *yt = y + i0 * ldy + r;                                                             \
                switch (m - i0) {                                                                         \
                case 1: NAME##_ttile(1, nb, pw, xt, xs, dx, sx, nct, yt, ldy); break;                     \
                case 2: NAME##_ttile(2, nb, pw, xt, xs, dx, sx, nct, yt, ldy); break;                     \
                default: NAME##_ttile(ZT_NI, nb, pw, xt, xs, dx, sx, nct, yt, ldy); break;                \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
        return 1;                                                                                         \
    }

#define FL_ZXS(xb) h2f((xb)->s)
ZTGEN(q4_1, block_q4_1, block_q8_1, 0, 1)
#undef FL_ZXS
#define FL_ZXS(xb) 0.f
ZTGEN(q8_0, block_q8_0, block_q8_0, 128, 0)
ZTGEN(q5_0, block_q5_0, block_q8_0, 16, 0)
ZTGEN(q4_0, block_q4_0, block_q8_0, 8, 0)
#undef FL_ZXS

// m > 1 (one row goes to gemv_ymm.h): whole 16-row groups on the transposed tiles, the rest
// (and the signed types' activations holding -128) on the pairwise kernels (FALLBACK).
#define ZTMV(NAME, FALLBACK)                                                                               \
    static void NAME##_tgemm_mv(int64_t k, const void *wv, size_t ws, int64_t r0, int64_t r1, const void *xv, \
                                size_t xs, int64_t m, float *y, int64_t ldy) {                            \
        const int64_t r16 = r0 + (r1 - r0) / 16 * 16;                                                     \
        if (m > 1 && k % 32 == 0 && r16 > r0 &&                                                           \
            NAME##_tgemm(k / 32, (const uint8_t *)wv, ws, r0, r16, (const uint8_t *)xv, xs, m, y, ldy))   \
            r0 = r16;                                                                                     \
        if (r1 > r0) FALLBACK(k, wv, ws, r0, r1, xv, xs, m, y, ldy);                                      \
    }
ZTMV(q4_1, q4_1_zgemm)
ZTMV(q8_0, q8_0_zgemm_u)
ZTMV(q5_0, q5_0_zgemm_u)
ZTMV(q4_0, q4_0_zgemm)

#endif
