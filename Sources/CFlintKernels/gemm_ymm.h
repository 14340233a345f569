// AVX2 / AVX-VNNI gemm for the 32-element block types Q4_1 (x Q8_1) and Q8_0, Q5_0, Q4_0
// (x Q8_0): transposed 8-row tiles for several activation rows, gemv_ymm.h's GEMV for one
// (included by simd_impl.h for the 256-bit-only paths).
//
// Per (weight row, activation row) pair the arithmetic is exactly vec_dot's (simd_impl.h's
// step functions): lane l (0..7) of p is the integer sum of the 4 products of elements
// 4l..4l+3, acc_l = fma(d_w * d_x, float(p_l), acc_l) with the scale product rounded once,
// Q4_1's min term s = fma(m_w, s_x, s) in its own sum, then acc_finish()'s reduction
// ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)) + s. Q4_1's tiles form p_l as vec_dot does
// (vpmaddubsw on the unsigned nibbles, then vpmaddwd, or vpdpbusd); the signed types' tiles
// from i16 operands (two vpmaddwd and an add) where vec_dot takes |q| x sign(x, q) or an
// offset form: the same integer wherever no activation byte is -128 (vpsignb's wrap), which is
// checked per call (those calls take the generic tiles). Hence bit-identical to vec_dot for
// every m, row range and thread split.
//
// Transposed layout (m > 1): for a group of 8 weight rows and one block, ymm u[l] (Q4_1)
// holds in dword r the bytes 4l..4l+3 of row r; for the signed types e[l] holds the elements
// 4l and 4l+2 as i16, o[l] the elements 4l+1 and 4l+3. So one broadcast activation dword (a
// pair of them for i16) advances all 8 rows: 8 accumulators (one per lane l) hold lane l of 8
// rows, a scale product d_w * d_x is one multiply for 8 rows, and there is no horizontal
// reduction until the end. The packing (an 8 x 4 dword transpose per 16 bytes, widened for
// i16) is done once per group and block in per-thread scratch and reused by every activation
// row. Why i16 for the signed types: on the 2-core Zen 4 this was measured on, the vector
// multiplies, vpsignb, the conversion and the FMA compete for the same two pipes, and the bare
// Q8_0 lane step runs at 1.8 G/s per core with vpsignb + vpmaddubsw + vpmaddwd, 2.2 G/s with
// two vpmaddwd (bench/vector_pipes_avx2.c); for Q4_1 (no sign handling) the byte form is the
// faster (57-61 against 48 GMAC/s). One thread, k = 640, 16384 rows, m = 32: Q8_0 37 -> 53
// GMAC/s, Q5_0 46 -> 54, Q4_0 49 -> 56, Q4_1 57.
#ifndef FLINT_GEMM_YMM_H
#define FLINT_GEMM_YMM_H

// ---- packing 8 rows of one block

// 16 bytes at p of rows 0..7 (ws apart) -> t[c] with dword r = dword c of row r.
FL_INLINE void yt_load16(const uint8_t *p, size_t ws, __m256i t[4]) {
    __m256i a[4];
    FL_UNROLL for (int q = 0; q < 4; q++)
        a[q] = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(p + (size_t)q * ws))),
                                       _mm_loadu_si128((const __m128i *)(p + (size_t)(4 + q) * ws)), 1);
    const __m256i t0 = _mm256_unpacklo_epi32(a[0], a[1]), t1 = _mm256_unpackhi_epi32(a[0], a[1]);
    const __m256i t2 = _mm256_unpacklo_epi32(a[2], a[3]), t3 = _mm256_unpackhi_epi32(a[2], a[3]);
    t[0] = _mm256_unpacklo_epi64(t0, t2);
    t[1] = _mm256_unpackhi_epi64(t0, t2);
    t[2] = _mm256_unpacklo_epi64(t1, t3);
    t[3] = _mm256_unpackhi_epi64(t1, t3);
}

