// Scalar reference dot products (GGML's arithmetic) and the scalar kernel table.
#include <math.h>
#include "isa.h"

static void dot_f32(int64_t n, float *s, const void *vw, const void *vx) {
    const float *w = vw, *x = vx;
    float sum = 0.f;
    for (int64_t i = 0; i < n; i++) sum += w[i] * x[i];
    *s = sum;
}

static void dot_f16(int64_t n, float *s, const void *vw, const void *vx) {
    const uint16_t *w = vw, *x = vx;
    float sum = 0.f;
    for (int64_t i = 0; i < n; i++) sum += fl_h2f(w[i]) * fl_h2f(x[i]);
    *s = sum;
}

static void dot_bf16(int64_t n, float *s, const void *vw, const void *vx) {
    const uint16_t *w = vw, *x = vx;
    float sum = 0.f;
    for (int64_t i = 0; i < n; i++) sum += fl_bf2f(w[i]) * fl_bf2f(x[i]);
    *s = sum;
}

static void dot_q4_0(int64_t n, float *s, const void *vw, const void *vx) {
    const block_q4_0 *w = vw;
    const block_q8_0 *x = vx;
    const int64_t nb = n / QK4_0;
    float sumf = 0.f;
    for (int64_t i = 0; i < nb; i++) {
        int sumi = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            sumi += ((w[i].qs[j] & 0x0F) - 8) * x[i].qs[j];
            sumi += ((w[i].qs[j] >> 4) - 8) * x[i].qs[j + QK4_0 / 2];
        }
        sumf += (float)sumi * (FL_H2F(w[i].d) * FL_H2F(x[i].d));
    }
    *s = sumf;
}

static void dot_q4_1(int64_t n, float *s, const void *vw, const void *vx) {
    const block_q4_1 *w = vw;
    const block_q8_1 *x = vx;
    const int64_t nb = n / QK4_1;
    float sumf = 0.f;
    for (int64_t i = 0; i < nb; i++) {
        int sumi = 0;
        for (int j = 0; j < QK4_1 / 2; j++) {
            sumi += (w[i].qs[j] & 0x0F) * x[i].qs[j];
            sumi += (w[i].qs[j] >> 4) * x[i].qs[j + QK4_1 / 2];
        }
        sumf += (FL_H2F(w[i].d) * FL_H2F(x[i].d)) * (float)sumi + FL_H2F(w[i].m) * FL_H2F(x[i].s);
    }
    *s = sumf;
}

static void dot_q5_0(int64_t n, float *s, const void *vw, const void *vx) {
    const block_q5_0 *w = vw;
    const block_q8_0 *x = vx;
    const int64_t nb = n / QK5_0;
    float sumf = 0.f;
    for (int64_t i = 0; i < nb; i++) {
        uint32_t qh; memcpy(&qh, w[i].qh, 4);
        int sumi = 0;
        for (int j = 0; j < QK5_0 / 2; j++) {
            const int h0 = ((qh >> j) << 4) & 0x10;
            const int h1 = (qh >> (j + 12)) & 0x10;
            sumi += (((w[i].qs[j] & 0x0F) | h0) - 16) * x[i].qs[j];
            sumi += (((w[i].qs[j] >> 4) | h1) - 16) * x[i].qs[j + QK5_0 / 2];
        }
        sumf += (float)sumi * (FL_H2F(w[i].d) * FL_H2F(x[i].d));
    }
    *s = sumf;
}

static void dot_q5_1(int64_t n, float *s, const void *vw, const void *vx) {
    const block_q5_1 *w = vw;
    const block_q8_1 *x = vx;
    const int64_t nb = n / QK5_1;
    float sumf = 0.f;
    for (int64_t i = 0; i < nb; i++) {
        uint32_t qh; memcpy(&qh, w[i].qh, 4);
        int sumi = 0;
        for (int j = 0; j < QK5_1 / 2; j++) {
            const int h0 = ((qh >> j) << 4) & 0x10;
            const int h1 = (qh >> (j + 12)) & 0x10;
            sumi += ((w[i].qs[j] & 0x0F) | h0) * x[i].qs[j];
            sumi += ((w[i].qs[j] >> 4) | h1) * x[i].qs[j + QK5_1 / 2];
        }
        sumf += (FL_H2F(w[i].d) * FL_H2F(x[i].d)) * (float)sumi + FL_H2F(w[i].m) * FL_H2F(x[i].s);
    }
    *s = sumf;
}

static void dot_q8_0(int64_t n, float *s, const void *vw, const void *vx) {
    const block_q8_0 *w = vw, *x = vx;
    const int64_t nb = n / QK8_0;
    float sumf = 0.f;
    for (int64_t i = 0; i < nb; i++) {
        int sumi = 0;
        for (int j = 0; j < QK8_0; j++) sumi += w[i].qs[j] * x[i].qs[j];
        sumf += (float)sumi * (FL_H2F(w[i].d) * FL_H2F(x[i].d));
    }
    *s = sumf;
}

