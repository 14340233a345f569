// vector_pipes.c for the 256-bit (AVX2) instructions of Flint's AVX2 matmuls: the throughput
// of each alone and beside an FMA (a pair well below the solo rates competes for ports), and
// of one lane step of the transposed tiles (gemm_ymm.h) in the byte form (vpsignb,
// vpmaddubsw, vpmaddwd) and in the i16 form (two vpmaddwd) the signed types take. On the
// 2-core Zen 4 VM this was written on: vfmadd alone 7.8 G/s, beside vpmaddubsw, vpmaddwd,
// vpsignb, vcvtdq2ps or vpxor 0.9-3.1 (it varies from run to run), beside vpsrad 8.0; the
// Q8_0 lane step 1.8 G/s in the byte form, 2.2 in the i16 form (x 32 = GMAC/s).
//
//   clang -O2 -mavx2 -mfma bench/vector_pipes_avx2.c -o /tmp/vector_pipes_avx2
//   /tmp/vector_pipes_avx2       (one core)
//
// Each loop iteration advances STEPS independent accumulator chains; the tile steps take
// their activation dwords as broadcast loads from addresses the compiler cannot hoist.
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define ITERS 20000000L
#define STEPS 12

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static inline __m256i bcast(const int32_t *p) { return _mm256_set1_epi32(*p); }

// acc[j] = OP(acc[j], ...) for j < STEPS, ITERS times; returns a value that depends on all.
#define KERNEL(NAME, ...)                                                                          \
    __attribute__((noinline)) static float NAME(const int32_t *xp) {                               \
        __m256 f[STEPS];                                                                          \
        __m256i a[STEPS];                                                                         \
        const __m256i u = _mm256_set1_epi32(0x01020304), ones = _mm256_set1_epi16(1), x = bcast(xp); \
        const __m256 d = _mm256_set1_ps(1.0001f);                                                 \
        for (int j = 0; j < STEPS; j++) f[j] = _mm256_set1_ps((float)j), a[j] = _mm256_set1_epi32(j); \
        for (long it = 0; it < ITERS; it++) {                                                     \
            for (int j = 0; j < STEPS; j++) { __VA_ARGS__; }                                      \
            __asm__ volatile("" : "+r"(xp));                                                      \
        }                                                                                         \
        (void)u, (void)d, (void)ones, (void)x;                                                                    \
        __m256 s = _mm256_setzero_ps();                                                           \
        for (int j = 0; j < STEPS; j++) s = _mm256_add_ps(s, _mm256_add_ps(f[j], _mm256_castsi256_ps(a[j]))); \
        float o[8];                                                                               \
        _mm256_storeu_ps(o, s);                                                                   \
        return o[0] + o[7];                                                                       \
    }

KERNEL(fma, f[j] = _mm256_fmadd_ps(f[j], d, f[j]))
KERNEL(maddubs, a[j] = _mm256_maddubs_epi16(a[j], u))
KERNEL(maddwd, a[j] = _mm256_madd_epi16(a[j], ones))
KERNEL(fma_maddubs, f[j] = _mm256_fmadd_ps(f[j], d, f[j]); a[j] = _mm256_maddubs_epi16(a[j], u))
KERNEL(fma_maddwd, f[j] = _mm256_fmadd_ps(f[j], d, f[j]); a[j] = _mm256_madd_epi16(a[j], ones))
KERNEL(fma_sign, f[j] = _mm256_fmadd_ps(f[j], d, f[j]); a[j] = _mm256_sign_epi8(a[j], u))
KERNEL(fma_cvt, f[j] = _mm256_fmadd_ps(f[j], d, f[j]); a[j] = _mm256_castps_si256(_mm256_cvtepi32_ps(a[j])))
KERNEL(fma_xor, f[j] = _mm256_fmadd_ps(f[j], d, f[j]); a[j] = _mm256_xor_si256(a[j], u))
KERNEL(fma_srai, f[j] = _mm256_fmadd_ps(f[j], d, f[j]); a[j] = _mm256_srai_epi32(a[j], 3))
// One 8-row x 4-element lane step (32 multiply-adds) of the Q8_0 tile, byte form: vpsignb,
// vpmaddubsw, vpmaddwd, convert, FMA.
KERNEL(q8_0_bytes, f[j] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_madd_epi16(
                       _mm256_maddubs_epi16(u, _mm256_sign_epi8(bcast(xp + j), x)), ones)), f[j]))
// The same in the i16 form, two groups of 8 rows per broadcast pair (as gemm_ymm.h's tiles):
// 2 steps per iteration.
KERNEL(i16_two_groups, {
    const __m256i e = bcast(xp + j), o = bcast(xp + STEPS + j);
    f[j] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_madd_epi16(u, e), _mm256_madd_epi16(x, o))), f[j]);
    a[j] = _mm256_castps_si256(_mm256_fmadd_ps(
        d, _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_madd_epi16(x, e), _mm256_madd_epi16(u, o))), _mm256_castsi256_ps(a[j])));
})

int main(void) {
    static int32_t x[2 * STEPS];
    for (int j = 0; j < 2 * STEPS; j++) x[j] = 0x01010101 * (j % 3);
    const struct { const char *name; float (*fn)(const int32_t *); double per; } tests[] = {
        {"vfmadd", fma, 1},
        {"vpmaddubsw", maddubs, 1},
        {"vpmaddwd", maddwd, 1},
        {"vfmadd + vpmaddubsw", fma_maddubs, 1},
        {"vfmadd + vpmaddwd", fma_maddwd, 1},
        {"vfmadd + vpsignb", fma_sign, 1},
        {"vfmadd + vcvtdq2ps", fma_cvt, 1},
        {"vfmadd + vpxor", fma_xor, 1},
        {"vfmadd + vpsrad", fma_srai, 1},
        {"Q8_0 lane step, bytes", q8_0_bytes, 1},
        {"Q8_0 lane step, i16 x 2", i16_two_groups, 2},
    };
    printf("%-28s %s\n", "ymm steps (independent)", "G steps/s on this core (lane steps: x 32 = GMAC/s)");
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        const double t = now();
        const float r = tests[i].fn(x);
        const double s = now() - t;
        printf("%-28s %6.2f%s\n", tests[i].name, tests[i].per * (double)ITERS * STEPS / s / 1e9, r == 1234.5f ? " " : "");
    }
    return 0;
}
