// Which AVX-512 operations compete for the same execution ports: the throughput of the
// instructions a quantized matmul is made of, alone and in pairs. Where a pair runs at half
// the rate of either instruction alone, the two share ports; where it keeps the solo rate,
// they run side by side. This bounds Flint's batched matmuls (docs/ARCHITECTURE.md, "Speed
// within exact arithmetic"): llama.cpp's arithmetic needs one FMA per vpdpbusd.
//
//   clang -O2 -mavx512f -mavx512bw -mavx512vl -mavx512vnni bench/vector_pipes.c -o /tmp/vector_pipes
//   /tmp/vector_pipes            (one core; run two copies under taskset for both cores)
//
// Each loop iteration advances STEPS independent accumulator chains (enough of them that no
// latency limits the rate). The Q4_1 step starts each vpdpbusd from zero, so its activation
// dword is a broadcast load from an address the compiler cannot hoist: no two steps compute
// the same value.
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define ITERS 33333333L
#define STEPS 12

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static inline __m512i bcast(const int32_t *p) { return _mm512_set1_epi32(*p); }

// acc[j] = OP(acc[j], ...) for j < STEPS, ITERS times; returns a value that depends on all.
#define KERNEL(NAME, STEP)                                                                         \
    __attribute__((noinline)) static float NAME(const int32_t *xp) {                               \
        __m512 f[STEPS];                                                                          \
        __m512i a[STEPS];                                                                         \
        const __m512i u = _mm512_set1_epi32(0x01020304), ones = _mm512_set1_epi16(1), x = bcast(xp); \
        const __m512 d = _mm512_set1_ps(1.0001f);                                                 \
        for (int j = 0; j < STEPS; j++) f[j] = _mm512_set1_ps((float)j), a[j] = _mm512_set1_epi32(j); \
        for (long it = 0; it < ITERS; it++) {                                                     \
            for (int j = 0; j < STEPS; j++) { STEP; }                                             \
            __asm__ volatile("" : "+r"(xp));                                                      \
        }                                                                                         \
        (void)ones;                                                                               \
        __m512 s = _mm512_setzero_ps();                                                           \
        for (int j = 0; j < STEPS; j++) s = _mm512_add_ps(s, _mm512_add_ps(f[j], _mm512_castsi512_ps(a[j]))); \
        return _mm512_reduce_add_ps(s);                                                           \
    }

KERNEL(dpbusd, a[j] = _mm512_dpbusd_epi32(a[j], u, x))
KERNEL(fma, f[j] = _mm512_fmadd_ps(f[j], d, f[j]))
KERNEL(fma_dpbusd, f[j] = _mm512_fmadd_ps(f[j], d, f[j]); a[j] = _mm512_dpbusd_epi32(a[j], u, x))
KERNEL(fma_cvt, f[j] = _mm512_fmadd_ps(f[j], d, f[j]); a[j] = _mm512_castps_si512(_mm512_cvtepi32_ps(a[j])))
KERNEL(dpbusd_cvt, a[j] = _mm512_dpbusd_epi32(a[j], u, x); f[j] = _mm512_cvtepi32_ps(_mm512_castps_si512(f[j])))
KERNEL(fma_paddd, f[j] = _mm512_fmadd_ps(f[j], d, f[j]); a[j] = _mm512_add_epi32(a[j], u))
KERNEL(fma_maddubs, f[j] = _mm512_fmadd_ps(f[j], d, f[j]); a[j] = _mm512_maddubs_epi16(a[j], u))
KERNEL(fma_maddwd, f[j] = _mm512_fmadd_ps(f[j], d, f[j]); a[j] = _mm512_madd_epi16(a[j], ones))
KERNEL(fma_pshufb, f[j] = _mm512_fmadd_ps(f[j], d, f[j]); a[j] = _mm512_shuffle_epi8(a[j], u))
// One 16-row x 4-element product of the transposed Q4_1 tiles: vpdpbusd from zero, convert,
// FMA into the lane accumulator (64 multiply-adds).
KERNEL(q4_1_step, f[j] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), u, bcast(xp + j))), f[j]))

int main(void) {
    static int32_t x[STEPS];
    for (int j = 0; j < STEPS; j++) x[j] = 0x01010101 * (j % 3);
    const struct { const char *name; float (*fn)(const int32_t *); } tests[] = {
        {"vpdpbusd", dpbusd},
        {"vfmadd", fma},
        {"vfmadd + vpdpbusd", fma_dpbusd},
        {"vfmadd + vcvtdq2ps", fma_cvt},
        {"vpdpbusd + vcvtdq2ps", dpbusd_cvt},
        {"vfmadd + vpaddd", fma_paddd},
        {"vfmadd + vpmaddubsw", fma_maddubs},
        {"vfmadd + vpmaddwd", fma_maddwd},
        {"vfmadd + vpshufb", fma_pshufb},
        {"Q4_1 step (dpbusd,cvt,fma)", q4_1_step},
    };
    printf("%-28s %s\n", "zmm steps (independent)", "G steps/s on this core");
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        const double t = now();
        const float r = tests[i].fn(x);
        const double s = now() - t;
        printf("%-28s %6.2f%s\n", tests[i].name, (double)ITERS * STEPS / s / 1e9, r == 1234.5f ? " " : "");
    }
    return 0;
}
