// CPU feature detection (once, at start-up) and the per-ISA kernel tables.
#include <cpuid.h>
#include <string.h>
#include <stdlib.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#include "blocks.h"

// ISA_AVX512BS / ISA_AVX512BSAMX: opt-in, never "best" (block-scalar arithmetic, simd_impl.h).
enum { ISA_SCALAR, ISA_AVX2, ISA_AVX512VNNI, ISA_AVX512BS, ISA_AVX512BSAMX, ISA_COUNT };

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
        available[ISA_AVX512VNNI] = available[ISA_AVX512BS] = 1;
    // AMX-INT8: CPU support, the OS enabling tile state in XCR0 (bits 17, 18), and on Linux
    // the per-process permission for the large tile-data state (arch_prctl, XTILEDATA = 18);
    // without it the first tile instruction would fault, so refusal means no AMX table.
    const int amx_tile = (d >> 24) & 1, amx_int8 = (d >> 25) & 1;
    if (available[ISA_AVX512VNNI] && amx_tile && amx_int8 && (xcr0 & 0x60000) == 0x60000) {
#if defined(__linux__) && defined(SYS_arch_prctl)
        if (syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18) == 0)
            available[ISA_AVX512BSAMX] = 1;
#endif
    }
}

__attribute__((constructor)) static void flint_kernels_init(void) {
    available[ISA_SCALAR] = 1;
    detect();
    fl_fill_scalar(&tables[ISA_SCALAR]);
    for (int i = 1; i < ISA_COUNT; i++) tables[i] = tables[ISA_SCALAR];  // fallbacks for types without SIMD
    tables[ISA_AVX2].name = "avx2";
    tables[ISA_AVX512VNNI].name = "avx512vnni";
    tables[ISA_AVX512BS].name = "avx512bs";
    tables[ISA_AVX512BSAMX].name = "avx512bs-amx";
    // The fill functions are compiled for their ISA: only call them where it can run.
    if (available[ISA_AVX2]) fl_fill_avx2(&tables[ISA_AVX2]);
    if (available[ISA_AVX512VNNI]) {
        tables[ISA_AVX512VNNI] = tables[ISA_AVX2];
        fl_fill_avx512vnni(&tables[ISA_AVX512VNNI]);
    }
    if (available[ISA_AVX512BS]) {
        tables[ISA_AVX512BS] = tables[ISA_AVX512VNNI];
        fl_fill_avx512bs(&tables[ISA_AVX512BS]);
    }
    if (available[ISA_AVX512BSAMX]) {
        tables[ISA_AVX512BSAMX] = tables[ISA_AVX512VNNI];
        fl_fill_avx512bsamx(&tables[ISA_AVX512BSAMX]);
    }
    best_isa = available[ISA_AVX512VNNI] ? ISA_AVX512VNNI : available[ISA_AVX2] ? ISA_AVX2 : ISA_SCALAR;
    current = &tables[best_isa];
    // FLINT_KERNELS_ISA=<name> picks an available path for the whole process (benchmarks,
    // opt-in paths); unknown or unavailable names are ignored.
    const char *env = getenv("FLINT_KERNELS_ISA");
    if (env)
        for (int i = 0; i < ISA_COUNT; i++)
            if (available[i] && strcmp(tables[i].name, env) == 0) best_isa = i, current = &tables[i];
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
