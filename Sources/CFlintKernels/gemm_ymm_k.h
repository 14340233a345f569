// AVX2 / AVX-VNNI gemm for Q4_K and Q6_K against Q8_K on the transposed 8-row layout of
// gemm_ymm.h (included by simd_impl.h for the 256-bit-only paths), for several activation
// rows; one row goes through gemv_ymm.h's GEMV.
//
// Per (weight row, activation row) pair the arithmetic is that of simd_impl.h's step
// functions, with the pair's integer sums in lane r of a ymm instead of spread over a ymm:
//   - q4_K_step: A0 = fma(float(S), d_w * d_x, A0), A1 = fma(float(-M), dmin_w * d_x, A1) per
//     block, S the scaled integer sum, M the min term; q4_K_gemm4_step does the same per pair
//     of sub-blocks, pairs in order. acc_finish() then gives ((A0 + 0) + (A1 + 0)) + 0.
//   - q6_K_step: lane l of the block's integer sum (bytes 4l..4l+3 of each 32-byte chunk,
//     scaled, minus 32 x the scaled activation sums of sub-blocks 2l, 2l+1) into its own
//     float accumulator, acc_finish()'s tree at the end; q6_K_tiled_step: the whole sum,
//     A = fma(float(S) * d_w, d_x, A), which acc_finish() turns into A + 0.
// Integer sums are exact in any order (vpmaddubsw never saturates here: 15 or 63 times 127,
// twice), so results are bit-identical to vec_dot.
//
// A sub-block's scale is applied by the vpmaddwd that sums vpmaddubsw's pairs (lane r holds
// the row's scale in both int16 halves), so scaling costs nothing extra.
#ifndef FLINT_GEMM_YMM_K_H
#define FLINT_GEMM_YMM_K_H

// ndw dwords (a multiple of 4) at p of rows 0..7 -> t[k] with dword r = dword k of row r.
FL_INLINE void yk_transpose(const uint8_t *p, size_t ws, int ndw, __m256i *t) {
    for (int c = 0; c < ndw / 4; c++) yt_load16(p + 16 * c, ws, t + 4 * c);
}

// Byte i (0..3) of every dword as an unsigned int16 in both halves.
FL_INLINE __m256i yk_pair_u8(__m256i v, int i) {
    const __m256i b = _mm256_and_si256(_mm256_srli_epi32(v, 8 * i), _mm256_set1_epi32(0xFF));
    return _mm256_or_si256(b, _mm256_slli_epi32(b, 16));
}
// Signed bytes i and i + 1 of every dword as int16 (low, high).
FL_INLINE __m256i yk_pair_s8(__m256i v, int i) {
    const __m256i lo = _mm256_srai_epi32(_mm256_slli_epi32(v, 24 - 8 * i), 24);
    const __m256i hi = _mm256_srai_epi32(_mm256_slli_epi32(v, 16 - 8 * i), 24);
    return _mm256_or_si256(_mm256_and_si256(lo, _mm256_set1_epi32(0xFFFF)), _mm256_slli_epi32(hi, 16));
}

FL_INLINE __m256i yk_dot(__m256i u, const int8_t *x, __m256i scale) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, yt_bcast(x)), scale);
}

// ---- Q4_K

typedef struct { __m256i u[8][8], sc[8], mn[8]; __m256 d, dmin; } yk4_w;