// The dword at p of rows 0..7 (element inserts: a vector load of 8 separate stores would
// stall on store forwarding).
FL_INLINE __m256i yt_dword8(const uint8_t *p, size_t ws) {
    return _mm256_setr_epi32(y_ld32(p), y_ld32(p + ws), y_ld32(p + 2 * ws), y_ld32(p + 3 * ws), y_ld32(p + 4 * ws),
                             y_ld32(p + 5 * ws), y_ld32(p + 6 * ws), y_ld32(p + 7 * ws));
}

// fp16 in the low (hi = 0) or high (hi = 1) half of each dword -> float.
FL_INLINE __m256 yt_h2f(__m256i v, int hi) {
    if (hi) v = _mm256_srli_epi32(v, 16);
    const __m256i lo = _mm256_shuffle_epi8(v, _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1,
                                                               0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1));
    return _mm256_cvtph_ps(_mm256_castsi256_si128(_mm256_permute4x64_epi64(lo, 0x08)));
}

FL_INLINE void yt_nibbles(const __m256i t[4], __m256i u[8]) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    FL_UNROLL for (int j = 0; j < 4; j++) {
        u[j] = _mm256_and_si256(t[j], m4);                            // elements 4j..4j+3
        u[j + 4] = _mm256_and_si256(_mm256_srli_epi16(t[j], 4), m4);  // elements 16+4j..
    }
}

// Q5_0's fifth bits: bit e of qh is element e's; dword j takes bits 4j..4j+3, which the
// multiply spreads to bit 0 of its 4 bytes (b0 + 2 b1 + 4 b2 + 8 b3 times 2^0 + 2^7 + 2^14 + 2^21
// puts b_k at bit 8k, with no carries), then shifted to bit 4.
FL_INLINE __m256i yt_q5_bits(__m256i qh, int j) {
    const __m256i b = _mm256_and_si256(_mm256_srli_epi32(qh, 4 * j), _mm256_set1_epi32(0xF));
    const __m256i s = _mm256_and_si256(_mm256_mullo_epi32(b, _mm256_set1_epi32(0x00204081)), _mm256_set1_epi32(0x01010101));
    return _mm256_slli_epi32(s, 4);
}

// A packed 8-row block. Q4_1 (unsigned weights): u[l] dword r = bytes 4l..4l+3 of row r, for
// vpmaddubsw; d and the min mn per row.
typedef struct { __m256i u[8]; __m256 d, mn; } yt_wu;
// Signed weights in i16: e[l] dword r = elements (4l, 4l+2) of row r, o[l] = (4l+1, 4l+3), so
// lane l's 4 products are madd(e[l], x even) + madd(o[l], x odd).
typedef struct { __m256i e[8], o[8]; __m256 d; } yt_w16;

// signed bytes b[l] (dword r = bytes 4l..4l+3 of row r) -> the i16 form
FL_INLINE void yt_widen(const __m256i b[8], yt_w16 *o) {
    FL_UNROLL for (int l = 0; l < 8; l++) {
        o->e[l] = _mm256_srai_epi16(_mm256_slli_epi16(b[l], 8), 8);
        o->o[l] = _mm256_srai_epi16(b[l], 8);
    }
}

