// GEMV (one activation row) on 256-bit vectors for every x86 SIMD path: NAME##_ygemv for the
// 32-element block types and the K-quants (included by simd_impl.h).
//
// Decoding reads every weight once per token, so a GEMV waits on memory. Rows are read one
// after the other, blocks in memory order: one sequential stream per thread, which the
// hardware prefetchers follow, plus a software prefetch FL_GEMV_PF bytes ahead in the same
// stream. Measured on a 2-core Zen 4 VM (AVX2 path): gemma-3-270m decode 65 -> 105 tok/s,
// qwen2.5-0.5b 42 -> 62 and smollm2 140 -> 199 against reading 4 rows side by side with a
// prefetch 10 KB ahead; single-row order with 2, 4 and 8 KB ahead measured within noise of
// each other, 1 KB lower.
//
// Per row the arithmetic is vec_dot's (simd_impl.h) bit for bit: lane l of a block's integer
// sum, acc = fma(d_w * d_x, float(p), acc), Q4_1's min term in its own sum, acc_finish().
// The 32-element types use fewer instructions than the step functions: the d (and Q4_1's m) of
// 4 blocks in one vcvtph2ps, the activation scales converted once per call, nibbles unpacked
// by a variable shift, and for Q4_0 / Q5_0 the integer sums taken from the unsigned form
// u = q + OFF as p = sum(u * x) - OFF * sum(x) (OFF * sum(x) per lane once per call). That
// equals vec_dot's sign-trick value unless an activation byte is -128, where the step
// functions run instead. Q8_0 keeps the sign trick.
#ifndef FLINT_GEMV_YMM_H
#define FLINT_GEMV_YMM_H

#ifndef FL_GEMV_PF
#define FL_GEMV_PF 4096
#endif

FL_INLINE int32_t y_ld32(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

enum { YV_Q4_1, YV_Q4_0, YV_Q5_0, YV_Q8_0 };

FL_INLINE __m256i yv_nibbles(const uint8_t *qs) {
    const __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    return _mm256_and_si256(_mm256_srlv_epi64(v, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0F));
}

// Lane l: sum of activation bytes 4l..4l+3, times off.
FL_INLINE __m256i yv_lane_sums(const int8_t *qs, int off) {
    const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), _mm256_loadu_si256((const __m256i *)qs)),
                                        _mm256_set1_epi16(1));
    return _mm256_mullo_epi32(s, _mm256_set1_epi32(off));
}

// 1 when a Q8_0 row of nb blocks holds the byte -128.
FL_INLINE int yv_has_min_byte(int64_t nb, const block_q8_0 *x) {
    __m256i any = _mm256_setzero_si256();
    for (int64_t b = 0; b < nb; b++)
        any = _mm256_or_si256(any, _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)x[b].qs), _mm256_set1_epi8(-128)));
    return !_mm256_testz_si256(any, any);
}

FL_INLINE void yv_gemv(const int kind, const size_t bsize, int64_t nb, const uint8_t *W, size_t ws, int64_t r0,
                       int64_t r1, const uint8_t *X, size_t xbsize, const float *dx, const float *sx, const __m256i *c,
                       float *y) {
    const size_t xqs = kind == YV_Q4_1 ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs);
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *w = W + (size_t)r * ws;
        __m256 acc = _mm256_setzero_ps();
        float s = 0.f;
        for (int64_t b0 = 0; b0 < nb; b0 += 8) {
            const int n8 = nb - b0 < 8 ? (int)(nb - b0) : 8;
            // lanes 2k, 2k + 1: the first two halves of block b0 + k (d, and Q4_1's m)
            float dm[16];
            for (int h = 0; h < n8; h += 4) {
                const uint8_t *wb = w + (size_t)(b0 + h) * bsize;
                const __m128i hd = _mm_setr_epi32(y_ld32(wb), h + 1 < n8 ? y_ld32(wb + bsize) : 0,
                                                  h + 2 < n8 ? y_ld32(wb + 2 * bsize) : 0, h + 3 < n8 ? y_ld32(wb + 3 * bsize) : 0);
                _mm256_storeu_ps(dm + 2 * h, _mm256_cvtph_ps(hd));
            }
            for (int k = 0; k < n8; k++) {
                const int64_t b = b0 + k;
                const uint8_t *wq = w + (size_t)b * bsize;
                _mm_prefetch((const char *)(wq + FL_GEMV_PF), _MM_HINT_T0);
                const __m256i xv = _mm256_loadu_si256((const __m256i *)(X + (size_t)b * xbsize + xqs));
                __m256i p;
                if (kind == YV_Q4_1) {
                    p = dot_us8(yv_nibbles(wq + offsetof(block_q4_1, qs)), xv);
                    s = fmadd1(dm[2 * k + 1], sx[b], s);
                } else if (kind == YV_Q4_0) {
                    p = _mm256_sub_epi32(dot_us8(yv_nibbles(wq + offsetof(block_q4_0, qs)), xv), c[b]);
                } else if (kind == YV_Q5_0) {
                    const __m256i u = _mm256_or_si256(yv_nibbles(wq + offsetof(block_q5_0, qs)),
                                                      bits_to_0x10(wq + offsetof(block_q5_0, qh)));
                    p = _mm256_sub_epi32(dot_us8(u, xv), c[b]);
                } else {
                    const __m256i v = _mm256_loadu_si256((const __m256i *)(wq + offsetof(block_q8_0, qs)));
                    p = dot_us8(_mm256_sign_epi8(v, v), _mm256_sign_epi8(xv, v));
                }
                acc = _mm256_fmadd_ps(_mm256_set1_ps(dm[2 * k] * dx[b]), _mm256_cvtepi32_ps(p), acc);
            }
        }
        fl_acc a = {acc, s};
        y[r] = acc_finish(a);
    }
}

