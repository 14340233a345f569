// Internal: GGML-compatible packed block layouts and shared helpers.
#ifndef FLINT_BLOCKS_H
#define FLINT_BLOCKS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "flint_kernels.h"

typedef uint16_t fl_half;

// Full unrolling of a loop with a small constant trip count (after inlining): the kernels keep
// arrays of vector accumulators in registers only when their loops are unrolled, which the
// compilers' default -O2 limits do not always do (SwiftPM builds C at -O2, and a package
// cannot raise that without unsafe flags).
#if defined(__clang__)
#define FL_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define FL_UNROLL _Pragma("GCC unroll 32")
#else
#define FL_UNROLL
#endif

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32
#define QK_K 256
#define K_SCALE_SIZE 12

typedef struct { fl_half d; uint8_t qs[QK4_0 / 2]; } block_q4_0;
typedef struct { fl_half d; fl_half m; uint8_t qs[QK4_1 / 2]; } block_q4_1;
typedef struct { fl_half d; uint8_t qh[4]; uint8_t qs[QK5_0 / 2]; } block_q5_0;
typedef struct { fl_half d; fl_half m; uint8_t qh[4]; uint8_t qs[QK5_1 / 2]; } block_q5_1;
typedef struct { fl_half d; int8_t qs[QK8_0]; } block_q8_0;
typedef struct { fl_half d; fl_half s; int8_t qs[QK8_1]; } block_q8_1;
typedef struct { fl_half d; fl_half dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; } block_q4_K;
typedef struct { fl_half d; fl_half dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; } block_q5_K;
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; fl_half d; } block_q6_K;
typedef struct { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; } block_q8_K;

_Static_assert(sizeof(block_q4_0) == 18, "block_q4_0 size");
_Static_assert(sizeof(block_q4_1) == 20, "block_q4_1 size");
_Static_assert(sizeof(block_q5_0) == 22, "block_q5_0 size");
_Static_assert(sizeof(block_q5_1) == 24, "block_q5_1 size");
_Static_assert(sizeof(block_q8_0) == 34, "block_q8_0 size");
_Static_assert(sizeof(block_q8_1) == 36, "block_q8_1 size");
_Static_assert(sizeof(block_q4_K) == 144, "block_q4_K size");
_Static_assert(sizeof(block_q5_K) == 176, "block_q5_K size");
_Static_assert(sizeof(block_q6_K) == 210, "block_q6_K size");
_Static_assert(sizeof(block_q8_K) == 292, "block_q8_K size");

// ---- fp16 / bf16 (portable bit manipulation; identical to F16C for all inputs) ----

static inline uint32_t fl_f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float fl_u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static inline float fl_h2f(fl_half h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0) {
        // zero or subnormal: man * 2^-24 is exact in f32
        float v = (float)man * 5.9604644775390625e-8f;
        return fl_u2f(fl_f2u(v) | sign);
    }
    if (exp == 31) return fl_u2f(sign | 0x7f800000u | (man << 13));
    return fl_u2f(sign | ((exp + 112u) << 23) | (man << 13));
}

static inline fl_half fl_f2h(float f) {
    uint32_t x = fl_f2u(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) {  // inf / nan (keep a quiet nan)
        if (ax == 0x7f800000u) return (fl_half)(sign | 0x7c00u);
        return (fl_half)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    }
    if (ax >= 0x477ff000u) return (fl_half)(sign | 0x7c00u);  // rounds to inf
    if (ax < 0x38800000u) {  // below the smallest normal half: round to a multiple of 2^-24
        float v = fl_u2f(ax) + 0.5f;
        return (fl_half)(sign | (fl_f2u(v) - 0x3f000000u));
    }
    uint32_t odd = (ax >> 13) & 1u;
    ax += 0xc8000fffu + odd;  // rebias exponent (127 -> 15) and round to nearest even
    return (fl_half)(sign | (ax >> 13));
}

static inline float fl_bf2f(uint16_t h) { return fl_u2f((uint32_t)h << 16); }

static inline uint16_t fl_f2bf(float f) {
    uint32_t x = fl_f2u(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);  // quiet nan
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

#define FL_H2F(h) fl_h2f(h)
#define FL_F2H(f) fl_f2h(f)

// ---- Q6_K: the four signed 6-bit values of index l (0..31) of a 128-element half,
// elements l, l + 32, l + 64 and l + 96 (ql and qh point at the half's bytes).
static inline void fl_q6_K_quad(const uint8_t *ql, const uint8_t *qh, int l, int q[4]) {
    q[0] = (int)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
    q[1] = (int)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
    q[2] = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
    q[3] = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
}

// ---- K-quant 6-bit scale/min unpacking ----
static inline void fl_get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

#endif
