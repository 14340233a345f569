// Block-scalar gemm / vec_dot for the 32-element block types Q4_0, Q4_1, Q5_0, Q8_0 on
// AVX-512 VNNI, with an AMX-INT8 variant for many activation rows (included by simd_impl.h
// when FL_AVX512).
//
// Arithmetic, identical for vec_dot, every m, every row range and both variants: for each
// (weight row r, activation row i), acc = 0, then for blocks b = 0..nb-1
//     p   = sum_e qw[r][b][e] * qx[i][b][e]          exact int32 (summation order is free)
//     acc = fma(dw[r][b] * dx[i][b], (float)p, acc)   (the scale product rounded once)
//     accm = fma(mw[r][b], sx[i][b], accm)            (Q4_1 only: the min term, own sum)
// and y[i][r] = acc + accm. Keeping the min term in its own sum, as GGML's x86 kernel does,
// keeps results close to llama.cpp's (folding it into acc moved SmolLM2 logits by ~0.2). Reducing each block to one integer before any float work needs ~8x
// fewer float operations than lane-wise accumulation, and the integer part may then come
// from vpdpbusd or from AMX tiles: both give the same exact p, hence bit-identical results.
//
// Layout of a 16-row group (never stored in the model: built per block from the GGML rows):
// 8 zmm u[j], dword r of u[j] = bytes 4j..4j+3 of row r's unpacked block as unsigned bytes
// u = q + OFF. One vpdpbusd with a broadcast activation dword advances all 16 rows, and
// u[0..7] stored one after the other is exactly an AMX B tile (8 rows of 16 x 4 bytes).
// With OFF != 0 the VNNI path subtracts OFF * sum(x) (exact); the AMX path stores q = u - OFF
// and uses the signed x signed product instead.
//
// The layout and its builders (NAME##_bpack) also serve the default lane-wise kernels of
// gemm_zmm_t.h. The block-scalar arithmetic below is opt-in only ("avx512bs",
// "avx512bs-amx"): accuracy is that of the lane-wise kernels, but the results are not GGML's
// bit for bit, and the model reference tests (greedy outputs against
// llama.cpp, calibrated to the lane-wise arithmetic) then miss their thresholds: SmolLM2 max
// |dlogit| 0.54 > 0.5, Qwen2.5 6/8 greedy cases (near-ties flip).
#ifndef FLINT_GEMM_ZMM_B_H
#define FLINT_GEMM_ZMM_B_H

#include <stdalign.h>

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

// Activation side per (row i, block b), laid out [i * nb + b] (rows up to a multiple of 16
// padded with zeros): dx = d as float; ex = s as float (Q8_1) or -OFF * sum(qs) as int32.
FL_INLINE int32_t zb_sum32(const int8_t *qs) {
    // sum of (x + 128) via vpsadbw, exact
    const __m256i u = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)qs), _mm256_set1_epi8((char)0x80));
    const __m256i s = _mm256_sad_epu8(u, _mm256_setzero_si256());
    const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    return (int32_t)(_mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1)) - 32 * 128;
}

typedef union { float f; int32_t i; } zb_ex;

FL_INLINE void zb_prep_x8_0(int off, int64_t m, int64_t mp, int64_t nb, const uint8_t *x, size_t xs, float *dx, zb_ex *ex) {
    for (int64_t i = 0; i < m; i++) {
        const block_q8_0 *xb = (const block_q8_0 *)(x + (size_t)i * xs);
        for (int64_t b = 0; b < nb; b++) {
            dx[i * nb + b] = h2f(xb[b].d);
            ex[i * nb + b].i = -off * zb_sum32(xb[b].qs);
        }
    }
    memset(dx + m * nb, 0, sizeof(float) * (size_t)((mp - m) * nb));
    memset(ex + m * nb, 0, sizeof(zb_ex) * (size_t)((mp - m) * nb));
}
FL_INLINE void zb_prep_x8_1(int off, int64_t m, int64_t mp, int64_t nb, const uint8_t *x, size_t xs, float *dx, zb_ex *ex) {
    (void)off;
    for (int64_t i = 0; i < m; i++) {
        const block_q8_1 *xb = (const block_q8_1 *)(x + (size_t)i * xs);
        for (int64_t b = 0; b < nb; b++) {
            dx[i * nb + b] = h2f(xb[b].d);
            ex[i * nb + b].f = h2f(xb[b].s);
        }
    }
    memset(dx + m * nb, 0, sizeof(float) * (size_t)((mp - m) * nb));
    memset(ex + m * nb, 0, sizeof(zb_ex) * (size_t)((mp - m) * nb));
}

