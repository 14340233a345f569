// NEON forms of the small operations of path "neon": SwiGLU / GeGLU rows, argmax, the LoRA
// expand and the Q8_0 / Q8_1 / Q8_K activation quantizers. Each does its scalar reference's
// operations lane by lane (activation.c, sampling.c, lora.c, quantize.c), so each gives its
// bits, as the AVX2 forms do: ggml_expf_neon is ggml_expf per lane, vfmaq is fmaf, vcvtnq and
// fcvtn round to nearest even like nearbyintf / nearest_int and fl_f2h, and maxima, integer
// sums and the first index of a maximum do not depend on the order they are found in.
#if defined(__aarch64__)
#include <arm_neon.h>
#include <math.h>
#include <string.h>
#include "isa.h"
#include "ggml_exp.h"
#include "quantize_simd.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#else
#pragma GCC optimize("fp-contract=off")  // GCC ignores the STDC pragma
#endif

static inline float h2f(fl_half h) {
    __fp16 f;
    memcpy(&f, &h, 2);
    return (float)f;
}

// ---- activations (activation.c)

// silu(g) * u = g / (1 + exp(0 - g)) * u with ggml_expf for the row's leading multiple of 16,
// libm's expf for the rest (ggml_vec_swiglu_f32).
void fl_swiglu_row_neon(const float *g, const float *u, float *o, int64_t n) {
    const int64_t nv = n & ~(int64_t)15;
    const float32x4_t one = vdupq_n_f32(1.0f), zero = vdupq_n_f32(0.0f);
    for (int64_t i = 0; i < nv; i += 4) {
        const float32x4_t x = vld1q_f32(g + i);
        const float32x4_t e = ggml_expf_neon(vsubq_f32(zero, x));
        vst1q_f32(o + i, vmulq_f32(vdivq_f32(x, vaddq_f32(one, e)), vld1q_f32(u + i)));
    }
    for (int64_t i = nv; i < n; i++) o[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

// gelu(g) * u through the F16 table: g rounded to F16 indexes it; g <= -10 gives 0 and
// g >= 10 gives g * u. The lookups stay scalar.
void fl_geglu_neon(const float *g, const float *u, float *o, int64_t n, const uint16_t *table) {
    const int64_t nv = n & ~(int64_t)3;
    for (int64_t i = 0; i < nv; i += 4) {
        const float32x4_t x = vld1q_f32(g + i);
        uint16_t idx[4], val[4];
        vst1_u16(idx, vreinterpret_u16_f16(vcvt_f16_f32(x)));
        FL_UNROLL for (int l = 0; l < 4; l++) val[l] = table[idx[l]];
        float32x4_t y = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(val)));
        y = vbslq_f32(vcgeq_f32(x, vdupq_n_f32(10.0f)), x, y);
        y = vmulq_f32(y, vld1q_f32(u + i));
        y = vbslq_f32(vcleq_f32(x, vdupq_n_f32(-10.0f)), vdupq_n_f32(0.0f), y);
        vst1q_f32(o + i, y);
    }
    for (int64_t i = nv; i < n; i++) {
        const float x = g[i];
        o[i] = x <= -10.0f ? 0.0f : x >= 10.0f ? x * u[i] : h2f(table[fl_f2h(x)]) * u[i];
    }
}

// ---- argmax (sampling.c)

// Two passes, as argmax_avx2: the maximum, then the first index holding it. Each lane keeps
// its value unless x > it, the reference's test, so NaNs never enter (even signalling ones).
int64_t fl_argmax_neon(const float *x, int64_t n) {
    const int64_t nv = n & ~(int64_t)15;
    float32x4_t m[4];
    FL_UNROLL for (int c = 0; c < 4; c++) m[c] = vdupq_n_f32(-INFINITY);
    for (int64_t i = 0; i < nv; i += 16)
        FL_UNROLL for (int c = 0; c < 4; c++) {
            const float32x4_t v = vld1q_f32(x + i + 4 * c);
            m[c] = vbslq_f32(vcgtq_f32(v, m[c]), v, m[c]);
        }
    float best = vmaxvq_f32(vmaxq_f32(vmaxq_f32(m[0], m[1]), vmaxq_f32(m[2], m[3])));
    for (int64_t i = nv; i < n; i++)
        if (x[i] > best) best = x[i];
    if (!(best > -INFINITY)) return 0;
    const float32x4_t bv = vdupq_n_f32(best);
    for (int64_t i = 0; i < nv; i += 16) {
        uint32x4_t any = vdupq_n_u32(0);
        FL_UNROLL for (int c = 0; c < 4; c++) any = vorrq_u32(any, vceqq_f32(vld1q_f32(x + i + 4 * c), bv));
        if (vmaxvq_u32(any))
            for (int64_t j = i; j < i + 16; j++)
                if (x[j] == best) return j;
    }
    for (int64_t i = nv; i < n; i++)
        if (x[i] == best) return i;
    return 0;
}