FL_INLINE void q4_K_ypack(const uint8_t *w, size_t ws, yk4_w *o) {
    __m256i t[32];
    yk_transpose(w + offsetof(block_q4_K, qs), ws, 32, t);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    FL_UNROLL for (int j = 0; j < 4; j++)  // 32 bytes: low nibbles are sub-block 2j, high ones 2j + 1
        FL_UNROLL for (int l = 0; l < 8; l++) {
            o->u[2 * j][l] = _mm256_and_si256(t[8 * j + l], m4);
            o->u[2 * j + 1][l] = _mm256_and_si256(_mm256_srli_epi16(t[8 * j + l], 4), m4);
        }
    // 6-bit scales and mins (fl_get_scale_min_k4) of the 8 rows at once
    const __m256i s0 = yt_dword8(w + offsetof(block_q4_K, scales), ws);
    const __m256i s1 = yt_dword8(w + offsetof(block_q4_K, scales) + 4, ws);
    const __m256i s2 = yt_dword8(w + offsetof(block_q4_K, scales) + 8, ws);
    const __m256i m3f = _mm256_set1_epi32(0x3f3f3f3f), m0f = _mm256_set1_epi32(0x0f0f0f0f), m03 = _mm256_set1_epi32(0x03030303);
    const __m256i sc_lo = _mm256_and_si256(s0, m3f), mn_lo = _mm256_and_si256(s1, m3f);
    const __m256i sc_hi = _mm256_or_si256(_mm256_and_si256(s2, m0f), _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(s0, 6), m03), 4));
    const __m256i mn_hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(s2, 4), m0f),
                                          _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(s1, 6), m03), 4));
    FL_UNROLL for (int j = 0; j < 4; j++) {
        o->sc[j] = yk_pair_u8(sc_lo, j);
        o->sc[j + 4] = yk_pair_u8(sc_hi, j);
        o->mn[j] = yk_pair_u8(mn_lo, j);
        o->mn[j + 4] = yk_pair_u8(mn_hi, j);
    }
    const __m256i dm = yt_dword8(w, ws);  // d | dmin << 16
    o->d = yt_h2f(dm, 0);
    o->dmin = yt_h2f(dm, 1);
}

// Sub-blocks j0..j1-1 of up to two activation rows: S[i] += scaled sums, M[i] += min terms.
FL_INLINE void yk4_sums(const int ni, const yk4_w *w, const block_q8_K *const x[2], int j0, int j1, __m256i S[2], __m256i M[2]) {
    for (int j = j0; j < j1; j++) {
        FL_UNROLL for (int l = 0; l < 8; l++) {
            const __m256i u = w->u[j][l];
            FL_UNROLL for (int i = 0; i < ni; i++) S[i] = _mm256_add_epi32(S[i], yk_dot(u, x[i]->qs + 32 * j + 4 * l, w->sc[j]));
        }
        FL_UNROLL for (int i = 0; i < ni; i++) {
            int32_t b;
            memcpy(&b, x[i]->bsums + 2 * j, 4);
            M[i] = _mm256_add_epi32(M[i], _mm256_madd_epi16(w->mn[j], _mm256_set1_epi32(b)));
        }
    }
}

// One or two activation rows against a packed 8-row group; GEMM4: llama.cpp's 4-row GEMM form.
FL_INLINE void q4_K_yktile(const int ni, const int gemm4, int64_t nb, const yk4_w *pw, const uint8_t *x, size_t xs,
                           float *y, int64_t ldy) {
    __m256 A0[2], A1[2];
    FL_UNROLL for (int i = 0; i < ni; i++) A0[i] = A1[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const block_q8_K *xb[2] = {(const block_q8_K *)x + b, (const block_q8_K *)(x + xs) + b};
        __m256 sd[2], sm[2];
        FL_UNROLL for (int i = 0; i < ni; i++) {
            sd[i] = _mm256_mul_ps(pw[b].d, _mm256_set1_ps(xb[i]->d));
            sm[i] = _mm256_mul_ps(pw[b].dmin, _mm256_set1_ps(xb[i]->d));
        }
        for (int p = 0; p < (gemm4 ? 4 : 1); p++) {
            __m256i S[2], M[2];
            FL_UNROLL for (int i = 0; i < ni; i++) S[i] = M[i] = _mm256_setzero_si256();
            yk4_sums(ni, &pw[b], xb, gemm4 ? 2 * p : 0, gemm4 ? 2 * p + 2 : 8, S, M);
            FL_UNROLL for (int i = 0; i < ni; i++) {
                A0[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(S[i]), sd[i], A0[i]);
                A1[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_setzero_si256(), M[i])), sm[i], A1[i]);
            }
        }
    }
    const __m256 z = _mm256_setzero_ps();
    FL_UNROLL for (int i = 0; i < ni; i++)
        _mm256_storeu_ps(y + i * ldy, _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(A0[i], z), _mm256_add_ps(A1[i], z)), z));
}