FL_INLINE void q4_1_ypack(const uint8_t *w, size_t ws, yt_wu *o) {
    __m256i t[4];
    yt_load16(w + offsetof(block_q4_1, qs), ws, t);
    yt_nibbles(t, o->u);
    const __m256i dm = yt_dword8(w, ws);  // d | m << 16
    o->d = yt_h2f(dm, 0);
    o->mn = yt_h2f(dm, 1);
}
FL_INLINE void q4_0_ypack(const uint8_t *w, size_t ws, yt_w16 *o) {
    __m256i t[4], u[8];
    yt_load16(w + offsetof(block_q4_0, qs), ws, t);
    yt_nibbles(t, u);
    FL_UNROLL for (int l = 0; l < 8; l++) u[l] = _mm256_sub_epi8(u[l], _mm256_set1_epi8(8));
    yt_widen(u, o);
    o->d = yt_h2f(yt_dword8(w, ws), 0);
}
FL_INLINE void q5_0_ypack(const uint8_t *w, size_t ws, yt_w16 *o) {
    __m256i t[4], u[8];
    yt_load16(w + offsetof(block_q5_0, qs), ws, t);
    yt_nibbles(t, u);
    const __m256i qh = yt_dword8(w + offsetof(block_q5_0, qh), ws);
    FL_UNROLL for (int l = 0; l < 8; l++)
        u[l] = _mm256_sub_epi8(_mm256_or_si256(u[l], yt_q5_bits(qh, l)), _mm256_set1_epi8(16));
    yt_widen(u, o);
    o->d = yt_h2f(yt_dword8(w, ws), 0);
}
FL_INLINE void q8_0_ypack(const uint8_t *w, size_t ws, yt_w16 *o) {
    __m256i q[8];
    yt_load16(w + offsetof(block_q8_0, qs), ws, q);
    yt_load16(w + offsetof(block_q8_0, qs) + 16, ws, q + 4);
    yt_widen(q, o);
    o->d = yt_h2f(yt_dword8(w, ws), 0);
}

// ---- the transposed tile

FL_INLINE __m256i yt_bcast(const int8_t *p) { return _mm256_set1_epi32(y_ld32((const uint8_t *)p)); }

FL_INLINE __m256 yt_finish(const __m256 acc[8], __m256 s) {
    const __m256 t0 = _mm256_add_ps(acc[0], acc[4]), t1 = _mm256_add_ps(acc[1], acc[5]);
    const __m256 t2 = _mm256_add_ps(acc[2], acc[6]), t3 = _mm256_add_ps(acc[3], acc[7]);
    return _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(t0, t2), _mm256_add_ps(t1, t3)), s);
}

// One activation row against G (1 or 2) packed 8-row groups (pw[g * nb + b]): y[g * 8 + 0..7].
// The 8 lanes are done in two passes of 4, so that 2 groups x 4 lanes of accumulators stay in
// registers and every broadcast activation dword serves both groups (on Zen 4 the broadcast
// takes a vector ALU slot like the arithmetic). x: the row's blocks; xe: the same bytes as i16
// (per block even elements then odd ones, 16 dwords; signed types); dx, sx: its block scales
// and sums. BCAST(x, xe, b, l, v): lane l's activation operands v[0..1]; DOT(w, l, v): lane l's
// integer sums for 8 rows; MIN(w, s_x, s): Q4_1's min term, an independent sum, in its own loop
// (nothing for the others).
#define YTILE(NAME, YW, XB, BCAST, DOT, MIN)                                                           \
    FL_INLINE void NAME(const int g, int64_t nb, const YW *pw, const XB *x, const __m256i *xe,             \
                        const float *dx, const float *sx, float *y) {                                     \
        (void)x, (void)xe, (void)sx;                                                                      \
        __m256 lanes[2][8], s[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};                            \
        FL_UNROLL for (int h = 0; h < 2; h++) {                                                           \
            __m256 acc[2][4];                                                                             \
            FL_UNROLL for (int q = 0; q < g; q++)                                                         \
                FL_UNROLL for (int j = 0; j < 4; j++) acc[q][j] = _mm256_setzero_ps();                    \
            for (int64_t b = 0; b < nb; b++) {                                                            \
                __m256 dd[2];                                                                             \
                FL_UNROLL for (int q = 0; q < g; q++) dd[q] = _mm256_mul_ps(pw[q * nb + b].d, _mm256_set1_ps(dx[b])); \
                FL_UNROLL for (int j = 0; j < 4; j++) {                                                   \
                    const int l = 4 * h + j;                                                              \
                    __m256i v[2];                                                                         \
                    BCAST(x, xe, b, l, v);                                                                \
                    FL_UNROLL for (int q = 0; q < g; q++)                                                 \
                        acc[q][j] = _mm256_fmadd_ps(dd[q], _mm256_cvtepi32_ps(DOT(&pw[q * nb + b], l, v)), acc[q][j]); \
                }                                                                                         \
            }                                                                                             \
            FL_UNROLL for (int q = 0; q < g; q++)                                                         \
                FL_UNROLL for (int j = 0; j < 4; j++) lanes[q][4 * h + j] = acc[q][j];                    \
        }                                                                                                 \
        for (int64_t b = 0; b < nb; b++)                                                                  \
            FL_UNROLL for (int q = 0; q < g; q++) s[q] = MIN(&pw[q * nb + b], sx[b], s[q]);               \
        FL_UNROLL for (int q = 0; q < g; q++) _mm256_storeu_ps(y + 8 * q, yt_finish(lanes[q], s[q]));     \
    }
