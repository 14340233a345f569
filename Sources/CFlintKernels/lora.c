// LoRA expand step: y += Btᵀ·u, with Bt (rank rows of n elements) stored as Q8_0.
//
// B (n × rank) has rows only `rank` long, far too short for a dot-product kernel: the
// horizontal reduction and loop overhead of every (row, activation) pair would cost more
// than its 16 multiply-adds. Stored transposed, the update is `rank` scaled row
// additions, vectorized along n with no reductions at all. The SIMD and scalar paths do
// the same fused multiply-adds in the same order, so they agree bit for bit.
#include "isa.h"
#include "flint_kernels.h"
#include <math.h>
#include <string.h>

static void expand_q8_0_scalar(const void *bt, size_t stride, int64_t rank, int64_t n, const float *u, float *y) {
    for (int64_t b = 0; b < n / QK8_0; b++) {
        float acc[QK8_0] = {0};
        for (int64_t j = 0; j < rank; j++) {
            const block_q8_0 *blk = (const block_q8_0 *)((const char *)bt + j * stride) + b;
            const float s = u[j] * FL_H2F(blk->d);
            for (int i = 0; i < QK8_0; i++) acc[i] = fmaf(s, (float)blk->qs[i], acc[i]);
        }
        for (int i = 0; i < QK8_0; i++) y[b * QK8_0 + i] += acc[i];
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

__attribute__((target("avx2,fma")))
static void expand_q8_0_avx2(const void *bt, size_t stride, int64_t rank, int64_t n, const float *u, float *y) {
    for (int64_t b = 0; b < n / QK8_0; b++) {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        for (int64_t j = 0; j < rank; j++) {
            const block_q8_0 *blk = (const block_q8_0 *)((const char *)bt + j * stride) + b;
            const __m256 s = _mm256_set1_ps(u[j] * FL_H2F(blk->d));
            const __m128i lo = _mm_loadu_si128((const __m128i *)blk->qs);
            const __m128i hi = _mm_loadu_si128((const __m128i *)(blk->qs + 16));
            a0 = _mm256_fmadd_ps(s, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), a0);
            a1 = _mm256_fmadd_ps(s, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), a1);
            a2 = _mm256_fmadd_ps(s, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), a2);
            a3 = _mm256_fmadd_ps(s, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), a3);
        }
        float *o = y + b * QK8_0;
        _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), a0));
        _mm256_storeu_ps(o + 8, _mm256_add_ps(_mm256_loadu_ps(o + 8), a1));
        _mm256_storeu_ps(o + 16, _mm256_add_ps(_mm256_loadu_ps(o + 16), a2));
        _mm256_storeu_ps(o + 24, _mm256_add_ps(_mm256_loadu_ps(o + 24), a3));
    }
}
#endif

void fl_fill_lora(fl_isa_table *t, int isa) {
    if (isa == FL_ISA_SCALAR) t->lora_expand = expand_q8_0_scalar;
#if defined(__x86_64__) || defined(__i386__)
    if (isa == FL_ISA_AVX2) t->lora_expand = expand_q8_0_avx2;
#elif defined(__aarch64__)
    if (isa == FL_ISA_NEON) t->lora_expand = fl_lora_expand_q8_0_neon;
#endif
}

void flint_lora_expand_q8_0(const void *bt, size_t bt_stride, int64_t rank, int64_t n, const float *u, float *y) {
    fl_current_table()->lora_expand(bt, bt_stride, rank, n, u, y);
}