// FN: the GEMV of type NAME with vec_dot's prep and step functions (the K-quants, and the
// 32-element types' fallback).
#define YGEMV_AS(FN, NAME, WB, XB)                                                                        \
    static void FN(int64_t nb, const uint8_t *W, size_t ws, int64_t r0, int64_t r1, const uint8_t *X,   \
                   float *y) {                                                                           \
        const XB *xb = (const XB *)X;                                                                    \
        for (int64_t r = r0; r < r1; r++) {                                                              \
            const WB *w = (const WB *)(W + (size_t)r * ws);                                              \
            fl_acc acc = acc_zero();                                                                     \
            for (int64_t b = 0; b < nb; b++) {                                                           \
                for (size_t o = 0; o < sizeof(WB); o += 64)                                              \
                    _mm_prefetch((const char *)&w[b] + FL_GEMV_PF + o, _MM_HINT_T0);                     \
                NAME##_w pw;                                                                             \
                NAME##_prep(&pw, &w[b]);                                                                 \
                NAME##_step(&acc, &pw, &xb[b]);                                                          \
            }                                                                                            \
            y[r] = acc_finish(acc);                                                                      \
        }                                                                                                \
    }
#define YGEMV(NAME, WB, XB) YGEMV_AS(NAME##_ygemv, NAME, WB, XB)

// A few activation rows (YV_FEW_ROWS at most, xs bytes apart) in one pass over the weights:
// each weight block is unpacked once (prep) and stepped against every row, so each row's
// arithmetic is the GEMV's (vec_dot's) and the weights are read once. Packing 8-row groups
// (gemm_ymm_k.h) only pays over more rows: qwen2.5-coder-1.5b (Q4_K/Q6_K, AVX2, 2 threads)
// took 70 ms for a pass of 1 decode row and 123 ms for 2 with the packed tiles.
#define YV_FEW_ROWS 4
#define YGEMVM_AS(FN, NAME, WB, XB)                                                                       \
    FL_INLINE void FN##_n(const int ni, int64_t nb, const uint8_t *W, size_t ws, int64_t r0, int64_t r1, \
                          const uint8_t *X, size_t xs, float *y, int64_t ldy) {                          \
        for (int64_t r = r0; r < r1; r++) {                                                              \
            const WB *w = (const WB *)(W + (size_t)r * ws);                                              \
            fl_acc acc[YV_FEW_ROWS];                                                                     \
            FL_UNROLL for (int i = 0; i < ni; i++) acc[i] = acc_zero();                                  \
            for (int64_t b = 0; b < nb; b++) {                                                           \
                for (size_t o = 0; o < sizeof(WB); o += 64)                                              \
                    _mm_prefetch((const char *)&w[b] + FL_GEMV_PF + o, _MM_HINT_T0);                     \
                NAME##_w pw;                                                                             \
                NAME##_prep(&pw, &w[b]);                                                                 \
                FL_UNROLL for (int i = 0; i < ni; i++) NAME##_step(&acc[i], &pw, (const XB *)(X + (size_t)i * xs) + b); \
            }                                                                                            \
            FL_UNROLL for (int i = 0; i < ni; i++) y[i * ldy + r] = acc_finish(acc[i]);                  \
        }                                                                                                \
    }                                                                                                    \
    static void FN(int64_t nb, const uint8_t *W, size_t ws, int64_t r0, int64_t r1, const uint8_t *X,   \
                   size_t xs, int64_t m, float *y, int64_t ldy) {                                        \
        switch (m) {                                                                                     \
        case 2: FN##_n(2, nb, W, ws, r0, r1, X, xs, y, ldy); break;                                      \
        case 3: FN##_n(3, nb, W, ws, r0, r1, X, xs, y, ldy); break;                                      \
        default: FN##_n(4, nb, W, ws, r0, r1, X, xs, y, ldy); break;                                     \
        }                                                                                                \
    }