// One block's float update of 16 pairs (weight rows in lanes, one activation row).
FL_INLINE __m512 zb_update(__m512 acc, __m512i p, const zb_w *w, float dx) {
    return _mm512_fmadd_ps(_mm512_mul_ps(w->d, _mm512_set1_ps(dx)), _mm512_cvtepi32_ps(p), acc);
}

FL_INLINE __m512i zb_bcast32(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

FL_INLINE void zb_store(float *y, int nr, __m512 v) {
    if (nr == 16) _mm512_storeu_ps(y, v);
    else _mm512_mask_storeu_ps(y, (__mmask16)((1u << nr) - 1), v);
}

// NAME, weight block, activation block, OFF, has min term, AMX product for the B tile bytes
#define ZBGEN(NAME, WB, XB, OFF, HAS_MIN, XPREP)                                                           \
    /* 16 weight rows (ws apart, all readable) x NM activation rows, all blocks, in registers */          \
    FL_INLINE void NAME##_btile(const int nm, int64_t nb, const uint8_t *w, size_t ws, __m512i vidx,     \
                                const uint8_t *x, size_t xs, const float *dx, const zb_ex *ex, float *y, \
                                int64_t ldy, int nr) {                                                    \
        __m512 acc[8], accm[8];                                                                           \
        FL_UNROLL for (int i = 0; i < nm; i++) acc[i] = accm[i] = _mm512_setzero_ps();                              \
        for (int64_t b = 0; b < nb; b++) {                                                                \
            zb_w pw;                                                                                      \
            if (nm == 1) /* decode: the next group's block, 16 row streams */                            \
                FL_UNROLL for (int q = 0; q < 16; q++)                                                              \
                    _mm_prefetch((const char *)(w + (size_t)b * sizeof(WB) + (size_t)(16 + q) * ws), _MM_HINT_T0); \
            NAME##_bpack(w + (size_t)b * sizeof(WB), ws, vidx, &pw);                                      \
            FL_UNROLL for (int i = 0; i < nm; i++) {                                                                \
                const int8_t *q = ((const XB *)(x + (size_t)i * xs) + b)->qs;                             \
                /* two independent chains: exact integer sums, so the split is free */                  \
                __m512i p0 = (OFF) ? _mm512_set1_epi32(ex[i * nb + b].i) : _mm512_setzero_si512();        \
                __m512i p1 = _mm512_setzero_si512();                                                      \
                for (int j = 0; j < 8; j += 2) {                                                          \
                    p0 = _mm512_dpbusd_epi32(p0, pw.u[j], zb_bcast32(q + 4 * j));                         \
                    p1 = _mm512_dpbusd_epi32(p1, pw.u[j + 1], zb_bcast32(q + 4 * j + 4));                 \
                }                                                                                         \
                acc[i] = zb_update(acc[i], _mm512_add_epi32(p0, p1), &pw, dx[i * nb + b]);                \
                if (HAS_MIN) accm[i] = _mm512_fmadd_ps(pw.mn, _mm512_set1_ps(ex[i * nb + b].f), accm[i]); \
            }                                                                                             \
        }                                                                                                 \
        FL_UNROLL for (int i = 0; i < nm; i++) zb_store(y + i * ldy, nr, HAS_MIN ? _mm512_add_ps(acc[i], accm[i]) : acc[i]); \
    }                                                                                                     \
    FL_INLINE void NAME##_btiles(int64_t nb, const uint8_t *w, size_t ws, __m512i vidx, const uint8_t *x, \
                                 size_t xs, int64_t m, const float *dx, const zb_ex *ex, float *y,          \
                                 int64_t ldy, int nr) {                                                   \
        for (int64_t i0 = 0; i0 < m; i0 += 8) {                                                           \
            const uint8_t *xt = x + (size_t)i0 * xs;                                                      \
            const float *dt = dx + i0 * nb;                                                               \
            const zb_ex *et = ex + i0 * nb;                                                               \
            float *yt = y + i0 * ldy;                                                                     \
            switch (m - i0 < 8 ? m - i0 : 8) {                                                            \
            case 1: NAME##_btile(1, nb, w, ws, vidx, xt, xs, dt, et, yt, ldy, nr); break;                 \
            case 2: NAME##_btile(2, nb, w, ws, vidx, xt, xs, dt, et, yt, ldy, nr); break;                 \
            case 3: NAME##_btile(3, nb, w, ws, vidx, xt, xs, dt, et, yt, ldy, nr); break;                 \
            case 4: NAME##_btile(4, nb, w, ws, vidx, xt, xs, dt, et, yt, ldy, nr); break;                 \
            case 5: NAME##_btile(5, nb, w, ws, vidx, xt, xs, dt, et, yt, ldy, nr); break;                 \
            case 6: NAME##_btile(6, nb, w, ws, vidx, xt, xs, dt, et, yt, ldy, nr); break;                 \
            case 7: NAME##_btile(7, nb, w, ws, vidx, xt, xs, dt, et, yt, ldy, nr); break;                 \
            default: NAME##_btile(8, nb, w, ws, vidx, xt, xs, dt, et, yt, ldy, nr); break;                \
            }                                                                                             \
        }                                                                                                 \
    }                                                                                                     \
    /* the group's blocks as AMX B tiles (q = u - OFF) plus scales: 512 + 128 bytes per block */          \
    FL_INLINE void NAME##_bstore(int64_t nb, const uint8_t *w, size_t ws, __m512i vidx, uint8_t *pk) {   \
        for (int64_t b = 0; b < nb; b++) {                                                                \
            zb_w pw;                                                                                      \
            NAME##_bpack(w + (size_t)b * sizeof(WB), ws, vidx, &pw);                                      \
            uint8_t *o = pk + (size_t)b * 640;                                                            \
            FL_UNROLL for (int j = 0; j < 8; j++)                                                                   \
                _mm512_store_si512((void *)(o + 64 * j), (OFF) ? _mm512_sub_epi8(pw.u[j], _mm512_set1_epi8((char)(OFF))) : pw.u[j]); \
            _mm512_store_ps((float *)(o + 512), pw.d);                                                    \
            _mm512_store_ps((float *)(o + 576), pw.mn);                                                   \
        }                                                                                                 \
    }                                                                                                     \
    static void NAME##_bgemm_any(int64_t k, const void *wv, size_t ws, int64_t r0, int64_t r1,           \
                                 const void *xv, size_t xs, int64_t m, float *y, int64_t ldy, int amx) {   \
        const int64_t nb = k / 32;                                                                        \
        const uint8_t *W = (const uint8_t *)wv, *X = (const uint8_t *)xv;                                 \
        const int64_t mp = (m + 15) / 16 * 16;                                                            \
        const size_t rowb = (size_t)nb * sizeof(WB);                                                      \
        float *dx = (float *)fl_scratch(0, (sizeof(float) + sizeof(zb_ex)) * (size_t)(mp * nb) + 64);     \
        uint8_t *tail = (uint8_t *)fl_scratch(1, 16 * rowb + 64 + (amx ? (size_t)nb * 640 : 0));          \
        if (!dx || !tail || nb == 0) { for (int64_t i = 0; i < m; i++) for (int64_t r = r0; r < r1; r++) y[i * ldy + r] = 0.f; return; } \
        zb_ex *ex = (zb_ex *)(dx + mp * nb);                                                              \
        XPREP(OFF, m, mp, nb, X, xs, dx, ex);                                                             \
        uint8_t *pk = amx ? (uint8_t *)(((uintptr_t)tail + 16 * rowb + 63) & ~(uintptr_t)63) : NULL;      \
        for (int64_t r = r0; r < r1; r += 16) {                                                           \
            const int nr = (int)(r1 - r < 16 ? r1 - r : 16);                                              \
            const uint8_t *w = W + (size_t)r * ws;                                                        \
            size_t gs = ws;                                                                               \
            if (nr < 16) { /* copy the last rows, zero rows after them: every lane reads valid memory */ \
                FL_UNROLL for (int q = 0; q < 16; q++)                                                              \
                    if (q < nr) memcpy(tail + (size_t)q * rowb, w + (size_t)q * ws, rowb);                \
                    else memset(tail + (size_t)q * rowb, 0, rowb);                                        \
                w = tail;                                                                                 \
                gs = rowb;                                                                                \
            }                                                                                             \
            const __m512i vidx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), \
                                                    _mm512_set1_epi32((int)gs));                          \
            if (amx) {                                                                                    \
                NAME##_bstore(nb, w, gs, vidx, pk);                                                       \
                NAME##_amx_group(nb, pk, X, xs, m, dx, ex, y + r, ldy, nr);                               \
            } else {                                                                                      \
                NAME##_btiles(nb, w, gs, vidx, X, xs, m, dx, ex, y + r, ldy, nr);                         \
            }                                                                                             \
        }                                                                                                 \
    }                                                                                                     \
    static void NAME##_bgemm(int64_t k, const void *w, size_t ws, int64_t r0, int64_t r1, const void *x,  \
                             size_t xs, int64_t m, float *y, int64_t ldy) {                               \
        NAME##_bgemm_any(k, w, ws, r0, r1, x, xs, m, y, ldy, 0);                                          \
    }                                                                                                     \
    static void NAME##_bgemm_amx(int64_t k, const void *w, size_t ws, int64_t r0, int64_t r1, const void *x, \
                                 size_t xs, int64_t m, float *y, int64_t ldy) {                           \
        NAME##_bgemm_any(k, w, ws, r0, r1, x, xs, m, y, ldy, m >= ZB_AMX_MIN_M);                          \
    }                                                                                                     \
    /* vec_dot: a 1-row group (all 16 lanes read row 0) against one activation row */                   \
    static void NAME##_bvec_dot(int64_t n, float *s, const void *w, const void *x) {                      \
        float y[16];                                                                                      \
        NAME##_bgemm_any(n, w, 0, 0, 1, x, 0, 1, y, 16, 0);                                               \
        *s = y[0];                                                                                        \
    }

