// Kernel check for the instruction-set paths that the Swift tests cannot run on this machine
// (scripts/test-arm64 builds it for AArch64 and runs it under qemu; it also builds it natively
// to record the AVX2 results and to check the checker on the x86 paths).
//
//   kernel_check run PATH [write FILE | compare FILE]
//       Checks path PATH against the scalar reference with the Swift kernel tests' rules:
//       matmuls within close() and gemm == vec_dot bit for bit (the Q4_K / Q6_K batch forms
//       bit for bit against the scalar forms); activation quantizers, attention, SwiGLU /
//       GeGLU, argmax, LoRA expand, RoPE and the F16 store bit for bit. Then the cross-ISA
//       set: matmuls of every type and form, and the other kernels, on deterministic
//       pseudo-random data that both architectures generate identically (integer RNG, no
//       libm); `write` stores PATH's results, `compare` requires PATH's results to equal the
//       stored ones bit for bit.
//   kernel_check expect NAME
//       Checks that start-up dispatch selected path NAME (and, for "scalar", that no SIMD
//       path is available).
//
// Only the public C interface (Sources/CFlintKernels/include) is used.
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "CFlintKernels.h"

// The test data must be the same on every machine: no fused multiply-adds that a compiler
// might form on one architecture and not on another.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

// ---------------------------------------------------------------- bookkeeping

static long n_checks, n_failed;
static const char *g_path = "scalar";

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...) {
    n_checks++;
    if (ok) return;
    if (++n_failed <= 40) {
        va_list ap;
        va_start(ap, fmt);
        printf("FAIL [%s] ", g_path);
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
    }
}

static void use(const char *isa) {
    if (!flint_kernels_set_isa(isa)) {
        printf("FAIL: path %s not available\n", isa);
        exit(1);
    }
}

static uint32_t bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

// The Swift tests' close(): |a - b| <= max(1e-3, 1e-4 * max(|a|, |b|)).
static int close_to(float a, float b) {
    const float m = fabsf(a) > fabsf(b) ? fabsf(a) : fabsf(b);
    const float tol = 1e-4f * m > 1e-3f ? 1e-4f * m : 1e-3f;
    return fabsf(a - b) <= tol;
}

// ---------------------------------------------------------------- data

static uint64_t rng_state;
static void seed(uint64_t s) { rng_state = s; }
static uint64_t next64(void) {  // SplitMix64, as the Swift tests'
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
// Uniform in [-1, 1): 24 random bits, exact on every machine.
static float uniform(void) { return (float)(next64() >> 40) / 16777216.0f * 2.0f - 1.0f; }
static int below(int n) { return (int)(next64() % (uint64_t)n); }

static void *xalloc(size_t n) {
    void *p = calloc(1, n ? n : 1);
    if (!p) { printf("out of memory\n"); exit(1); }
    return p;
}

static void random_floats(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = uniform() * (1.0f + 1.5f * (uniform() + 1.0f));
}

static const int weight_types[] = {FLINT_TYPE_F32, FLINT_TYPE_F16, FLINT_TYPE_BF16, FLINT_TYPE_Q4_0,
                                   FLINT_TYPE_Q4_1, FLINT_TYPE_Q5_0, FLINT_TYPE_Q5_1, FLINT_TYPE_Q8_0,
                                   FLINT_TYPE_Q4_K, FLINT_TYPE_Q5_K, FLINT_TYPE_Q6_K};
#define N_WTYPES (int)(sizeof weight_types / sizeof weight_types[0])

static const char *type_name(int t) {
    switch (t) {
    case FLINT_TYPE_F32: return "F32";
    case FLINT_TYPE_F16: return "F16";
    case FLINT_TYPE_BF16: return "BF16";
    case FLINT_TYPE_Q4_0: return "Q4_0";
    case FLINT_TYPE_Q4_1: return "Q4_1";
    case FLINT_TYPE_Q5_0: return "Q5_0";
    case FLINT_TYPE_Q5_1: return "Q5_1";
    case FLINT_TYPE_Q8_0: return "Q8_0";
    case FLINT_TYPE_Q4_K: return "Q4_K";
    case FLINT_TYPE_Q5_K: return "Q5_K";
    case FLINT_TYPE_Q6_K: return "Q6_K";
    default: return "?";
    }
}

static int is_float_type(int t) { return flint_type_block_elems(t) == 1; }

// A matmul problem: `rows` weight rows and `m` activation rows of k elements, rows `pad`
// bytes apart beyond their size.
typedef struct {
    int t, xt;
    int64_t k;
    int rows, m;
    size_t ws, xs;
    uint8_t *w, *x;
} problem;

enum { DATA_REAL, DATA_RAW, DATA_RAW_HOSTILE };

static void put_half(uint8_t *p, float f) {
    const uint16_t h = flint_fp32_to_fp16(f);
    memcpy(p, &h, 2);
}

// A scale for raw blocks: random sign, magnitude 2^-10 .. 2^-3 (a finite, normal F16).
static float raw_scale(void) { return ldexpf(1.0f + 0.5f * uniform(), -3 - below(8)) * (uniform() < 0 ? -1.0f : 1.0f); }

// Raw weight row: every quantized bit pattern (Q8_0 bytes include -128, K-quant scales every
// 6-bit value, Q6_K's int8 scales -128) with finite F16 scale fields; float rows from uniform().
static void raw_weight_row(int t, uint8_t *row, int64_t k) {
    const int64_t be = flint_type_block_elems(t), nb = k / be;
    const size_t bb = flint_type_block_bytes(t);
    if (t == FLINT_TYPE_F32) {
        for (int64_t i = 0; i < k; i++) { const float f = uniform() * 2; memcpy(row + 4 * i, &f, 4); }
        return;
    }
    if (t == FLINT_TYPE_F16 || t == FLINT_TYPE_BF16) {
        for (int64_t i = 0; i < k; i++) {
            const float f = uniform() * 2;
            const uint16_t h = t == FLINT_TYPE_F16 ? flint_fp32_to_fp16(f) : flint_fp32_to_bf16(f);
            memcpy(row + 2 * i, &h, 2);
        }
        return;
    }
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *blk = row + (size_t)b * bb;
        for (size_t i = 0; i < bb; i++) blk[i] = (uint8_t)next64();
        switch (t) {
        case FLINT_TYPE_Q4_1: case FLINT_TYPE_Q5_1: case FLINT_TYPE_Q4_K: case FLINT_TYPE_Q5_K:
            put_half(blk, raw_scale());
            put_half(blk + 2, raw_scale());
            break;
        case FLINT_TYPE_Q6_K: put_half(blk + 208, raw_scale()); break;
        default: put_half(blk, raw_scale()); break;  // Q4_0, Q5_0, Q8_0: d first
        }
    }
}

