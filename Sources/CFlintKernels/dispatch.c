// CPU feature detection (once, at start-up) and the per-path kernel tables (isa.h).
#include <stdlib.h>
#include <string.h>
#include "isa.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__)
#if defined(__linux__)
#include <sys/auxv.h>
#elif defined(__APPLE__)
#include <sys/sysctl.h>
#endif
#endif

static const char *const names[FL_ISA_COUNT] = {
    [FL_ISA_SCALAR] = "scalar",
    [FL_ISA_AVX2] = "avx2",
    [FL_ISA_AVXVNNI] = "avxvnni",
    [FL_ISA_AVX512VNNI] = "avx512vnni",
    [FL_ISA_NEON] = "neon",
};
// The path each one starts from: entries without a form of their own keep that path's.
static const int parent[FL_ISA_COUNT] = {
    [FL_ISA_SCALAR] = FL_ISA_SCALAR,
    [FL_ISA_AVX2] = FL_ISA_SCALAR,
    [FL_ISA_AVXVNNI] = FL_ISA_AVX2,
    [FL_ISA_AVX512VNNI] = FL_ISA_AVX2,
    [FL_ISA_NEON] = FL_ISA_SCALAR,
};
// Preferred default, best first.
static const int preference[] = {FL_ISA_AVX512VNNI, FL_ISA_AVXVNNI, FL_ISA_AVX2, FL_ISA_NEON, FL_ISA_SCALAR};

static fl_isa_table tables[FL_ISA_COUNT];
static int available[FL_ISA_COUNT];
static int best_isa = FL_ISA_SCALAR;
static const fl_isa_table *volatile current = &tables[FL_ISA_SCALAR];

#if defined(__x86_64__) || defined(__i386__)
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
    if (avx2 && fma && f16c) available[FL_ISA_AVX2] = 1;
    unsigned a1 = 0, b1, c1, d1;
    if (__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1) && ((a1 >> 4) & 1) && available[FL_ISA_AVX2])
        available[FL_ISA_AVXVNNI] = 1;  // CPUID.(7,1):EAX[4] AVX-VNNI
    if (available[FL_ISA_AVX2] && avx512f && avx512dq && avx512bw && avx512vl && vnni && (xcr0 & 0xe6) == 0xe6)
        available[FL_ISA_AVX512VNNI] = 1;
}
#elif defined(__aarch64__)
static void detect(void) {
    // Advanced SIMD is part of every AArch64 CPU; the kernels also need the dot-product
    // instructions (ARMv8.2 FEAT_DotProd: every Apple Silicon core, Graviton 2 and later,
    // Ampere Altra). Without them the scalar reference runs.
#if defined(__linux__)
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
    if (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) available[FL_ISA_NEON] = 1;
#elif defined(__APPLE__)
    int v = 0;
    size_t n = sizeof v;
    if (sysctlbyname("hw.optional.arm.FEAT_DotProd", &v, &n, NULL, 0) == 0 && v) available[FL_ISA_NEON] = 1;
#endif
}
#else
static void detect(void) {}
#endif

static void fill(int isa) {
    fl_isa_table *t = &tables[isa];
    if (isa != FL_ISA_SCALAR) *t = tables[parent[isa]];
    switch (isa) {
    case FL_ISA_SCALAR: fl_fill_scalar(t); break;
#if defined(__x86_64__) || defined(__i386__)
    case FL_ISA_AVX2: fl_fill_avx2(t); break;
    case FL_ISA_AVXVNNI: fl_fill_avxvnni(t); break;
    case FL_ISA_AVX512VNNI: fl_fill_avx512vnni(t); break;
#elif defined(__aarch64__)
    case FL_ISA_NEON: fl_fill_neon(t); break;
#endif
    default: break;
    }
    fl_fill_quantize(t, isa);
    fl_fill_attention(t, isa);
    fl_fill_activation(t, isa);
    fl_fill_rope(t, isa);
    fl_fill_argmax(t, isa);
    fl_fill_lora(t, isa);
    t->name = names[isa];
}

__attribute__((constructor)) static void flint_kernels_init(void) {
    available[FL_ISA_SCALAR] = 1;
    detect();
    // parents come first in enum order
    for (int i = 0; i < FL_ISA_COUNT; i++)
        if (available[i]) fill(i);
    for (size_t i = 0; i < sizeof preference / sizeof preference[0]; i++)
        if (available[preference[i]]) { best_isa = preference[i]; break; }
    current = &tables[best_isa];
    // FLINT_KERNELS_ISA=<name> picks an available path for the whole process (benchmarks,
    // other CPUs' paths on a CPU that has more, opt-in paths); unknown or unavailable names
    // are ignored.
    const char *env = getenv("FLINT_KERNELS_ISA");
    if (env)
        for (int i = 0; i < FL_ISA_COUNT; i++)
            if (available[i] && strcmp(names[i], env) == 0) best_isa = i, current = &tables[i];
}

const char *flint_kernels_isa(void) { return current->name; }

void flint_kernels_force_scalar(int on) { current = &tables[on ? FL_ISA_SCALAR : best_isa]; }

static int isa_index(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < FL_ISA_COUNT; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

const char *flint_kernels_isa_name(int index) { return index >= 0 && index < FL_ISA_COUNT ? names[index] : NULL; }

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
