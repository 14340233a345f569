// The AVX2 kernels with the VEX-encoded vpdpbusd of AVX-VNNI (Alder Lake and later, Zen 5,
// Sierra Forest) for the unsigned x signed byte dot products (see simd_impl.h). Same results
// as the AVX2 path: its vpmaddubsw + vpmaddwd pair never saturates for these operands.
#if defined(__x86_64__) || defined(__i386__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avxvnni"))), apply_to = function)
#define FL_SFX avxvnni
#define FL_VNNI 1
#define FL_DPBUSD _mm256_dpbusd_avx_epi32
#define FL_AVX512 0
#define FL_TM_F 2
#define FL_TM_Q 2
#define FL_TM_K 4
#include "simd_impl.h"
#pragma clang attribute pop
#else
#include "isa.h"
#endif