#define YT_BCAST_U8(x, xe, b, l, v) (v[0] = yt_bcast(x[b].qs + 4 * l), v[1] = v[0])
#define YT_DOT_U8(w, l, v) dot_us8((w)->u[l], v[0])
#define YT_BCAST_16(x, xe, b, l, v) \
    (v[0] = _mm256_set1_epi32(((const int32_t *)(xe + 2 * b))[l]), v[1] = _mm256_set1_epi32(((const int32_t *)(xe + 2 * b))[8 + l]))
#define YT_DOT_16(w, l, v) _mm256_add_epi32(_mm256_madd_epi16((w)->e[l], v[0]), _mm256_madd_epi16((w)->o[l], v[1]))
#define YT_MIN_Q4_1(w, sxb, s) _mm256_fmadd_ps((w)->mn, _mm256_set1_ps(sxb), s)
#define YT_MIN_NONE(w, sxb, s) (s)
YTILE(q4_1_ytile, yt_wu, block_q8_1, YT_BCAST_U8, YT_DOT_U8, YT_MIN_Q4_1)
YTILE(yt_tile16, yt_w16, block_q8_0, YT_BCAST_16, YT_DOT_16, YT_MIN_NONE)

// ---- entry points

// NAME##_ytgemm: whole 8-row groups r0..r8 for m activation rows of XB (Q8_1 with its sums for
// Q4_1; Q8_0, also widened to i16, for the signed types, SIGNED). Returns 0 (nothing done) when
// scratch is short or, for the signed types, an activation byte is -128: there vec_dot's sign
// trick wraps, the i16 products do not.
#define YTGEN(NAME, WB, XB, YW, TILE, SIGNED)                                                                   \
    static int NAME##_ytgemm(int64_t nb, const uint8_t *W, size_t ws, int64_t r0, int64_t r8, const uint8_t *X, \
                             size_t xs, int64_t m, float *y, int64_t ldy) {                                    \
        float *dx = (float *)fl_scratch(0, sizeof(float) * 2 * (size_t)(m * nb));                              \
        YW *pw = (YW *)fl_scratch(1, sizeof(YW) * 2 * (size_t)nb);                                             \
        __m256i *xe = (SIGNED) ? (__m256i *)fl_scratch(2, sizeof(__m256i) * 2 * (size_t)(m * nb)) : NULL;      \
        if (!dx || !pw || ((SIGNED) && !xe)) return 0;                                                         \
        float *sx = dx + m * nb;                                                                               \
        for (int64_t i = 0; i < m; i++) {                                                                      \
            const XB *xb = (const XB *)(X + (size_t)i * xs);                                                   \
            if ((SIGNED) && yv_has_min_byte(nb, (const block_q8_0 *)xb)) return 0;                             \
            for (int64_t b = 0; b < nb; b++) {                                                                 \
                dx[i * nb + b] = h2f(xb[b].d);                                                                 \
                if (!(SIGNED)) sx[i * nb + b] = h2f(((const block_q8_1 *)xb)[b].s);                            \
                else {                                                                                         \
                    const __m256i v = _mm256_loadu_si256((const __m256i *)xb[b].qs);                           \
                    xe[2 * (i * nb + b)] = _mm256_srai_epi16(_mm256_slli_epi16(v, 8), 8);                      \
                    xe[2 * (i * nb + b) + 1] = _mm256_srai_epi16(v, 8);                                        \
                }                                                                                              \
            }                                                                                                  \
        }                                                                                                      \
        for (int64_t r = r0; r < r8;) {                                                                        \
            const int g = r + 16 <= r8 ? 2 : 1; /* 16 rows where they are, then 8 */                           \
            for (int q = 0; q < g; q++) {                                                                      \
                const uint8_t *w = W + (size_t)(r + 8 * q) * ws;                                               \
                for (int64_t b = 0; b < nb; b++) {                                                             \
                    const uint8_t *wb = w + (size_t)b * sizeof(WB);                                            \
                    if (((uintptr_t)wb & 63) < sizeof(WB)) /* the next group's lines */                        \
                        FL_UNROLL for (int k = 0; k < 8; k++)                                                  \
                            _mm_prefetch((const char *)(wb + (size_t)(8 * g + k) * ws), _MM_HINT_T0);          \
                    NAME##_ypack(wb, ws, &pw[q * nb + b]);                                                     \
                }                                                                                              \
            }                                                                                                  \
            for (int64_t i = 0; i < m; i++) {                                                                  \
                const XB *xi = (const XB *)(X + (size_t)i * xs);                                               \
                const __m256i *ei = (SIGNED) ? xe + 2 * i * nb : NULL;                                         \
                float *yi = y + i * ldy + r;                                                                   \
                if (g == 2) TILE(2, nb, pw, xi, ei, dx + i * nb, sx + i * nb, yi);                             \
                else TILE(1, nb, pw, xi, ei, dx + i * nb, sx + i * nb, yi);                                    \
            }                                                                                                  \
            r += 8 * g;                                                                                        \
        }                                                                                                      \
        return 1;                                                                                              \
    }
