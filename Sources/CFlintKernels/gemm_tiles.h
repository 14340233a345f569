// Tiled gemm / vec_dot generator used by the per-ISA kernel files (simd_impl.h).
//
// For a type NAME the including file provides:
//   NAME##_w                      unpacked ("prepped") weight block
//   NAME##_prep(&w, wblock)       unpack one weight block (done once per weight block and tile)
//   NAME##_step(&acc, &w, xblock) accumulate one block product into a pair's accumulator
//   NAME##_elem(p, e)             element e of a row as float (float types' ragged tail; the
//                                 block types' are below)
//   fl_acc, acc_zero(), acc_finish(), fmadd1()
// and GEN emits NAME##_vec_dot and NAME##_gemm.
//
// Loop structure of NAME##_gemm: weight rows in groups of 4 (then single rows), activation rows
// in groups of TM (then the remainder), blocks innermost-but-one: each prepped weight block is
// reused for all TM activation rows of the tile while it is in registers / L1.
//
// Batch invariance: a (weight row, activation row) pair always starts from acc_zero(), sees
// the same prep/step sequence over blocks 0..nb-1, then the same tail and acc_finish(), no
// matter the tile it lands in, so its result is bit-identical for any m, r0, r1; vec_dot is
// the 1x1 tile.
#ifndef FLINT_GEMM_TILES_H
#define FLINT_GEMM_TILES_H
#include <stdlib.h>

// Weight software prefetch, for the AVX-512 loops that read 4 weight rows side by side from
// memory (small batches, the unpacking of a 4-row group for large ones): how far ahead of the
// 4-row group being read, in bytes of weight rows (whole 4-row groups, at least one). On a
// 2-core Zen 5, prefetching one group ahead left batch 8 on smollm2 at 593 tok/s against
// 1250 with ~10 KB. (One activation row reads rows one by one instead: gemv_ymm.h.)
#ifndef FL_PF_BYTES
#define FL_PF_BYTES 10240
#endif
FL_INLINE size_t fl_pf_ahead(size_t ws) {
    const size_t rows = (FL_PF_BYTES + ws - 1) / ws;
    return (rows < 4 ? 4 : (rows + 3) / 4 * 4) * ws;
}

