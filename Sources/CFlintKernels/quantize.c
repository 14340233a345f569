// Reference quantizers for every supported type (weights and activation formats).
#include <math.h>
#include "blocks.h"
#include "quantize_simd.h"

// Each product and sum is rounded on its own on every architecture (AArch64 compilers would
// otherwise fuse a * b + c, and ARM's results would differ from x86's).
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")  // GCC does not implement the STDC pragma
#endif

static inline int nearest_int(float f) {  // round to nearest even, |f| < 2^22
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, 4);
    return (i & 0x007fffff) - 0x00400000;
}

static void q_q4_0(const float *x, block_q4_0 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK4_0) {
        float amax = 0.f, max = 0.f;
        for (int j = 0; j < QK4_0; j++)
            if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
        const float d = max / -8.f, id = d != 0.f ? 1.f / d : 0.f;
        y[i].d = FL_F2H(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            int a = (int)(int8_t)(x[j] * id + 8.5f), b = (int)(int8_t)(x[j + QK4_0 / 2] * id + 8.5f);
            a = a < 15 ? a : 15; b = b < 15 ? b : 15;
            y[i].qs[j] = (uint8_t)(a | (b << 4));
        }
    }
}

static void q_q4_1(const float *x, block_q4_1 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK4_1) {
        float mn = x[0], mx = x[0];
        for (int j = 1; j < QK4_1; j++) { mn = x[j] < mn ? x[j] : mn; mx = x[j] > mx ? x[j] : mx; }
        const float d = (mx - mn) / 15.f, id = d != 0.f ? 1.f / d : 0.f;
        y[i].d = FL_F2H(d);
        y[i].m = FL_F2H(mn);
        for (int j = 0; j < QK4_1 / 2; j++) {
            int a = (int)(int8_t)((x[j] - mn) * id + 0.5f), b = (int)(int8_t)((x[j + QK4_1 / 2] - mn) * id + 0.5f);
            a = a < 15 ? a : 15; b = b < 15 ? b : 15;
            y[i].qs[j] = (uint8_t)(a | (b << 4));
        }
    }
}

