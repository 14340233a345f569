// Reference dequantizers: one row of n elements (n a multiple of the block size).
#include "blocks.h"

// Each product and sum is rounded on its own on every architecture (AArch64 compilers would
// otherwise fuse a * b + c, and ARM's results would differ from x86's).
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")  // GCC does not implement the STDC pragma
#endif

static void deq_q4_0(const block_q4_0 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = FL_H2F(x[i].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            y[i * QK4_0 + j] = (float)((x[i].qs[j] & 0x0F) - 8) * d;
            y[i * QK4_0 + j + QK4_0 / 2] = (float)((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void deq_q4_1(const block_q4_1 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = FL_H2F(x[i].d), m = FL_H2F(x[i].m);
        for (int j = 0; j < QK4_1 / 2; j++) {
            y[i * QK4_1 + j] = (float)(x[i].qs[j] & 0x0F) * d + m;
            y[i * QK4_1 + j + QK4_1 / 2] = (float)(x[i].qs[j] >> 4) * d + m;
        }
    }
}

static void deq_q5_0(const block_q5_0 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = FL_H2F(x[i].d);
        uint32_t qh; memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < QK5_0 / 2; j++) {
            const int h0 = ((qh >> j) << 4) & 0x10;
            const int h1 = (qh >> (j + 12)) & 0x10;
            y[i * QK5_0 + j] = (float)(((x[i].qs[j] & 0x0F) | h0) - 16) * d;
            y[i * QK5_0 + j + QK5_0 / 2] = (float)(((x[i].qs[j] >> 4) | h1) - 16) * d;
        }
    }
}

static void deq_q5_1(const block_q5_1 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = FL_H2F(x[i].d), m = FL_H2F(x[i].m);
        uint32_t qh; memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < QK5_1 / 2; j++) {
            const int h0 = ((qh >> j) << 4) & 0x10;
            const int h1 = (qh >> (j + 12)) & 0x10;
            y[i * QK5_1 + j] = (float)((x[i].qs[j] & 0x0F) | h0) * d + m;
            y[i * QK5_1 + j + QK5_1 / 2] = (float)((x[i].qs[j] >> 4) | h1) * d + m;
        }
    }
}

static void deq_q8_0(const block_q8_0 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = FL_H2F(x[i].d);
        for (int j = 0; j < QK8_0; j++) y[i * QK8_0 + j] = (float)x[i].qs[j] * d;
    }
}

static void deq_q8_1(const block_q8_1 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = FL_H2F(x[i].d);
        for (int j = 0; j < QK8_1; j++) y[i * QK8_1 + j] = (float)x[i].qs[j] * d;
    }
}

static void deq_q4_K(const block_q4_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = FL_H2F(x[i].d), dmin = FL_H2F(x[i].dmin);
        const uint8_t *q = x[i].qs;
        int is = 0;
        for (int j = 0; j < QK_K; j += 64) {
            uint8_t sc, m;
            fl_get_scale_min_k4(is + 0, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            fl_get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)(q[l] >> 4) - m2;
            q += 32;
            is += 2;
        }
    }
}

static void deq_q5_K(const block_q5_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = FL_H2F(x[i].d), dmin = FL_H2F(x[i].dmin);
        const uint8_t *ql = x[i].qs, *qh = x[i].qh;
        int is = 0;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0; j < QK_K; j += 64) {
            uint8_t sc, m;
            fl_get_scale_min_k4(is + 0, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            fl_get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
            ql += 32;
            is += 2;
            u1 <<= 2;
            u2 <<= 2;
        }
    }
}

static void deq_q6_K(const block_q6_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = FL_H2F(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int n = 0; n < QK_K; n += 128) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                int q[4];
                fl_q6_K_quad(ql, qh, l, q);
                y[l + 0] = d * sc[is + 0] * q[0];
                y[l + 32] = d * sc[is + 2] * q[1];
                y[l + 64] = d * sc[is + 4] * q[2];
                y[l + 96] = d * sc[is + 6] * q[3];
            }
            y += 128;
            ql += 64;
            qh += 32;
            sc += 8;
        }
    }
}

static void deq_q8_K(const block_q8_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++)
        for (int j = 0; j < QK_K; j++) y[i * QK_K + j] = x[i].d * (float)x[i].qs[j];
}

void flint_dequantize_row(int type, const void *src, float *dst, int64_t n) {
    const int64_t be = flint_type_block_elems(type);
    if (be == 0 || n <= 0) return;
    const int64_t nb = n / be;
    switch (type) {
    case FLINT_TYPE_F32: memcpy(dst, src, (size_t)n * 4); break;
    case FLINT_TYPE_F16: { const uint16_t *s = src; for (int64_t i = 0; i < n; i++) dst[i] = fl_h2f(s[i]); } break;
    case FLINT_TYPE_BF16: { const uint16_t *s = src; for (int64_t i = 0; i < n; i++) dst[i] = fl_bf2f(s[i]); } break;
    case FLINT_TYPE_Q4_0: deq_q4_0(src, dst, nb); break;
    case FLINT_TYPE_Q4_1: deq_q4_1(src, dst, nb); break;
    case FLINT_TYPE_Q5_0: deq_q5_0(src, dst, nb); break;
    case FLINT_TYPE_Q5_1: deq_q5_1(src, dst, nb); break;
    case FLINT_TYPE_Q8_0: deq_q8_0(src, dst, nb); break;
    case FLINT_TYPE_Q8_1: deq_q8_1(src, dst, nb); break;
    case FLINT_TYPE_Q4_K: deq_q4_K(src, dst, nb); break;
    case FLINT_TYPE_Q5_K: deq_q5_K(src, dst, nb); break;
    case FLINT_TYPE_Q6_K: deq_q6_K(src, dst, nb); break;
    case FLINT_TYPE_Q8_K: deq_q8_K(src, dst, nb); break;
    default: break;
    }
}
