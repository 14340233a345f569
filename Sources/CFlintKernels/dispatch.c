// CPU feature detection (once, at start-up) and the per-ISA kernel tables.
#include <cpuid.h>
#include <string.h>
#include "blocks.h"

enum { ISA_SCALAR = 0, ISA_AVX2 = 1, ISA_AVX512VNNI = 2, ISA_COUNT = 3 };

static fl_isa_table tables[ISA_COUNT];
static int available[ISA_COUNT];
static int best_isa = ISA_SCALAR;
static const fl_isa_table *volatile current = &tables[ISA_SCALAR];

static uint64_t read_xcr0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

static void detect(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
    if (!osxsave || !avx) return;
    const uint64_t xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6) return;  // OS saves xmm/ymm state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return;
    const int avx2 = (b >> 5) & 1;
    const int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    const int vnni = (c >> 11) & 1;
    if (avx2 && fma && f16c) available[ISA_AVX2] = 1;
    if (available[ISA_AVX2] && avx512f && avx512dq && avx512bw && avx512vl && vnni && (xcr0 & 0xe6) == 0xe6)
        available[ISA_AVX512VNNI] = 1;
}

__attribute__((constructor)) static void flint_kernels_init(void) {
    available[ISA_SCALAR] = 1;
    detect();
    fl_fill_scalar(&tables[ISA_SCALAR]);
    for (int i = 1; i < ISA_COUNT; i++) tables[i] = tables[ISA_SCALAR];  // fallbacks for types without SIMD
    tables[ISA_AVX2].name = "avx2";
    tables[ISA_AVX512VNNI].name = "avx512vnni";
    // The fill functions are compiled for their ISA: only call them where it can run.
    if (available[ISA_AVX2]) fl_fill_avx2(&tables[ISA_AVX2]);
    if (available[ISA_AVX512VNNI]) {
        tables[ISA_AVX512VNNI] = tables[ISA_AVX2];
        fl_fill_avx512vnni(&tables[ISA_AVX512VNNI]);
    }
    best_isa = available[ISA_AVX512VNNI] ? ISA_AVX512VNNI : available[ISA_AVX2] ? ISA_AVX2 : ISA_SCALAR;
    current = &tables[best_isa];
}

static const fl_isa_table *table(void) { return current; }

const char *flint_kernels_isa(void) { return table()->name; }

void flint_kernels_force_scalar(int on) { current = &tables[on ? ISA_SCALAR : best_isa]; }

static int isa_index(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < ISA_COUNT; i++)
        if (strcmp(tables[i].name, name) == 0) return i;
    return -1;
}

int flint_kernels_isa_available(const char *name) {
    const int i = isa_index(name);
    return i >= 0 && available[i];
}

int flint_kernels_set_isa(const char *name) {
    const int i = isa_index(name);
    if (i < 0 || !available[i]) return 0;
    current = &tables[i];
    return 1;
}

const fl_isa_table *fl_current_table(void) { return current; }
