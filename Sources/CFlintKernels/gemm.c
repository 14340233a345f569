// Public vec_dot / gemm entry points: route to the selected ISA's kernels (dispatch.c).
// The tiling itself lives in gemm_tiles.h (SIMD paths); the scalar gemm loops vec_dot.
#include "isa.h"

void flint_vec_dot(int type, int64_t n, float *out, const void *w_row, const void *x_row) {
    if (type < 0 || type >= FL_NTYPES || !fl_current_table()->k[type].vec_dot) { *out = 0.f; return; }
    fl_current_table()->k[type].vec_dot(n, out, w_row, x_row);
}

void flint_gemm(int type, int64_t k, const void *w, size_t w_stride, int64_t r0, int64_t r1,
                const void *x, size_t x_stride, int64_t m, float *y, int64_t ldy) {
    if (type < 0 || type >= FL_NTYPES || !fl_current_table()->k[type].gemm || r1 <= r0 || m <= 0) return;
    fl_current_table()->k[type].gemm(k, w, w_stride, r0, r1, x, x_stride, m, y, ldy);
}

int flint_gemm_form_for(int type, unsigned row_flags) {
    if (type == FLINT_TYPE_Q4_K && (row_flags & FLINT_ROW_IN_GROUP4)) return FLINT_GEMM_GROUP4;
    if (type == FLINT_TYPE_Q6_K && (row_flags & FLINT_ROW_IN_8_PLUS)) return FLINT_GEMM_TILED;
    return FLINT_GEMM_ROW;
}

void flint_gemm_form(int type, int form, int64_t k, const void *w, size_t w_stride, int64_t r0, int64_t r1,
                     const void *x, size_t x_stride, int64_t m, float *y, int64_t ldy) {
    int slot = -1;
    if (form == FLINT_GEMM_GROUP4 && type == FLINT_TYPE_Q4_K) slot = FL_SLOT_Q4_K_GEMM4;
    if (form == FLINT_GEMM_TILED && type == FLINT_TYPE_Q6_K) slot = FL_SLOT_Q6_K_TILED;
    if (slot < 0) {
        flint_gemm(type, k, w, w_stride, r0, r1, x, x_stride, m, y, ldy);
        return;
    }
    if (r1 <= r0 || m <= 0) return;
    fl_current_table()->k[slot].gemm(k, w, w_stride, r0, r1, x, x_stride, m, y, ldy);
}
