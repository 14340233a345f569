// AVX-512 VNNI kernels: the shared 256-bit kernels with vpdpbusd (AVX512VL + VNNI) for the
// unsigned x signed byte dot products, and the zmm tiles.
#if defined(__x86_64__) || defined(__i386__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512dq,avx512bw,avx512vl,avx512vnni"))), apply_to = function)
#define FL_SFX avx512vnni
#define FL_VNNI 1
#define FL_DPBUSD _mm256_dpbusd_epi32
#define FL_AVX512 1
#define FL_TM_F 4
#define FL_TM_Q 4
#define FL_TM_K 4
#include "simd_impl.h"
#pragma clang attribute pop
#else
#include "isa.h"
#endif