// NAME##_ygemv for the 32-element types (OFF: the unsigned form's offset, 0 for none).
#define YGEMV32(NAME, WB, XB, KIND, OFF)                                                                  \
    YGEMV_AS(NAME##_ygemv_steps, NAME, WB, XB)                                                           \
    static void NAME##_ygemv(int64_t nb, const uint8_t *W, size_t ws, int64_t r0, int64_t r1,           \
                             const uint8_t *X, float *y) {                                               \
        const XB *xb = (const XB *)X;                                                                    \
        float *dx = (OFF) && yv_has_min_byte(nb, (const block_q8_0 *)X) ? NULL                           \
            : (float *)fl_scratch(0, (sizeof(float) * 2 + sizeof(__m256i)) * (size_t)nb + 32);         \
        if (!dx) { NAME##_ygemv_steps(nb, W, ws, r0, r1, X, y); return; }                                \
        float *sx = dx + nb;                                                                             \
        __m256i *c = (__m256i *)(((uintptr_t)(sx + nb) + 31) & ~(uintptr_t)31);                         \
        for (int64_t b = 0; b < nb; b++) {                                                               \
            dx[b] = h2f(xb[b].d);                                                                        \
            sx[b] = KIND == YV_Q4_1 ? h2f(((const block_q8_1 *)X)[b].s) : 0.f;                          \
            if (OFF) c[b] = yv_lane_sums(xb[b].qs, (OFF));                                               \
        }                                                                                                \
        yv_gemv(KIND, sizeof(WB), nb, W, ws, r0, r1, X, sizeof(XB), dx, sx, c, y);                       \
    }

YGEMV32(q4_1, block_q4_1, block_q8_1, YV_Q4_1, 0)
YGEMV32(q4_0, block_q4_0, block_q8_0, YV_Q4_0, 8)
YGEMV32(q5_0, block_q5_0, block_q8_0, YV_Q5_0, 16)
YGEMV32(q8_0, block_q8_0, block_q8_0, YV_Q8_0, 0)
YGEMV(q4_K, block_q4_K, block_q8_K)
YGEMV(q4_K_gemm4, block_q4_K, block_q8_K)
YGEMV(q6_K, block_q6_K, block_q8_K)
YGEMV(q6_K_tiled, block_q6_K, block_q8_K)
#if !FL_AVX512
YGEMVM_AS(q4_K_ygemvm, q4_K, block_q4_K, block_q8_K)
YGEMVM_AS(q6_K_ygemvm, q6_K, block_q6_K, block_q8_K)
#endif

// NAME##_mv1: one activation row (k a multiple of the block size QK) on NAME##_ygemv, other
// shapes on OTHER: the table entry of paths whose own kernels serve several rows.
#define YMV1(NAME, QK, OTHER)                                                                             \
    static void NAME##_mv1(int64_t k, const void *w, size_t ws, int64_t r0, int64_t r1, const void *x,  \
                           size_t xs, int64_t m, float *y, int64_t ldy) {                                \
        if (m == 1 && k % (QK) == 0 && k > 0)                                                            \
            NAME##_ygemv(k / (QK), (const uint8_t *)w, ws, r0, r1, (const uint8_t *)x, y);               \
        else                                                                                             \
            OTHER(k, w, ws, r0, r1, x, xs, m, y, ldy);                                                   \
    }

#endif