// Activation rows are quantized by the scalar path (the quantizers of every path write the
// same bytes; checked separately). Hostile rows also get int8 -128 here and there, which no
// quantizer writes, to pin down the x86 sign trick's wrap; Q8_K's bsums stay consistent.
static void activation_row(int xt, uint8_t *row, int64_t k, int mode) {
    if (is_float_type(xt)) {
        raw_weight_row(xt, row, k);
        return;
    }
    float *f = xalloc(sizeof(float) * (size_t)k);
    random_floats(f, k);
    use("scalar");
    flint_quantize_row(xt, f, row, k);
    use(g_path);
    free(f);
    if (mode != DATA_RAW_HOSTILE) return;
    const int64_t be = flint_type_block_elems(xt), nb = k / be;
    const size_t bb = flint_type_block_bytes(xt);
    const size_t qoff = xt == FLINT_TYPE_Q8_0 ? 2 : xt == FLINT_TYPE_Q8_1 ? 4 : 4;  // Q8_K: float d
    for (int64_t b = 0; b < nb; b++) {
        int8_t *qs = (int8_t *)(row + (size_t)b * bb + qoff);
        for (int i = 0; i < 3; i++) qs[below((int)be)] = -128;
        if (xt == FLINT_TYPE_Q8_K) {
            int16_t bs[16];
            for (int j = 0; j < 16; j++) {
                int s = 0;
                for (int l = 0; l < 16; l++) s += qs[16 * j + l];
                bs[j] = (int16_t)s;
            }
            memcpy(row + (size_t)b * bb + 4 + 256, bs, sizeof bs);
        }
    }
}

static problem make_problem(int t, int blocks, int tail, int rows, int m, int pad, int mode) {
    problem p = {0};
    p.t = t;
    p.xt = flint_vec_dot_type(t);
    int64_t be = flint_type_block_elems(t) > flint_type_block_elems(p.xt) ? flint_type_block_elems(t) : flint_type_block_elems(p.xt);
    if (is_float_type(t)) be = 8;
    p.k = be * blocks + (is_float_type(t) ? tail : 0);
    p.rows = rows;
    p.m = m;
    const size_t wrow = flint_row_bytes(t, p.k), xrow = flint_row_bytes(p.xt, p.k);
    p.ws = wrow + (size_t)pad;
    p.xs = xrow + (size_t)pad;
    p.w = xalloc(p.ws * (size_t)rows + 64);
    p.x = xalloc(p.xs * (size_t)m + 64);
    float *f = xalloc(sizeof(float) * (size_t)p.k);
    for (int r = 0; r < rows; r++) {
        if (mode == DATA_REAL) {
            random_floats(f, p.k);
            use("scalar");
            flint_quantize_row(t, f, p.w + (size_t)r * p.ws, p.k);
            use(g_path);
        } else {
            raw_weight_row(t, p.w + (size_t)r * p.ws, p.k);
        }
    }
    for (int i = 0; i < m; i++) activation_row(p.xt, p.x + (size_t)i * p.xs, p.k, mode);
    free(f);
    return p;
}

static void free_problem(problem *p) { free(p->w), free(p->x); }

static float vec_dot_pair(const problem *p, int r, int i) {
    float out = 0;
    flint_vec_dot(p->t, p->k, &out, p->w + (size_t)r * p->ws, p->x + (size_t)i * p->xs);
    return out;
}