// ---- Q6_K

typedef struct { __m256i u[8][8], sc[16], sp[8]; __m256 d; } yk6_w;  // sc: (s, s); sp: (s_2l, s_2l+1)

FL_INLINE void q6_K_ypack(const uint8_t *w, size_t ws, yk6_w *o) {
    __m256i ql[32], qh[16], sc[4];
    yk_transpose(w + offsetof(block_q6_K, ql), ws, 32, ql);
    yk_transpose(w + offsetof(block_q6_K, qh), ws, 16, qh);
    yk_transpose(w + offsetof(block_q6_K, scales), ws, 4, sc);
    const __m256i m4 = _mm256_set1_epi8(0x0F), m3 = _mm256_set1_epi8(3);
    // q6_K_prep's unpacking, dword by dword: chunk 4h + k holds elements 128h + 32k ..
    FL_UNROLL for (int h = 0; h < 2; h++)
        FL_UNROLL for (int l = 0; l < 8; l++) {
            const __m256i l0 = ql[16 * h + l], l1 = ql[16 * h + 8 + l], hb = qh[8 * h + l];
            o->u[4 * h + 0][l] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m3), 4));
            o->u[4 * h + 1][l] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m3), 4));
            o->u[4 * h + 2][l] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                                 _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m3), 4));
            o->u[4 * h + 3][l] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                                 _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m3), 4));
        }
    FL_UNROLL for (int s = 0; s < 16; s++) {
        const __m256i v = _mm256_srai_epi32(_mm256_slli_epi32(sc[s / 4], 24 - 8 * (s % 4)), 24);
        o->sc[s] = _mm256_or_si256(_mm256_and_si256(v, _mm256_set1_epi32(0xFFFF)), _mm256_slli_epi32(v, 16));
    }
    FL_UNROLL for (int l = 0; l < 8; l++) o->sp[l] = yk_pair_s8(sc[l / 2], 2 * (l % 2));
    o->d = yt_h2f(yt_dword8(w + offsetof(block_q6_K, d) - 2, ws), 1);  // the dword ending with d
}

// Lane l's integer sum of one block (q6_K_sumi's lane l) for row x.
FL_INLINE __m256i yk6_lane(const yk6_w *w, const block_q8_K *x, int l) {
    __m256i s = _mm256_setzero_si256();
    FL_UNROLL for (int c = 0; c < 8; c++) s = _mm256_add_epi32(s, yk_dot(w->u[c][l], x->qs + 32 * c + 4 * l, w->sc[2 * c + l / 4]));
    int32_t b;
    memcpy(&b, x->bsums + 2 * l, 4);
    return _mm256_sub_epi32(s, _mm256_slli_epi32(_mm256_madd_epi16(w->sp[l], _mm256_set1_epi32(b)), 5));
}

FL_INLINE void q6_K_yktile(const int ni, const int tiled, int64_t nb, const yk6_w *pw, const uint8_t *x, size_t xs,
                           float *y, int64_t ldy) {
    if (!tiled) {  // one row: 8 lane accumulators
        __m256 acc[8];
        FL_UNROLL for (int l = 0; l < 8; l++) acc[l] = _mm256_setzero_ps();
        for (int64_t b = 0; b < nb; b++) {
            const block_q8_K *xb = (const block_q8_K *)x + b;
            const __m256 dd = _mm256_mul_ps(pw[b].d, _mm256_set1_ps(xb->d));
            FL_UNROLL for (int l = 0; l < 8; l++) acc[l] = _mm256_fmadd_ps(dd, _mm256_cvtepi32_ps(yk6_lane(&pw[b], xb, l)), acc[l]);
        }
        _mm256_storeu_ps(y, yt_finish(acc, _mm256_setzero_ps()));
        return;
    }
    __m256 A[2];
    FL_UNROLL for (int i = 0; i < ni; i++) A[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++)
        FL_UNROLL for (int i = 0; i < ni; i++) {
            const block_q8_K *xb = (const block_q8_K *)(x + (size_t)i * xs) + b;
            __m256i S = _mm256_setzero_si256();
            FL_UNROLL for (int l = 0; l < 8; l++) S = _mm256_add_epi32(S, yk6_lane(&pw[b], xb, l));
            A[i] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(S), pw[b].d), _mm256_set1_ps(xb->d), A[i]);
        }
    FL_UNROLL for (int i = 0; i < ni; i++) _mm256_storeu_ps(y + i * ldy, _mm256_add_ps(A[i], _mm256_setzero_ps()));
}