YTGEN(q4_1, block_q4_1, block_q8_1, yt_wu, q4_1_ytile, 0)
YTGEN(q4_0, block_q4_0, block_q8_0, yt_w16, yt_tile16, 1)
YTGEN(q5_0, block_q5_0, block_q8_0, yt_w16, yt_tile16, 1)
YTGEN(q8_0, block_q8_0, block_q8_0, yt_w16, yt_tile16, 1)

// NAME##_ygemm: the table's gemm. m == 1: NAME##_ygemv (gemv_ymm.h); m > 1: whole 8-row
// groups on the transposed tiles. Rows past the groups go through the generic 1-row tiles
// (NAME##_rows), which compute the same.
#define YGEN(NAME)                                                                                             \
    static void NAME##_ygemm(int64_t k, const void *wv, size_t ws, int64_t r0, int64_t r1, const void *xv,     \
                             size_t xs, int64_t m, float *y, int64_t ldy) {                                    \
        const uint8_t *W = (const uint8_t *)wv, *X = (const uint8_t *)xv;                                      \
        const int64_t nb = k / 32;                                                                             \
        if (k % 32 == 0 && nb > 0) {                                                                           \
            if (m == 1) {                                                                                      \
                NAME##_ygemv(nb, W, ws, r0, r1, X, y);                                                         \
                r0 = r1;                                                                                       \
            } else {                                                                                           \
                const int64_t r8 = r0 + (r1 - r0) / 8 * 8;                                                     \
                if (r8 > r0 && NAME##_ytgemm(nb, W, ws, r0, r8, X, xs, m, y, ldy)) r0 = r8;                    \
            }                                                                                                  \
        }                                                                                                      \
        for (; r0 < r1; r0++) NAME##_rows(1, k, W + (size_t)r0 * ws, ws, X, xs, m, y + r0, ldy);               \
    }
YGEN(q4_1)
YGEN(q4_0)
YGEN(q5_0)
YGEN(q8_0)

#endif