static void dot_q8_1(int64_t n, float *s, const void *vw, const void *vx) {
    const block_q8_1 *w = vw, *x = vx;
    const int64_t nb = n / QK8_1;
    float sumf = 0.f;
    for (int64_t i = 0; i < nb; i++) {
        int sumi = 0;
        for (int j = 0; j < QK8_1; j++) sumi += w[i].qs[j] * x[i].qs[j];
        sumf += (float)sumi * (FL_H2F(w[i].d) * FL_H2F(x[i].d));
    }
    *s = sumf;
}

static void dot_q8_K(int64_t n, float *s, const void *vw, const void *vx) {
    const block_q8_K *w = vw, *x = vx;
    const int64_t nb = n / QK_K;
    float sumf = 0.f;
    for (int64_t i = 0; i < nb; i++) {
        int sumi = 0;
        for (int j = 0; j < QK_K; j++) sumi += w[i].qs[j] * x[i].qs[j];
        sumf += (float)sumi * (w[i].d * x[i].d);
    }
    *s = sumf;
}

// Sub-block pair j (elements 64j..64j+63) of a Q4_K block against its Q8_K block: the
// integer sum with the 6-bit scales applied, and the min term.
static void q4_K_pair_sums(const block_q4_K *w, const block_q8_K *x, int j, int *sumq, int *summ) {
    const uint8_t *q = w->qs + 32 * j;
    const int8_t *y = x->qs + 64 * j;
    uint8_t sc1, m1, sc2, m2;
    fl_get_scale_min_k4(2 * j, w->scales, &sc1, &m1);
    fl_get_scale_min_k4(2 * j + 1, w->scales, &sc2, &m2);
    int a = 0, b = 0;
    for (int l = 0; l < 32; l++) {
        a += (q[l] & 0xF) * y[l];
        b += (q[l] >> 4) * y[l + 32];
    }
    *sumq = sc1 * a + sc2 * b;
    *summ = m1 * (x->bsums[4 * j] + x->bsums[4 * j + 1]) + m2 * (x->bsums[4 * j + 2] + x->bsums[4 * j + 3]);
}

static void dot_q4_K(int64_t n, float *s, const void *vw, const void *vx) {
    const block_q4_K *w = vw;
    const block_q8_K *x = vx;
    const int64_t nb = n / QK_K;
    float acc = 0.f, acc_min = 0.f;  // llama.cpp's repacked Q4_K kernels: see q4_K_step
    for (int64_t i = 0; i < nb; i++) {
        int sumq = 0, summ = 0;
        for (int j = 0; j < 4; j++) {
            int pq, pm;
            q4_K_pair_sums(&w[i], &x[i], j, &pq, &pm);
            sumq += pq;
            summ += pm;
        }
        acc = fmaf((float)sumq, FL_H2F(w[i].d) * x[i].d, acc);
        acc_min = fmaf((float)summ, FL_H2F(w[i].dmin) * x[i].d, acc_min);
    }
    *s = acc - acc_min;
}

// dot_q4_K as llama.cpp's 4-row Q4_K GEMM computes it: the two accumulators are updated
// after every pair of sub-blocks (64 elements) instead of once per block.
static void dot_q4_K_gemm4(int64_t n, float *s, const void *vw, const void *vx) {
    const block_q4_K *w = vw;
    const block_q8_K *x = vx;
    const int64_t nb = n / QK_K;
    float acc = 0.f, acc_min = 0.f;
    for (int64_t i = 0; i < nb; i++) {
        const float d = FL_H2F(w[i].d) * x[i].d, dmin = FL_H2F(w[i].dmin) * x[i].d;
        for (int j = 0; j < 4; j++) {
            int sumq, summ;
            q4_K_pair_sums(&w[i], &x[i], j, &sumq, &summ);
            acc = fmaf((float)sumq, d, acc);
            acc_min = fmaf((float)summ, dmin, acc_min);
        }
    }
    *s = acc - acc_min;
}

static void dot_q5_K(int64_t n, float *s, const void *vw, const void *vx) {
    const block_q5_K *w = vw;
    const block_q8_K *x = vx;
    const int64_t nb = n / QK_K;
    float sumf = 0.f;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *q = w[i].qs, *qh = w[i].qh;
        const int8_t *y = x[i].qs;
        int sumq = 0, summ = 0;
        for (int j = 0; j < 4; j++) {
            uint8_t sc1, m1, sc2, m2;
            fl_get_scale_min_k4(2 * j, w[i].scales, &sc1, &m1);
            fl_get_scale_min_k4(2 * j + 1, w[i].scales, &sc2, &m2);
            int a = 0, b = 0;
            for (int l = 0; l < 32; l++) {
                a += ((q[l] & 0xF) | (((qh[l] >> (2 * j)) & 1) << 4)) * y[l];
                b += ((q[l] >> 4) | (((qh[l] >> (2 * j + 1)) & 1) << 4)) * y[l + 32];
            }
            sumq += sc1 * a + sc2 * b;
            summ += m1 * (x[i].bsums[4 * j] + x[i].bsums[4 * j + 1]) + m2 * (x[i].bsums[4 * j + 2] + x[i].bsums[4 * j + 3]);
            q += 32;
            y += 64;
        }
        const float d = FL_H2F(w[i].d) * x[i].d, dmin = FL_H2F(w[i].dmin) * x[i].d;
        sumf += d * (float)sumq - dmin * (float)summ;
    }
    *s = sumf;
}