// y (m x ldy, NaN-filled) = gemm of rows r0..r1 in `form`.
static float *run_gemm(const problem *p, int form, int r0, int r1, int m, int ldy) {
    float *y = xalloc(sizeof(float) * (size_t)(m * ldy));
    for (int i = 0; i < m * ldy; i++) y[i] = NAN;
    flint_gemm_form(p->t, form, p->k, p->w, p->ws, r0, r1, p->x, p->xs, m, y, ldy);
    return y;
}

// ---------------------------------------------------------------- cross-ISA record

static int xisa_mode;  // 0 none, 1 write, 2 compare
static uint32_t *xisa_buf;
static size_t xisa_len, xisa_cap, xisa_pos;
static long xisa_values, xisa_mismatch;

static void xisa_emit(const char *label, const void *data, size_t words) {
    const uint32_t *v = data;
    if (xisa_mode == 1) {
        if (xisa_len + words > xisa_cap) {
            xisa_cap = (xisa_len + words) * 2;
            xisa_buf = realloc(xisa_buf, xisa_cap * 4);
            if (!xisa_buf) { printf("out of memory\n"); exit(1); }
        }
        memcpy(xisa_buf + xisa_len, v, words * 4);
        xisa_len += words;
    } else if (xisa_mode == 2) {
        long bad = 0;
        size_t first = 0;
        for (size_t i = 0; i < words; i++) {
            const int ok = xisa_pos + i < xisa_len && xisa_buf[xisa_pos + i] == v[i];
            if (!ok && bad++ == 0) first = i;
        }
        check(bad == 0, "cross-ISA %s: %ld of %zu values differ from the x86 file (first at %zu: %08x vs %08x)", label, bad,
              words, first, v[first], xisa_pos + first < xisa_len ? xisa_buf[xisa_pos + first] : 0u);
        xisa_mismatch += bad;
    }
    xisa_values += (long)words;
    xisa_pos += words;
}

static void xisa_emit_floats(const char *label, const float *f, size_t n) { xisa_emit(label, f, n); }

// ---------------------------------------------------------------- matmul checks

static void check_vec_dot_close(void) {
    seed(21);
    for (int ti = 0; ti < N_WTYPES; ti++) {
        const int t = weight_types[ti];
        const int fl = is_float_type(t);
        const int sizes[] = {1, 3, 7, 33, 5, 13, 31, 100, 1000};
        for (int si = 0; si < (fl ? 9 : 4); si++) {
            problem p = fl ? make_problem(t, 0, sizes[si], 1, 1, 0, DATA_REAL) : make_problem(t, sizes[si], 0, 1, 1, 0, DATA_REAL);
            use("scalar");
            const float ref = vec_dot_pair(&p, 0, 0);
            use(g_path);
            const float got = vec_dot_pair(&p, 0, 0);
            check(close_to(got, ref), "vec_dot %s k %lld: %.9g vs scalar %.9g", type_name(t), (long long)p.k, got, ref);
            free_problem(&p);
        }
    }
}

// gemm == vec_dot bit for bit for every m and row range (and nothing written outside the rows).
static void check_gemm_vs_vec_dot(int mode) {
    const int rows = 19, mmax = 64;
    const int ms[] = {1, 2, 3, 5, 8, 17, 64};
    const int ranges[][2] = {{0, 19}, {1, 18}, {3, 11}, {5, 6}, {2, 4}, {7, 16}};
    seed(7 + (uint64_t)mode);
    for (int ti = 0; ti < N_WTYPES; ti++) {
        const int t = weight_types[ti];
        const int64_t be = flint_type_block_elems(t);
        const int blocks = be == 256 ? 3 : be == 1 ? 9 : 19;
        problem p = make_problem(t, blocks, 5, rows, mmax, t % 2 * 4, mode);
        float *ref = xalloc(sizeof(float) * rows * mmax);
        for (int i = 0; i < mmax; i++)
            for (int r = 0; r < rows; r++) ref[i * rows + r] = vec_dot_pair(&p, r, i);
        for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++)
            for (size_t ri = 0; ri < sizeof ranges / sizeof ranges[0]; ri++) {
                const int m = ms[mi], r0 = ranges[ri][0], r1 = ranges[ri][1];
                float *y = run_gemm(&p, FLINT_GEMM_ROW, r0, r1, m, rows);
                int bad = 0;
                for (int i = 0; i < m; i++)
                    for (int r = 0; r < rows; r++) {
                        const float v = y[i * rows + r];
                        if (r < r0 || r >= r1) bad += !isnan(v);
                        else bad += bits(v) != bits(ref[i * rows + r]);
                    }
                check(bad == 0, "gemm != vec_dot: %s%s m %d rows %d..%d: %d entries", type_name(t),
                      mode == DATA_REAL ? "" : " (raw data)", m, r0, r1, bad);
                free(y);
            }
        free(ref);
        free_problem(&p);
    }
}