// ---- entry points: NAME##_ykgemm, the table's gemm for each form (FORM: 0 row, 1 the
// batch form). One activation row: NAME##_ygemv; up to YV_FEW_ROWS in the row form:
// NAME##_ygemvm (gemv_ymm.h); more: whole 8-row groups packed
// once each and streamed over the activation rows (ROWS at a time); the other rows through
// the generic 1-row tiles.
#define YKGEN(NAME, BASE, WB, YW, FORM, ROWS)                                                             \
    static int NAME##_yktgemm(int64_t nb, const uint8_t *W, size_t ws, int64_t r0, int64_t r8,          \
                              const uint8_t *X, size_t xs, int64_t m, float *y, int64_t ldy) {           \
        YW *pw = (YW *)fl_scratch(1, sizeof(YW) * (size_t)nb);                                           \
        if (!pw) return 0;                                                                               \
        for (int64_t r = r0; r < r8; r += 8) {                                                           \
            const uint8_t *w = W + (size_t)r * ws;                                                       \
            for (int64_t b = 0; b < nb; b++) {                                                           \
                const uint8_t *wb = w + (size_t)b * sizeof(WB);                                          \
                FL_UNROLL for (int q = 0; q < 8; q++) /* the next group's block */                                 \
                    for (size_t o = 0; o < sizeof(WB); o += 64) _mm_prefetch((const char *)(wb + (size_t)(8 + q) * ws + o), _MM_HINT_T0); \
                BASE##_ypack(wb, ws, &pw[b]);                                                            \
            }                                                                                            \
            int64_t i = 0;                                                                               \
            for (; i + (ROWS) <= m; i += (ROWS))                                                         \
                BASE##_yktile((ROWS), FORM, nb, pw, X + (size_t)i * xs, xs, y + i * ldy + r, ldy);      \
            if (i < m) BASE##_yktile(1, FORM, nb, pw, X + (size_t)i * xs, xs, y + i * ldy + r, ldy);     \
        }                                                                                                \
        return 1;                                                                                        \
    }                                                                                                    \
    static void NAME##_ykgemm(int64_t k, const void *wv, size_t ws, int64_t r0, int64_t r1, const void *xv, \
                              size_t xs, int64_t m, float *y, int64_t ldy) {                             \
        const uint8_t *W = (const uint8_t *)wv, *X = (const uint8_t *)xv;                                \
        const int64_t nb = k / QK_K;                                                                     \
        if (k % QK_K == 0 && nb > 0) {                                                                   \
            if (m == 1) {                                                                                \
                NAME##_ygemv(nb, W, ws, r0, r1, X, y);                                                   \
                r0 = r1;                                                                                 \
            } else if (!(FORM) && m <= YV_FEW_ROWS) {                                                    \
                BASE##_ygemvm(nb, W, ws, r0, r1, X, xs, m, y, ldy);                                      \
                r0 = r1;                                                                                 \
            } else {                                                                                     \
                const int64_t r8 = r0 + (r1 - r0) / 8 * 8;                                               \
                if (r8 > r0 && NAME##_yktgemm(nb, W, ws, r0, r8, X, xs, m, y, ldy)) r0 = r8;             \
            }                                                                                            \
        }                                                                                                \
        for (; r0 < r1; r0++) NAME##_rows(1, k, W + (size_t)r0 * ws, ws, X, xs, m, y + r0, ldy);         \
    }

YKGEN(q4_K, q4_K, block_q4_K, yk4_w, 0, 2)
YKGEN(q4_K_gemm4, q4_K, block_q4_K, yk4_w, 1, 2)
YKGEN(q6_K, q6_K, block_q6_K, yk6_w, 0, 1)
YKGEN(q6_K_tiled, q6_K, block_q6_K, yk6_w, 1, 2)

#endif