// The integer sum of one Q6_K block against a Q8_K block, sub-block scales applied.
static int q6_K_block_sum(const block_q6_K *w, const block_q8_K *x) {
    const uint8_t *ql = w->ql, *qh = w->qh;
    const int8_t *sc = w->scales, *y = x->qs;
    int sumi = 0;
    for (int h = 0; h < 2; h++) {
        int acc[8] = {0};
        for (int l = 0; l < 32; l++) {
            const int is = l / 16;
            int q[4];
            fl_q6_K_quad(ql, qh, l, q);
            acc[is + 0] += q[0] * y[l];
            acc[is + 2] += q[1] * y[l + 32];
            acc[is + 4] += q[2] * y[l + 64];
            acc[is + 6] += q[3] * y[l + 96];
        }
        for (int j = 0; j < 8; j++) sumi += sc[j] * acc[j];
        ql += 64;
        qh += 32;
        sc += 8;
        y += 128;
    }
    return sumi;
}

static void dot_q6_K(int64_t n, float *s, const void *vw, const void *vx) {
    const block_q6_K *w = vw;
    const block_q8_K *x = vx;
    const int64_t nb = n / QK_K;
    float sumf = 0.f;
    for (int64_t i = 0; i < nb; i++) {
        const int sumi = q6_K_block_sum(&w[i], &x[i]);
        sumf += (FL_H2F(w[i].d) * x[i].d) * (float)sumi;
    }
    *s = sumf;
}

// dot_q6_K as llama.cpp's tiled K-quant GEMM computes it (batches of 8 rows or more): each
// block's integer sum times the weight scale, then times the activation scale, added up.
static void dot_q6_K_tiled(int64_t n, float *s, const void *vw, const void *vx) {
    const block_q6_K *w = vw;
    const block_q8_K *x = vx;
    const int64_t nb = n / QK_K;
    float sumf = 0.f;
    for (int64_t i = 0; i < nb; i++) {
        const int sumi = q6_K_block_sum(&w[i], &x[i]);
        sumf = fmaf((float)sumi * FL_H2F(w[i].d), x[i].d, sumf);
    }
    *s = sumf;
}

// The scalar gemm is a plain loop over vec_dot: trivially batch invariant.
#define SCALAR_GEMM(NAME)                                                                        \
    static void gemm_##NAME(int64_t k, const void *w, size_t ws, int64_t r0, int64_t r1,          \
                            const void *x, size_t xs, int64_t m, float *y, int64_t ldy) {        \
        for (int64_t r = r0; r < r1; r++)                                                        \
            for (int64_t i = 0; i < m; i++)                                                      \
                dot_##NAME(k, &y[i * ldy + r], (const uint8_t *)w + (size_t)r * ws,               \
                           (const uint8_t *)x + (size_t)i * xs);                                  \
    }

SCALAR_GEMM(f32)
SCALAR_GEMM(f16)
SCALAR_GEMM(bf16)
SCALAR_GEMM(q4_0)
SCALAR_GEMM(q4_1)
SCALAR_GEMM(q5_0)
SCALAR_GEMM(q5_1)
SCALAR_GEMM(q8_0)
SCALAR_GEMM(q8_1)
SCALAR_GEMM(q8_K)
SCALAR_GEMM(q4_K)
SCALAR_GEMM(q4_K_gemm4)
SCALAR_GEMM(q5_K)
SCALAR_GEMM(q6_K)
SCALAR_GEMM(q6_K_tiled)

void fl_fill_scalar(fl_isa_table *t) {
#define SET(T, NAME) t->k[T] = (fl_kernel){dot_##NAME, gemm_##NAME}
    SET(FLINT_TYPE_F32, f32);
    SET(FLINT_TYPE_F16, f16);
    SET(FLINT_TYPE_BF16, bf16);
    SET(FLINT_TYPE_Q4_0, q4_0);
    SET(FLINT_TYPE_Q4_1, q4_1);
    SET(FLINT_TYPE_Q5_0, q5_0);
    SET(FLINT_TYPE_Q5_1, q5_1);
    SET(FLINT_TYPE_Q8_0, q8_0);
    SET(FLINT_TYPE_Q8_1, q8_1);
    SET(FLINT_TYPE_Q8_K, q8_K);
    SET(FLINT_TYPE_Q4_K, q4_K);
    SET(FL_SLOT_Q4_K_GEMM4, q4_K_gemm4);
    SET(FLINT_TYPE_Q5_K, q5_K);
    SET(FLINT_TYPE_Q6_K, q6_K);
    SET(FL_SLOT_Q6_K_TILED, q6_K_tiled);
#undef SET
}