static void check_gemm_vs_scalar(void) {
    seed(51);
    const int blocks[] = {1, 3, 7, 33};
    for (int ti = 0; ti < N_WTYPES; ti++)
        for (int bi = 0; bi < 4; bi++) {
            const int t = weight_types[ti];
            const int m = 1 + below(9), rows = 1 + below(10);
            problem p = make_problem(t, blocks[bi], 3, rows, m, 0, DATA_REAL);
            const int r0 = below(rows), r1 = r0 + 1 + below(rows - r0);
            use("scalar");
            float *ref = run_gemm(&p, FLINT_GEMM_ROW, r0, r1, m, rows);
            use(g_path);
            float *got = run_gemm(&p, FLINT_GEMM_ROW, r0, r1, m, rows);
            for (int i = 0; i < m; i++)
                for (int r = r0; r < r1; r++)
                    check(close_to(got[i * rows + r], ref[i * rows + r]), "gemm %s blocks %d m %d row %d: %.9g vs scalar %.9g",
                          type_name(t), blocks[bi], m, r, got[i * rows + r], ref[i * rows + r]);
            free(ref), free(got);
            free_problem(&p);
        }
}

// The batch forms give the scalar forms' bits for every tile shape.
static void check_gemm_forms(void) {
    const int rows = 19, mmax = 64;
    const int forms[][2] = {{FLINT_TYPE_Q4_K, FLINT_GEMM_GROUP4}, {FLINT_TYPE_Q6_K, FLINT_GEMM_TILED}};
    const int ms[] = {1, 2, 3, 4, 8, 9, 17, 64};
    const int ranges[][2] = {{0, 19}, {1, 18}, {5, 6}, {7, 16}};
    for (int fi = 0; fi < 2; fi++) {
        seed(5);
        problem p = make_problem(forms[fi][0], 6, 0, rows, mmax, 4, DATA_REAL);
        use("scalar");
        float *ref = run_gemm(&p, forms[fi][1], 0, rows, mmax, rows);
        use(g_path);
        for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++)
            for (size_t ri = 0; ri < sizeof ranges / sizeof ranges[0]; ri++) {
                const int m = ms[mi], r0 = ranges[ri][0], r1 = ranges[ri][1];
                float *y = run_gemm(&p, forms[fi][1], r0, r1, m, rows);
                int bad = 0;
                for (int i = 0; i < m; i++)
                    for (int r = 0; r < rows; r++) {
                        const float v = y[i * rows + r];
                        if (r < r0 || r >= r1) bad += !isnan(v);
                        else bad += bits(v) != bits(ref[i * rows + r]);
                    }
                check(bad == 0, "gemm form %d of %s != scalar form: m %d rows %d..%d: %d entries", forms[fi][1],
                      type_name(forms[fi][0]), m, r0, r1, bad);
                free(y);
            }
        free(ref);
        free_problem(&p);
    }
}

// ---------------------------------------------------------------- other kernels

// The Swift test's data: ties, zero blocks, huge values, the largest magnitude twice with
// opposite signs.
static void quantizer_input(float *x, int64_t n, int64_t be, int blocks) {
    for (int64_t i = 0; i < n; i++) x[i] = (uniform() + 1.0f) * 0.5f * 40.0f - 20.0f;
    for (int64_t i = 0; i < n; i += 7) x[i] = (float)(i % 5) - 2.5f;
    if (blocks > 1)
        for (int64_t i = be; i < 2 * be; i++) x[i] = 0;
    x[n - 1] = 3e4f;
    x[5] = -25;
    x[9] = 25;
}

static void check_quantizers(int cross) {
    const int types[] = {FLINT_TYPE_Q8_0, FLINT_TYPE_Q8_1, FLINT_TYPE_Q8_K};
    const int nblocks[] = {1, 3, 28, 152};
    seed(5);
    for (int ti = 0; ti < 3; ti++)
        for (int bi = 0; bi < 4; bi++) {
            const int t = types[ti];
            const int64_t be = flint_type_block_elems(t), n = be * nblocks[bi];
            float *x = xalloc(sizeof(float) * (size_t)n);
            quantizer_input(x, n, be, nblocks[bi]);
            const size_t bytes = flint_row_bytes(t, n);
            uint8_t *a = xalloc(bytes + 4), *b = xalloc(bytes + 4);
            use("scalar");
            flint_quantize_row(t, x, a, n);
            use(g_path);
            flint_quantize_row(t, x, b, n);
            if (cross) xisa_emit("quantizer bytes", b, (bytes + 3) / 4);
            else check(memcmp(a, b, bytes) == 0, "quantizer type %d, %d blocks: bytes differ from scalar", t, nblocks[bi]);
            free(a), free(b), free(x);
        }
}

typedef struct {
    int head_dim, heads, kv_heads;
} attn_shape;