// Below 32 rows the VNNI tiles were measured as fast (per-block tile store and reload).
#ifndef ZB_AMX_MIN_M
#define ZB_AMX_MIN_M 32
#endif

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} fl_tilecfg;

// tiles 0,1: C (mt x 16 int32); 2,3: A (mt activation rows x 32 bytes); 4,5: B (8 x 64 bytes)
FL_INLINE void fl_amx_config(int mt) {
    alignas(64) fl_tilecfg c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    FL_UNROLL for (int t = 0; t < 2; t++) {
        c.rows[t] = (uint8_t)mt;
        c.colsb[t] = 64;
        c.rows[2 + t] = (uint8_t)mt;
        c.colsb[2 + t] = 32;
        c.rows[4 + t] = 8;
        c.colsb[4 + t] = 64;
    }
    _tile_loadconfig(&c);
}


// ---- AMX: C (16 activation rows x 16 weight rows, int32) = A (activations, signed bytes,
// read in place with the row stride) . B (one block of the group, q or u bytes) per block;
// C is stored and its rows get the same float update as in NAME##_btile.

#define ZB_AMXGEN(NAME, XB, HAS_MIN, DP)                                                                   \
    FL_INLINE void NAME##_amx_epi(__m512 acc[16], const int32_t *c, const uint8_t *o, const float *dx,   \
                                  int64_t nb) {                                                           \
        zb_w pw;                                                                                          \
        pw.d = _mm512_load_ps((const float *)(o + 512));                                                  \
        FL_UNROLL for (int i = 0; i < 16; i++)                                                                      \
            acc[i] = zb_update(acc[i], _mm512_load_si512((const void *)(c + 16 * i)), &pw, dx[i * nb]);   \
    }                                                                                                     \
    static void NAME##_amx_group(int64_t nb, const uint8_t *pk, const uint8_t *x, size_t xs, int64_t m,  \
                                 const float *dx, const zb_ex *ex, float *y, int64_t ldy, int nr) {       \
        alignas(64) int32_t c0[256], c1[256];                                                             \
        memset(c0, 0, sizeof c0); /* rows past a partial tile's mt are read (scaled by dx = 0) */       \
        memset(c1, 0, sizeof c1);                                                                         \
        int cfg = -1;                                                                                     \
        for (int64_t i0 = 0; i0 < m; i0 += 16) {                                                          \
            const int mt = (int)(m - i0 < 16 ? m - i0 : 16);                                              \
            if (mt != cfg) { fl_amx_config(mt); cfg = mt; }                                               \
            const uint8_t *xa = (const uint8_t *)((const XB *)(x + (size_t)i0 * xs))->qs;                 \
            const float *dt = dx + i0 * nb;                                                               \
            const zb_ex *et = ex + i0 * nb;                                                               \
            __m512 acc[16];                                                                               \
            FL_UNROLL for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_ps();                                    \
            int64_t b = 0;                                                                                \
            for (; b + 2 <= nb; b += 2) {                                                                 \
                _tile_loadd(2, xa + (size_t)b * sizeof(XB), (long)xs);                                    \
                _tile_loadd(4, pk + (size_t)b * 640, 64);                                                 \
                _tile_zero(0);                                                                            \
                DP(0, 2, 4);                                                                              \
                _tile_loadd(3, xa + (size_t)(b + 1) * sizeof(XB), (long)xs);                              \
                _tile_loadd(5, pk + (size_t)(b + 1) * 640, 64);                                           \
                _tile_zero(1);                                                                            \
                DP(1, 3, 5);                                                                              \
                _tile_stored(0, c0, 64);                                                                  \
                NAME##_amx_epi(acc, c0, pk + (size_t)b * 640, dt + b, nb);                        \
                _tile_stored(1, c1, 64);                                                                  \
                NAME##_amx_epi(acc, c1, pk + (size_t)(b + 1) * 640, dt + b + 1, nb);          \
            }                                                                                             \
            if (b < nb) {                                                                                 \
                _tile_loadd(2, xa + (size_t)b * sizeof(XB), (long)xs);                                    \
                _tile_loadd(4, pk + (size_t)b * 640, 64);                                                 \
                _tile_zero(0);                                                                            \
                DP(0, 2, 4);                                                                              \
                _tile_stored(0, c0, 64);                                                                  \
                NAME##_amx_epi(acc, c0, pk + (size_t)b * 640, dt + b, nb);                        \
            }                                                                                             \
            if (HAS_MIN) { /* the min sums, in the same registers after the main sums are set aside */   \
                alignas(64) float main[16][16];                                                           \
                FL_UNROLL for (int i = 0; i < 16; i++) { _mm512_store_ps(main[i], acc[i]); acc[i] = _mm512_setzero_ps(); } \
                for (int64_t bb = 0; bb < nb; bb++) {                                                     \
                    const __m512 mn = _mm512_load_ps((const float *)(pk + (size_t)bb * 640 + 576));       \
                    FL_UNROLL for (int i = 0; i < 16; i++)                                                          \
                        acc[i] = _mm512_fmadd_ps(mn, _mm512_set1_ps(et[i * nb + bb].f), acc[i]);          \
                }                                                                                         \
                FL_UNROLL for (int i = 0; i < 16; i++) acc[i] = _mm512_add_ps(_mm512_load_ps(main[i]), acc[i]);    \
            }                                                                                             \
            for (int i = 0; i < mt; i++) zb_store(y + (i0 + i) * ldy, nr, acc[i]);                        \
        }                                                                                                 \
        _tile_release();                                                                                  \
    }

ZB_AMXGEN(q4_0, block_q8_0, 0, _tile_dpbssd)
ZB_AMXGEN(q4_1, block_q8_1, 1, _tile_dpbsud)
ZB_AMXGEN(q5_0, block_q8_0, 0, _tile_dpbssd)
ZB_AMXGEN(q8_0, block_q8_0, 0, _tile_dpbssd)

ZBGEN(q4_0, block_q4_0, block_q8_0, 8, 0, zb_prep_x8_0)
ZBGEN(q4_1, block_q4_1, block_q8_1, 0, 1, zb_prep_x8_1)
ZBGEN(q5_0, block_q5_0, block_q8_0, 16, 0, zb_prep_x8_0)
ZBGEN(q8_0, block_q8_0, block_q8_0, 128, 0, zb_prep_x8_0)

#endif
