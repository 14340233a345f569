// AVX2 + FMA + F16C kernels (see simd_impl.h).
#if defined(__x86_64__) || defined(__i386__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#define FL_SFX avx2
#define FL_VNNI 0
#define FL_AVX512 0
#define FL_TM_F 2
#define FL_TM_Q 2
#define FL_TM_K 4
#include "simd_impl.h"
#pragma clang attribute pop
#else
#include "isa.h"
#endif