static void check_attention(int cross) {
    const attn_shape shapes[] = {{64, 9, 3}, {128, 8, 2}, {256, 4, 1}, {40, 2, 2}, {64, 14, 2}, {80, 2, 1}};
    const int windows[] = {0, 7, 100};
    const int32_t positions[] = {0, 1, 5, 8, 13, 29, 63, 64, 65, 100, 127, 128, 200, 255, 256, 300};
    const int npos = (int)(sizeof positions / sizeof positions[0]);
    const int32_t maxpos = 300, block_size = 16, blocks = 20;  // 320 slots
    seed(11);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int wi = 0; wi < 3; wi++)
            for (int prompt = 0; prompt < 2; prompt++)
              for (int32_t kt = FLINT_KV_F16; kt <= FLINT_KV_Q8_0; kt++) {
                if (cross && (wi != 1 || si >= 3 || kt != FLINT_KV_F16)) continue;  // a subset is enough across ISAs
                const int hd = shapes[si].head_dim, heads = shapes[si].heads, kvh = shapes[si].kv_heads;
                if (kt == FLINT_KV_Q8_0 && hd % 32) continue;
                const int64_t slots = (int64_t)block_size * blocks, cache = slots * kvh * hd;
                uint16_t *k = xalloc(sizeof(uint16_t) * (size_t)cache), *v = xalloc(sizeof(uint16_t) * (size_t)cache);
                for (int64_t i = 0; i < cache; i++) k[i] = flint_fp32_to_fp16(uniform() * 2);
                for (int64_t i = 0; i < cache; i++) v[i] = flint_fp32_to_fp16(uniform());
                int32_t table[20];
                for (int i = 0; i < blocks; i++) table[i] = i;
                for (int i = blocks - 1; i > 0; i--) {
                    const int j = below(i + 1), tmp = table[i];
                    table[i] = table[j], table[j] = tmp;
                }
                // Slots past the last position hold NaN: a kernel must not read them.
                for (int64_t j = maxpos + 1; j < slots; j++) {
                    const int64_t b = table[j / block_size], i = j % block_size;
                    for (int h = 0; h < kvh; h++) {
                        const int64_t row = (b * kvh + h) * block_size + i;
                        for (int e = 0; e < hd; e++) k[row * hd + e] = v[row * hd + e] = 0x7E00;
                    }
                }
                if (kt == FLINT_KV_Q8_0) {  // the same keys and values quantized by flint_kv_store (scalar)
                    const int64_t row = flint_kv_row_elems(kt, hd), n = slots * kvh * row;
                    uint16_t *k8 = xalloc(sizeof(uint16_t) * (size_t)n), *v8 = xalloc(sizeof(uint16_t) * (size_t)n);
                    for (int64_t i = 0; i < n; i++) k8[i] = v8[i] = 0x7E00;  // NaN scales where nothing is stored
                    float *kr = xalloc(sizeof(float) * (size_t)(kvh * hd)), *vr = xalloc(sizeof(float) * (size_t)(kvh * hd));
                    use("scalar");
                    for (int64_t j = 0; j <= maxpos; j++) {
                        const int64_t b = table[j / block_size], i = j % block_size, slot = b * block_size + i;
                        for (int h = 0; h < kvh; h++)
                            for (int e = 0; e < hd; e++) {
                                const int64_t at = ((b * kvh + h) * block_size + i) * hd + e;
                                kr[h * hd + e] = flint_fp16_to_fp32(k[at]), vr[h * hd + e] = flint_fp16_to_fp32(v[at]);
                            }
                        flint_kv_store(k8, kt, slot, kr, kvh, hd, block_size);
                        flint_kv_store(v8, kt, slot, vr, kvh, hd, block_size);
                    }
                    free(k), free(v), free(kr), free(vr);
                    k = k8, v = v8;
                }
                const int64_t qstride = (int64_t)heads * hd, total = npos * qstride;
                float *q = xalloc(sizeof(float) * (size_t)total);
                for (int64_t i = 0; i < total; i++) q[i] = uniform() * 3;
                float *out[2];
                const size_t scratch_n = (size_t)flint_attention_scratch_floats(kt, npos, maxpos, hd, heads);
                float *scratch = xalloc(sizeof(float) * scratch_n);
                for (int pi = 0; pi < 2; pi++) {
                    use(pi == 0 ? "scalar" : g_path);
                    out[pi] = xalloc(sizeof(float) * (size_t)total);
                    for (int64_t i = 0; i < total; i++) out[pi][i] = NAN;
                    flint_attention_paged(q, qstride, positions, 0, npos, prompt, k, v, kt, table, block_size, heads, kvh, hd,
                                          1.0f / sqrtf((float)hd), windows[wi], 0, heads, out[pi], qstride, scratch);
                }
                if (cross) {
                    xisa_emit_floats("attention", out[1], (size_t)total);
                } else {
                    int bad = 0, nans = 0;
                    for (int64_t i = 0; i < total; i++) {
                        bad += bits(out[0][i]) != bits(out[1][i]);
                        nans += isnan(out[0][i]);
                    }
                    check(nans == 0, "attention scalar reference: %d NaN outputs (head dim %d)", nans, hd);
                    check(bad == 0, "attention head dim %d heads %d/%d window %d prompt %d kv type %d: %d values differ from scalar",
                          hd, heads, kvh, windows[wi], prompt, kt, bad);
                }
                free(out[0]), free(out[1]), free(scratch), free(q), free(k), free(v);
            }
}