// ---- LoRA expand (lora.c): y += sum_j u[j] * Bt[j], per 32-element block the same fused
// multiply-adds in the same order (j ascending) as the scalar form.
void fl_lora_expand_q8_0_neon(const void *bt, size_t stride, int64_t rank, int64_t n, const float *u, float *y) {
    for (int64_t b = 0; b < n / QK8_0; b++) {
        float32x4_t acc[8];
        FL_UNROLL for (int c = 0; c < 8; c++) acc[c] = vdupq_n_f32(0.f);
        for (int64_t j = 0; j < rank; j++) {
            const block_q8_0 *blk = (const block_q8_0 *)((const char *)bt + j * stride) + b;
            const float32x4_t s = vdupq_n_f32(u[j] * h2f(blk->d));
            FL_UNROLL for (int h = 0; h < 2; h++) {
                const int8x16_t q = vld1q_s8(blk->qs + 16 * h);
                const int16x8_t lo = vmovl_s8(vget_low_s8(q)), hi = vmovl_high_s8(q);
                const int32x4_t w[4] = {vmovl_s16(vget_low_s16(lo)), vmovl_high_s16(lo), vmovl_s16(vget_low_s16(hi)),
                                        vmovl_high_s16(hi)};
                FL_UNROLL for (int c = 0; c < 4; c++) acc[4 * h + c] = vfmaq_f32(acc[4 * h + c], s, vcvtq_f32_s32(w[c]));
            }
        }
        float *o = y + b * QK8_0;
        FL_UNROLL for (int c = 0; c < 8; c++) vst1q_f32(o + 4 * c, vaddq_f32(vld1q_f32(o + 4 * c), acc[c]));
    }
}

// ---- activation quantizers (quantize.c)

static inline float block_amax(const float32x4_t *v, int nv) {
    float32x4_t m = vabsq_f32(v[0]);
    for (int c = 1; c < nv; c++) m = vmaxq_f32(m, vabsq_f32(v[c]));
    return vmaxvq_f32(m);
}

// 32 floats times id, rounded to nearest even, as int8 (the values are within +-127); returns
// their sum.
static inline int32_t round_pack32(const float32x4_t v[8], float id, int8_t *out) {
    int32x4_t i[8], sum = vdupq_n_s32(0);
    FL_UNROLL for (int c = 0; c < 8; c++) {
        i[c] = vcvtnq_s32_f32(vmulq_n_f32(v[c], id));
        sum = vaddq_s32(sum, i[c]);
    }
    for (int c = 0; c < 8; c += 4) {
        const int16x8_t a = vcombine_s16(vmovn_s32(i[c]), vmovn_s32(i[c + 1]));
        const int16x8_t b = vcombine_s16(vmovn_s32(i[c + 2]), vmovn_s32(i[c + 3]));
        vst1q_s8(out + 4 * c, vcombine_s8(vmovn_s16(a), vmovn_s16(b)));
    }
    return vaddvq_s32(sum);
}

static inline void load32(const float *x, float32x4_t v[8]) {
    FL_UNROLL for (int c = 0; c < 8; c++) v[c] = vld1q_f32(x + 4 * c);
}

void fl_quantize_q8_0_neon(const float *x, block_q8_0 *y, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, x += QK8_0) {
        float32x4_t v[8];
        load32(x, v);
        const float amax = block_amax(v, 8);
        const float d = amax / 127.f, id = amax != 0.f ? 127.f / amax : 0.f;
        y[b].d = FL_F2H(d);
        round_pack32(v, id, y[b].qs);
    }
}

void fl_quantize_q8_1_neon(const float *x, block_q8_1 *y, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, x += QK8_1) {
        float32x4_t v[8];
        load32(x, v);
        const float amax = block_amax(v, 8);
        const float d = amax / 127.f, id = amax != 0.f ? 127.f / amax : 0.f;
        y[b].d = FL_F2H(d);
        const int32_t sum = round_pack32(v, id, y[b].qs);
        y[b].s = FL_F2H((float)sum * d);
    }
}

// Q8_K: the first element of largest magnitude sets the sign of the scale; values rounded to
// nearest even and capped at 127; bsums per 16 values.
void fl_quantize_q8_K_neon(const float *x, block_q8_K *y, int64_t nb) {
    for (int64_t b = 0; b < nb; b++, x += QK_K) {
        float32x4_t m = vdupq_n_f32(0.f);
        for (int c = 0; c < QK_K; c += 4) m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + c)));
        const float amax = vmaxvq_f32(m);
        if (amax == 0.f) {
            memset(&y[b], 0, sizeof(y[b]));
            continue;
        }
        float max = 0.f;
        const float32x4_t av = vdupq_n_f32(amax);
        for (int c = 0; c < QK_K; c += 4)
            if (vmaxvq_u32(vceqq_f32(vabsq_f32(vld1q_f32(x + c)), av))) {
                FL_UNROLL for (int l = 0; l < 4; l++)
                    if (fabsf(x[c + l]) == amax) { max = x[c + l]; break; }
                break;
            }
        const float iscale = -127.f / max;
        for (int c = 0; c < QK_K; c += 16) {
            int32x4_t i[4];
            FL_UNROLL for (int k = 0; k < 4; k++)
                i[k] = vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + c + 4 * k), iscale)), vdupq_n_s32(127));
            y[b].bsums[c / 16] = (int16_t)vaddvq_s32(vaddq_s32(vaddq_s32(i[0], i[1]), vaddq_s32(i[2], i[3])));
            const int16x8_t lo = vcombine_s16(vmovn_s32(i[0]), vmovn_s32(i[1]));
            const int16x8_t hi = vcombine_s16(vmovn_s32(i[2]), vmovn_s32(i[3]));
            vst1q_s8(y[b].qs + c, vcombine_s8(vmovn_s16(lo), vmovn_s16(hi)));
        }
        y[b].d = 1.f / iscale;
    }
}

#else
#include "isa.h"
#endif