// GEN(NAME, weight block, activation block, elements per block, has scalar tail, tile width TM)
// Tiles are 4 weight rows x TM activation rows (TM chosen per ISA to fit the register file);
// the tile shape never changes the per-pair arithmetic.
#define GEN(NAME, WB, XB, QK, TAIL, TM)                                                                  \
    FL_INLINE void NAME##_tile(const int nr, const int nm, int64_t n, const uint8_t *w, size_t ws,   \
                               const uint8_t *x, size_t xs, float *y, int64_t ldy) {                \
        fl_acc acc[4][4];                                                                            \
        const int64_t nb = n / (QK);                                                                 \
        FL_UNROLL for (int r = 0; r < nr; r++)                                                                 \
            FL_UNROLL for (int i = 0; i < nm; i++) acc[r][i] = acc_zero();                                     \
        for (int64_t b = 0; b < nb; b++) {                                                           \
            FL_UNROLL for (int r = 0; r < nr; r++) {                                                           \
                NAME##_w pw;                                                                         \
                NAME##_prep(&pw, (const WB *)(w + (size_t)r * ws) + b);                              \
                FL_UNROLL for (int i = 0; i < nm; i++) NAME##_step(&acc[r][i], &pw, (const XB *)(x + (size_t)i * xs) + b); \
            }                                                                                        \
        }                                                                                            \
        if (TAIL)                                                                                    \
            for (int64_t e = nb * (QK); e < n; e++)                                                  \
                FL_UNROLL for (int r = 0; r < nr; r++)                                                         \
                    FL_UNROLL for (int i = 0; i < nm; i++)                                                     \
                        acc[r][i].s = fmadd1(FL_TAIL_ELEM(NAME, w + (size_t)r * ws, e),              \
                                             FL_TAIL_ELEM(NAME, x + (size_t)i * xs, e), acc[r][i].s); \
        FL_UNROLL for (int r = 0; r < nr; r++)                                                                 \
            FL_UNROLL for (int i = 0; i < nm; i++) y[i * ldy + r] = acc_finish(acc[r][i]);                     \
    }                                                                                                \
    static void NAME##_vec_dot(int64_t n, float *s, const void *w, const void *x) {                  \
        NAME##_tile(1, 1, n, (const uint8_t *)w, 0, (const uint8_t *)x, 0, s, 0);                   \
    }                                                                                                \
    FL_INLINE void NAME##_rows(const int nr, int64_t k, const uint8_t *w, size_t ws, const uint8_t *x, \
                               size_t xs, int64_t m, float *y, int64_t ldy) {                        \
        int64_t i = 0;                                                                               \
        for (; i + (TM) <= m; i += (TM)) NAME##_tile(nr, (TM), k, w, ws, x + i * xs, xs, y + i * ldy, ldy); \
        switch (m - i) {                                                                             \
        case 1: NAME##_tile(nr, 1, k, w, ws, x + i * xs, xs, y + i * ldy, ldy); break;               \
        case 2: NAME##_tile(nr, 2, k, w, ws, x + i * xs, xs, y + i * ldy, ldy); break;               \
        case 3: NAME##_tile(nr, 3, k, w, ws, x + i * xs, xs, y + i * ldy, ldy); break;               \
        default: break;                                                                              \
        }                                                                                            \
    }                                                                                                \
    /* Same tile with the 4 rows' prepped blocks read from pw[b * 4 + r] (quantized types only). */ \
    FL_INLINE void NAME##_tileb(const int nm, int64_t nb, const NAME##_w *pw, const uint8_t *x,      \
                                size_t xs, float *y, int64_t ldy) {                                  \
        fl_acc acc[4][4];                                                                            \
        FL_UNROLL for (int r = 0; r < 4; r++)                                                                  \
            FL_UNROLL for (int i = 0; i < nm; i++) acc[r][i] = acc_zero();                                     \
        for (int64_t b = 0; b < nb; b++)                                                             \
            FL_UNROLL for (int r = 0; r < 4; r++)                                                              \
                FL_UNROLL for (int i = 0; i < nm; i++) NAME##_step(&acc[r][i], &pw[b * 4 + r], (const XB *)(x + (size_t)i * xs) + b); \
        FL_UNROLL for (int r = 0; r < 4; r++)                                                                  \
            FL_UNROLL for (int i = 0; i < nm; i++) y[i * ldy + r] = acc_finish(acc[r][i]);                     \
    }                                                                                                \
    static void NAME##_gemm(int64_t k, const void *w, size_t ws, int64_t r0, int64_t r1,             \
                            const void *x, size_t xs, int64_t m, float *y, int64_t ldy) {            \
        const uint8_t *W = (const uint8_t *)w, *X = (const uint8_t *)x;                              \
        int64_t r = r0;                                                                              \
        /* m > TM, quantized: prep each 4-row group once, then stream all activation tiles over it */ \
        const int64_t nb = k / (QK);                                                                 \
        NAME##_w *pw = (!(TAIL) && m > (TM) && r + 4 <= r1 && nb > 0)                                \
            ? (NAME##_w *)fl_scratch(0, sizeof(NAME##_w) * 4 * (size_t)nb) : NULL;                          \
        if (pw) {                                                                                    \
            for (; r + 4 <= r1; r += 4) {                                                            \
                for (int64_t b = 0; b < nb; b++)                                                     \
                    FL_UNROLL for (int q = 0; q < 4; q++) NAME##_prep(&pw[b * 4 + q], (const WB *)(W + (size_t)(r + q) * ws) + b); \
                int64_t i = 0;                                                                       \
                for (; i + (TM) <= m; i += (TM)) NAME##_tileb((TM), nb, pw, X + i * xs, xs, y + i * ldy + r, ldy); \
                switch (m - i) {                                                                     \
                case 1: NAME##_tileb(1, nb, pw, X + i * xs, xs, y + i * ldy + r, ldy); break;        \
                case 2: NAME##_tileb(2, nb, pw, X + i * xs, xs, y + i * ldy + r, ldy); break;        \
                case 3: NAME##_tileb(3, nb, pw, X + i * xs, xs, y + i * ldy + r, ldy); break;        \
                default: break;                                                                      \
                }                                                                                    \
            }                                                                                        \
        }                                                                                            \
        for (; r + 4 <= r1; r += 4) NAME##_rows(4, k, W + (size_t)r * ws, ws, X, xs, m, y + r, ldy); \
        for (; r < r1; r++) NAME##_rows(1, k, W + (size_t)r * ws, ws, X, xs, m, y + r, ldy);         \
    }

// The block types have no ragged tail (k is a whole number of blocks).
#define FL_TAIL_ELEM(NAME, p, e) NAME##_elem((p), (e))
FL_INLINE float q_elem_none(const void *p, int64_t i) { (void)p; (void)i; return 0.f; }
#define q4_0_elem q_elem_none
#define q4_1_elem q_elem_none
#define q5_0_elem q_elem_none
#define q5_1_elem q_elem_none
#define q8_0_elem q_elem_none
#define q4_K_elem q_elem_none
#define q4_K_gemm4_elem q_elem_none
#define q5_K_elem q_elem_none
#define q6_K_elem q_elem_none
#define q6_K_tiled_elem q_elem_none

// A path's table entries for every GEN-erated type (the path then replaces the gemms it has
// better kernels for).
#define FL_SET_GEN(t, T, NAME) ((t)->k[T] = (fl_kernel){NAME##_vec_dot, NAME##_gemm})
#define FL_SET_GEN_KERNELS(t)                                                 \
    do {                                                                    \
        FL_SET_GEN(t, FLINT_TYPE_F32, f32);                                   \
        FL_SET_GEN(t, FLINT_TYPE_F16, f16);                                   \
        FL_SET_GEN(t, FLINT_TYPE_BF16, bf16);                                 \
        FL_SET_GEN(t, FLINT_TYPE_Q4_0, q4_0);                                 \
        FL_SET_GEN(t, FLINT_TYPE_Q4_1, q4_1);                                 \
        FL_SET_GEN(t, FLINT_TYPE_Q5_0, q5_0);                                 \
        FL_SET_GEN(t, FLINT_TYPE_Q5_1, q5_1);                                 \
        FL_SET_GEN(t, FLINT_TYPE_Q8_0, q8_0);                                 \
        FL_SET_GEN(t, FLINT_TYPE_Q4_K, q4_K);                                 \
        FL_SET_GEN(t, FL_SLOT_Q4_K_GEMM4, q4_K_gemm4);                        \
        FL_SET_GEN(t, FLINT_TYPE_Q5_K, q5_K);                                 \
        FL_SET_GEN(t, FLINT_TYPE_Q6_K, q6_K);                                 \
        FL_SET_GEN(t, FL_SLOT_Q6_K_TILED, q6_K_tiled);                        \
    } while (0)

#endif