static void check_store_f16(int cross) {
    float x[19 + 333 + 333] = {0, -0.0f, 1, -1, 65504, 65520, 65519.99f, 1e9f, -1e9f, INFINITY, -INFINITY, NAN,
                               5.9604645e-8f, 2.9802322e-8f, 1e-7f, 6.1035156e-5f, 6.1e-5f, 1.00048828125f, 1.000732421875f};
    const int n = (int)(sizeof x / sizeof x[0]);
    seed(5);
    for (int i = 19; i < 19 + 333; i++) {
        x[i] = from_bits((uint32_t)next64());
        if (isnan(x[i])) x[i] = 1.5f;  // NaN payloads may differ between paths; NaN itself is above
    }
    for (int i = 19 + 333; i < n; i++) x[i] = uniform() * 10;
    uint16_t a[sizeof x / sizeof x[0]], b[sizeof x / sizeof x[0]];
    use("scalar");
    flint_store_f16(a, x, n);
    use(g_path);
    flint_store_f16(b, x, n);
    if (cross) {
        uint32_t w[(sizeof b / 2 + 1) / 2];
        memset(w, 0, sizeof w);
        memcpy(w, b, sizeof b);
        xisa_emit("store f16", w, sizeof w / 4);
        return;
    }
    int bad = 0;
    for (int i = 0; i < n; i++)
        if (a[i] != b[i] && !(isnan(x[i]) && (a[i] & 0x7c00) == 0x7c00 && (b[i] & 0x7c00) == 0x7c00 && (a[i] & 0x3ff) && (b[i] & 0x3ff)))
            bad++;
    check(bad == 0, "store f16: %d values differ from scalar", bad);
}

static void check_swiglu(int cross) {
    const int shapes[][2] = {{1, 1536}, {3, 37}, {2, 16}, {4, 5}, {1, 1}, {2, 48}};
    seed(3);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int rows = shapes[si][0], len = shapes[si][1], n = rows * len;
        if (cross && len % 16) continue;  // the tails use libm's expf, which may differ across libcs
        float *g = xalloc(sizeof(float) * n), *u = xalloc(sizeof(float) * n), *a = xalloc(sizeof(float) * n),
              *b = xalloc(sizeof(float) * n);
        for (int i = 0; i < n; i++) g[i] = uniform() * 12, u[i] = uniform();
        // Infinite gates make x / (1 + exp(-x)) an invalid operation whose default NaN has the
        // sign bit set on x86 and clear on AArch64: not across ISAs.
        const float special[] = {-100, 95, 0, -0.0f, 88.7f, -88.7f, 120, -120, NAN, 1e-30f, INFINITY, -INFINITY};
        for (int i = 0; i < n && i < (cross ? 10 : 12); i++) g[i * 7 % n] = special[i];
        use("scalar");
        flint_swiglu(g, u, a, rows, len);
        use(g_path);
        flint_swiglu(g, u, b, rows, len);
        if (cross) {
            xisa_emit_floats("swiglu", b, (size_t)n);
        } else {
            int bad = 0;
            for (int i = 0; i < n; i++) bad += bits(a[i]) != bits(b[i]);
            check(bad == 0, "swiglu rows %d length %d: %d values differ from scalar", rows, len, bad);
        }
        free(g), free(u), free(a), free(b);
    }
}

static void check_geglu(int cross) {
    uint16_t *table = xalloc(sizeof(uint16_t) * 65536);
    seed(4);
    for (int i = 0; i < 65536; i++) table[i] = flint_fp32_to_fp16(uniform() * 4);
    const int ns[] = {1, 15, 16, 37, 2048};
    for (int ni = 0; ni < 5; ni++) {
        const int n = ns[ni];
        float *g = xalloc(sizeof(float) * n), *u = xalloc(sizeof(float) * n), *a = xalloc(sizeof(float) * n),
              *b = xalloc(sizeof(float) * n);
        for (int i = 0; i < n; i++) g[i] = uniform() * 14, u[i] = uniform();
        g[0] = -10;
        if (n > 4) g[1] = 10, g[2] = 9.999f, g[3] = -9.999f, g[4] = 70000.0f;
        use("scalar");
        flint_geglu(g, u, a, n, table);
        use(g_path);
        flint_geglu(g, u, b, n, table);
        if (cross) {
            xisa_emit_floats("geglu", b, (size_t)n);
        } else {
            int bad = 0;
            for (int i = 0; i < n; i++) bad += bits(a[i]) != bits(b[i]);
            check(bad == 0, "geglu n %d: %d values differ from scalar", n, bad);
        }
        free(g), free(u), free(a), free(b);
    }
    free(table);
}