static void q_q5_0(const float *x, block_q5_0 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK5_0) {
        float amax = 0.f, max = 0.f;
        for (int j = 0; j < QK5_0; j++)
            if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
        const float d = max / -16.f, id = d != 0.f ? 1.f / d : 0.f;
        y[i].d = FL_F2H(d);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_0 / 2; j++) {
            int a = (int)(int8_t)(x[j] * id + 16.5f), b = (int)(int8_t)(x[j + QK5_0 / 2] * id + 16.5f);
            a = a < 31 ? a : 31; b = b < 31 ? b : 31;
            y[i].qs[j] = (uint8_t)((a & 0x0F) | ((b & 0x0F) << 4));
            qh |= ((uint32_t)(a & 0x10) >> 4) << j;
            qh |= ((uint32_t)(b & 0x10) >> 4) << (j + QK5_0 / 2);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

static void q_q5_1(const float *x, block_q5_1 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK5_1) {
        float mn = x[0], mx = x[0];
        for (int j = 1; j < QK5_1; j++) { mn = x[j] < mn ? x[j] : mn; mx = x[j] > mx ? x[j] : mx; }
        const float d = (mx - mn) / 31.f, id = d != 0.f ? 1.f / d : 0.f;
        y[i].d = FL_F2H(d);
        y[i].m = FL_F2H(mn);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_1 / 2; j++) {
            int a = (int)(int8_t)((x[j] - mn) * id + 0.5f), b = (int)(int8_t)((x[j + QK5_1 / 2] - mn) * id + 0.5f);
            a = a < 31 ? a : 31; b = b < 31 ? b : 31;
            y[i].qs[j] = (uint8_t)((a & 0x0F) | ((b & 0x0F) << 4));
            qh |= ((uint32_t)(a & 0x10) >> 4) << j;
            qh |= ((uint32_t)(b & 0x10) >> 4) << (j + QK5_1 / 2);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

// Activation formats round as GGML's x86 SIMD quantizers do (scale 127/amax, ties to
// even), so Flint's integer dot products see the same inputs as llama.cpp's on x86.
static void q_q8_0(const float *x, block_q8_0 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK8_0) {
        float amax = 0.f;
        for (int j = 0; j < QK8_0; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
        const float d = amax / 127.f, id = amax != 0.f ? 127.f / amax : 0.f;
        y[i].d = FL_F2H(d);
        for (int j = 0; j < QK8_0; j++) y[i].qs[j] = (int8_t)nearbyintf(x[j] * id);
    }
}

static void q_q8_1(const float *x, block_q8_1 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK8_1) {
        float amax = 0.f;
        for (int j = 0; j < QK8_1; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
        const float d = amax / 127.f, id = amax != 0.f ? 127.f / amax : 0.f;
        y[i].d = FL_F2H(d);
        int sum = 0;
        for (int j = 0; j < QK8_1; j++) {
            y[i].qs[j] = (int8_t)nearbyintf(x[j] * id);
            sum += y[i].qs[j];
        }
        y[i].s = FL_F2H((float)sum * d);
    }
}

static void q_q8_K(const float *x, block_q8_K *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        float amax = 0.f, max = 0.f;
        for (int j = 0; j < QK_K; j++)
            if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
        if (amax == 0.f) {
            memset(&y[i], 0, sizeof(y[i]));
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; j++) {
            int v = nearest_int(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            int s = 0;
            for (int l = 0; l < 16; l++) s += y[i].qs[j * 16 + l];
            y[i].bsums[j] = (int16_t)s;
        }
        y[i].d = 1.f / iscale;
    }
}

// Q4_K / Q5_K: per 32-element sub-block an affine min/max fit, scales and mins quantized
// to 6 bits against fp16 super-block factors, then the values re-fitted to those scales.
static void q_kquant_affine(const float *x, int nmax, uint8_t *L, uint8_t scales[12], fl_half *dh, fl_half *dminh) {
    float sc[8], mi[8], max_sc = 0.f, max_mi = 0.f;
    for (int j = 0; j < 8; j++) {
        float mn = 0.f, mx = x[32 * j];
        for (int l = 0; l < 32; l++) {
            const float v = x[32 * j + l];
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
        }
        sc[j] = (mx - mn) / (float)nmax;
        mi[j] = -mn;
        max_sc = sc[j] > max_sc ? sc[j] : max_sc;
        max_mi = mi[j] > max_mi ? mi[j] : max_mi;
    }
    const float d = fl_h2f(fl_f2h(max_sc / 63.f)), dmin = fl_h2f(fl_f2h(max_mi / 63.f));
    *dh = fl_f2h(max_sc / 63.f);
    *dminh = fl_f2h(max_mi / 63.f);
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; j++) {
        int a = d > 0.f ? (int)ceilf(sc[j] / d) : 0, b = dmin > 0.f ? nearest_int(mi[j] / dmin) : 0;
        ls[j] = (uint8_t)(a < 0 ? 0 : a > 63 ? 63 : a);
        lm[j] = (uint8_t)(b < 0 ? 0 : b > 63 ? 63 : b);
    }
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            scales[j] = ls[j];
            scales[j + 4] = lm[j];
        } else {
            scales[j + 4] = (uint8_t)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
            scales[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            scales[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
    for (int j = 0; j < 8; j++) {
        const float dl = d * ls[j], dm = dmin * lm[j];
        for (int l = 0; l < 32; l++) {
            int q = dl > 0.f ? nearest_int((x[32 * j + l] + dm) / dl) : 0;
            L[32 * j + l] = (uint8_t)(q < 0 ? 0 : q > nmax ? nmax : q);
        }
    }
}

static void q_q4_K(const float *x, block_q4_K *y, int64_t nb) {
    uint8_t L[QK_K];
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        memset(y[i].scales, 0, sizeof(y[i].scales));
        q_kquant_affine(x, 15, L, y[i].scales, &y[i].d, &y[i].dmin);
        uint8_t *q = y[i].qs;
        for (int j = 0; j < QK_K; j += 64) {
            for (int l = 0; l < 32; l++) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
            q += 32;
        }
    }
}

static void q_q5_K(const float *x, block_q5_K *y, int64_t nb) {
    uint8_t L[QK_K];
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        memset(y[i].scales, 0, sizeof(y[i].scales));
        q_kquant_affine(x, 31, L, y[i].scales, &y[i].d, &y[i].dmin);
        uint8_t *qh = y[i].qh, *ql = y[i].qs;
        memset(qh, 0, QK_K / 8);
        uint8_t m1 = 1, m2 = 2;
        for (int n = 0; n < QK_K; n += 64) {
            for (int j = 0; j < 32; j++) {
                int l1 = L[n + j], l2 = L[n + j + 32];
                if (l1 > 15) { l1 -= 16; qh[j] |= m1; }
                if (l2 > 15) { l2 -= 16; qh[j] |= m2; }
                ql[j] = (uint8_t)(l1 | (l2 << 4));
            }
            m1 <<= 2;
            m2 <<= 2;
            ql += 32;
        }
    }
}

static void q_q6_K(const float *x, block_q6_K *y, int64_t nb) {
    int8_t L[QK_K];
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        float sc[16], max_sc = 0.f, amax_sc = 0.f;
        for (int j = 0; j < 16; j++) {
            float amax = 0.f, max = 0.f;
            for (int l = 0; l < 16; l++) {
                const float v = x[16 * j + l];
                if (fabsf(v) > amax) { amax = fabsf(v); max = v; }
            }
            sc[j] = max / -32.f;
            if (fabsf(sc[j]) > amax_sc) { amax_sc = fabsf(sc[j]); max_sc = sc[j]; }
        }
        if (amax_sc == 0.f) {
            memset(&y[i], 0, sizeof(y[i]));
            continue;
        }
        const float iscale = -128.f / max_sc;
        y[i].d = fl_f2h(1.f / iscale);
        const float d = fl_h2f(y[i].d);
        for (int j = 0; j < 16; j++) {
            int s = nearest_int(iscale * sc[j]);
            s = s > 127 ? 127 : s < -128 ? -128 : s;
            y[i].scales[j] = (int8_t)s;
            const float dl = d * (float)s;
            for (int l = 0; l < 16; l++) {
                int q = dl != 0.f ? nearest_int(x[16 * j + l] / dl) : 0;
                q = q < -32 ? -32 : q > 31 ? 31 : q;
                L[16 * j + l] = (int8_t)(q + 32);
            }
        }
        uint8_t *ql = y[i].ql, *qh = y[i].qh;
        for (int j = 0; j < QK_K; j += 128) {
            for (int l = 0; l < 32; l++) {
                const uint8_t q1 = (uint8_t)L[j + l], q2 = (uint8_t)L[j + l + 32];
                const uint8_t q3 = (uint8_t)L[j + l + 64], q4 = (uint8_t)L[j + l + 96];
                ql[l] = (uint8_t)((q1 & 0xF) | ((q3 & 0xF) << 4));
                ql[l + 32] = (uint8_t)((q2 & 0xF) | ((q4 & 0xF) << 4));
                qh[l] = (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
            ql += 64;
            qh += 32;
        }
    }
}

void fl_fill_quantize(fl_isa_table *t, int isa) {
    switch (isa) {
    case FL_ISA_SCALAR:
        t->quantize_q8_0 = q_q8_0;
        t->quantize_q8_1 = q_q8_1;
        t->quantize_q8_K = q_q8_K;
        break;
#if defined(__x86_64__) || defined(__i386__)
    case FL_ISA_AVX2:
        t->quantize_q8_0 = fl_quantize_q8_0_avx2;
        t->quantize_q8_1 = fl_quantize_q8_1_avx2;
        t->quantize_q8_K = fl_quantize_q8_K_avx2;
        break;
#elif defined(__aarch64__)
    case FL_ISA_NEON:
        t->quantize_q8_0 = fl_quantize_q8_0_neon;
        t->quantize_q8_1 = fl_quantize_q8_1_neon;
        t->quantize_q8_K = fl_quantize_q8_K_neon;
        break;
#endif
    default: break;
    }
}

void flint_quantize_row(int type, const float *src, void *dst, int64_t n) {
    const int64_t be = flint_type_block_elems(type);
    if (be == 0 || n <= 0) return;
    const int64_t nb = n / be;
    switch (type) {
    case FLINT_TYPE_F32: memcpy(dst, src, (size_t)n * 4); break;
    case FLINT_TYPE_F16: { uint16_t *d = dst; for (int64_t i = 0; i < n; i++) d[i] = fl_f2h(src[i]); } break;
    case FLINT_TYPE_BF16: { uint16_t *d = dst; for (int64_t i = 0; i < n; i++) d[i] = fl_f2bf(src[i]); } break;
    case FLINT_TYPE_Q4_0: q_q4_0(src, dst, nb); break;
    case FLINT_TYPE_Q4_1: q_q4_1(src, dst, nb); break;
    case FLINT_TYPE_Q5_0: q_q5_0(src, dst, nb); break;
    case FLINT_TYPE_Q5_1: q_q5_1(src, dst, nb); break;
    case FLINT_TYPE_Q8_0: fl_current_table()->quantize_q8_0(src, dst, nb); break;
    case FLINT_TYPE_Q8_1: fl_current_table()->quantize_q8_1(src, dst, nb); break;
    case FLINT_TYPE_Q4_K: q_q4_K(src, dst, nb); break;
    case FLINT_TYPE_Q5_K: q_q5_K(src, dst, nb); break;
    case FLINT_TYPE_Q6_K: q_q6_K(src, dst, nb); break;
    case FLINT_TYPE_Q8_K: fl_current_table()->quantize_q8_K(src, dst, nb); break;
    default: break;
    }
}