static void check_argmax(void) {
    const int ns[] = {1, 2, 15, 16, 17, 31, 32, 33, 47, 100, 1000, 49152, 49155};
    seed(3);
    for (int ni = 0; ni < 13; ni++) {
        const int n = ns[ni];
        float *base = xalloc(sizeof(float) * n), *c = xalloc(sizeof(float) * n);
        for (int i = 0; i < n; i++) base[i] = uniform();
        for (int kind = 0; kind < 16; kind++) {
            memcpy(c, base, sizeof(float) * n);
            const int pos = (kind / 5 == 0) ? 0 : (kind / 5 == 1) ? n / 2 : n - 1;
            switch (kind % 5) {
            case 0: c[pos] = 5; break;                                                       // unique maximum
            case 1: c[pos] = 5, c[(pos + n / 3) % n] = 5; break;                             // tie: first wins
            case 2: c[pos] = NAN; break;                                                     // NaN ignored
            case 3: c[pos] = INFINITY; break;
            case 4: c[pos] = -0.0f, c[(pos + 1) % n] = 0.0f; for (int i = 0; i < n; i++) if (c[i] > 0) c[i] = -c[i]; break;
            }
            if (kind == 15) {
                for (int i = 0; i < n; i++) c[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? -INFINITY : from_bits(0x7f800001u);  // sNaN
            }
            use("scalar");
            const int64_t ref = flint_argmax(c, n);
            use(g_path);
            const int64_t got = flint_argmax(c, n);
            check(got == ref, "argmax n %d case %d: %lld vs scalar %lld", n, kind, (long long)got, (long long)ref);
        }
        for (int fill = 0; fill < 2; fill++) {
            for (int i = 0; i < n; i++) c[i] = fill ? NAN : -INFINITY;
            use(g_path);
            check(flint_argmax(c, n) == 0, "argmax n %d all %s: not 0", n, fill ? "NaN" : "-inf");
        }
        free(base), free(c);
    }
}

static void check_lora(int cross) {
    const int ranks[] = {1, 4, 16}, ns[] = {32, 96, 4096};
    seed(8);
    for (int ri = 0; ri < 3; ri++)
        for (int ni = 0; ni < 3; ni++) {
            const int rank = ranks[ri], n = ns[ni];
            const size_t stride = flint_row_bytes(FLINT_TYPE_Q8_0, n) + 6;
            uint8_t *bt = xalloc(stride * rank);
            for (int j = 0; j < rank; j++) raw_weight_row(FLINT_TYPE_Q8_0, bt + stride * j, n);
            float *u = xalloc(sizeof(float) * rank), *y0 = xalloc(sizeof(float) * n), *a = xalloc(sizeof(float) * n),
                  *b = xalloc(sizeof(float) * n);
            for (int j = 0; j < rank; j++) u[j] = uniform() * 4;
            for (int i = 0; i < n; i++) y0[i] = uniform();
            memcpy(a, y0, sizeof(float) * n), memcpy(b, y0, sizeof(float) * n);
            use("scalar");
            flint_lora_expand_q8_0(bt, stride, rank, n, u, a);
            use(g_path);
            flint_lora_expand_q8_0(bt, stride, rank, n, u, b);
            if (cross) {
                xisa_emit_floats("lora expand", b, (size_t)n);
            } else {
                int bad = 0;
                for (int i = 0; i < n; i++) bad += bits(a[i]) != bits(b[i]);
                check(bad == 0, "lora expand rank %d n %d: %d values differ from scalar", rank, n, bad);
            }
            free(bt), free(u), free(y0), free(a), free(b);
        }
}

static void check_rope(int cross) {
    seed(9);
    for (int neox = 0; neox < 2; neox++)
        for (int dims = 32; dims <= 64; dims += 32) {
            const int heads = 3, hd = 64, n = heads * hd;
            float x0[3 * 64], a[3 * 64], b[3 * 64], table[64];
            for (int i = 0; i < n; i++) x0[i] = uniform() * 3;
            for (int i = 0; i < dims; i++) table[i] = uniform();
            memcpy(a, x0, sizeof a), memcpy(b, x0, sizeof b);
            use("scalar");
            flint_rope(a, heads, hd, dims, neox, table);
            use(g_path);
            flint_rope(b, heads, hd, dims, neox, table);
            if (cross) {
                xisa_emit_floats("rope", b, (size_t)n);
            } else {
                int bad = 0;
                for (int i = 0; i < n; i++) bad += bits(a[i]) != bits(b[i]);
                check(bad == 0, "rope neox %d dims %d: %d values differ from scalar", neox, dims, bad);
            }
        }
}

// ---------------------------------------------------------------- cross-ISA matmuls

// Every type and form on raw and hostile data: vec_dot of all pairs, gemm for several m.
static void cross_matmuls(void) {
    const int ms[] = {1, 5, 17};
    for (int mode = DATA_RAW; mode <= DATA_RAW_HOSTILE; mode++) {
        seed(100 + (uint64_t)mode);
        for (int ti = 0; ti < N_WTYPES + 2; ti++) {
            const int t = ti < N_WTYPES ? weight_types[ti] : ti == N_WTYPES ? FLINT_TYPE_Q4_K : FLINT_TYPE_Q6_K;
            const int form = ti < N_WTYPES ? FLINT_GEMM_ROW : ti == N_WTYPES ? FLINT_GEMM_GROUP4 : FLINT_GEMM_TILED;
            const int64_t be = flint_type_block_elems(t);
            const int rows = 9, mmax = 17;
            problem p = make_problem(t, be == 256 ? 4 : be == 1 ? 40 : 24, 7, rows, mmax, 4, mode);
            char label[64];
            snprintf(label, sizeof label, "%s form %d%s", type_name(t), form, mode == DATA_RAW ? "" : " hostile");
            if (form == FLINT_GEMM_ROW) {
                float vd[9 * 17];
                for (int i = 0; i < mmax; i++)
                    for (int r = 0; r < rows; r++) vd[i * rows + r] = vec_dot_pair(&p, r, i);
                xisa_emit_floats(label, vd, (size_t)(rows * mmax));
            }
            for (int mi = 0; mi < 3; mi++) {
                float *y = run_gemm(&p, form, 0, rows, ms[mi], rows);
                xisa_emit_floats(label, y, (size_t)(rows * ms[mi]));
                free(y);
            }
            free_problem(&p);
        }
    }
}

// Weight quantization and dequantization (the reference code of every path, which a model's
// embedding lookups and LoRA merges run): the same bytes and floats on every machine.
static void cross_weight_codecs(void) {
    seed(77);
    for (int ti = 0; ti < N_WTYPES; ti++) {
        const int t = weight_types[ti];
        const int64_t n = 4 * 256;
        float *x = xalloc(sizeof(float) * n), *y = xalloc(sizeof(float) * n);
        random_floats(x, n);
        const size_t bytes = flint_row_bytes(t, n);
        uint8_t *q = xalloc(bytes + 4);
        flint_quantize_row(t, x, q, n);
        flint_dequantize_row(t, q, y, n);
        xisa_emit("weight quantizer bytes", q, (bytes + 3) / 4);
        xisa_emit_floats("dequantized weights", y, (size_t)n);
        free(x), free(y), free(q);
    }
}

// ---------------------------------------------------------------- main

static int run_path(const char *path, const char *xmode, const char *file) {
    if (!flint_kernels_isa_available(path)) {
        printf("kernel_check: path %s is not available on this CPU\n", path);
        return 1;
    }
    g_path = path;
    use(path);
    if (xmode && strcmp(xmode, "compare") == 0) {
        FILE *f = fopen(file, "rb");
        if (!f) { printf("kernel_check: cannot read %s\n", file); return 1; }
        fseek(f, 0, SEEK_END);
        const long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        xisa_len = (size_t)size / 4;
        xisa_buf = xalloc((size_t)size + 4);
        if (fread(xisa_buf, 1, (size_t)size, f) != (size_t)size) { printf("kernel_check: short read\n"); return 1; }
        fclose(f);
        xisa_mode = 2;
    } else if (xmode && strcmp(xmode, "write") == 0) {
        xisa_mode = 1;
    }

    long before = n_checks;
    check_vec_dot_close();
    check_gemm_vs_vec_dot(DATA_REAL);
    check_gemm_vs_vec_dot(DATA_RAW_HOSTILE);
    check_gemm_vs_scalar();
    check_gemm_forms();
    printf("kernel_check: [%s] matmuls: %ld checks\n", path, n_checks - before);
    before = n_checks;
    check_quantizers(0);
    check_attention(0);
    check_store_f16(0);
    check_swiglu(0);
    check_geglu(0);
    check_argmax();
    check_lora(0);
    check_rope(0);
    printf("kernel_check: [%s] quantizers, attention, f16 store, swiglu, geglu, argmax, lora, rope: %ld checks\n", path,
           n_checks - before);

    if (xisa_mode) {
        before = n_checks;
        xisa_pos = 0;
        cross_matmuls();
        cross_weight_codecs();
        check_quantizers(1);
        check_attention(1);
        check_store_f16(1);
        check_swiglu(1);
        check_geglu(1);
        check_lora(1);
        check_rope(1);
        if (xisa_mode == 1) {
            FILE *f = fopen(file, "wb");
            if (!f || fwrite(xisa_buf, 4, xisa_len, f) != xisa_len) { printf("kernel_check: cannot write %s\n", file); return 1; }
            fclose(f);
            printf("kernel_check: [%s] wrote %ld cross-ISA values to %s\n", path, xisa_values, file);
        } else {
            check(xisa_pos == xisa_len, "cross-ISA: %zu values computed, the x86 file has %zu", xisa_pos, xisa_len);
            printf("kernel_check: [%s] cross-ISA: %ld values compared with the x86 file, %ld differ (%ld checks)\n", path,
                   xisa_values, xisa_mismatch, n_checks - before);
        }
    }
    printf("kernel_check: [%s] %ld checks, %ld failed\n", path, n_checks, n_failed);
    return n_failed ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "expect") == 0) {
        const char *got = flint_kernels_isa();
        int ok = strcmp(got, argv[2]) == 0;
        if (strcmp(argv[2], "scalar") == 0) ok = ok && !flint_kernels_isa_available("neon") && !flint_kernels_isa_available("avx2");
        printf("kernel_check: dispatch selected \"%s\" (expected \"%s\"; neon %savailable): %s\n", got, argv[2],
               flint_kernels_isa_available("neon") ? "" : "not ", ok ? "ok" : "FAIL");
        return ok ? 0 : 1;
    }
    if (argc >= 3 && strcmp(argv[1], "run") == 0)
        return run_path(argv[2], argc >= 5 ? argv[3] : NULL, argc >= 5 ? argv[4] : NULL);
    fprintf(stderr, "usage: kernel_check run PATH [write FILE | compare FILE]\n       kernel_check expect NAME\n");
    return 2;
}
