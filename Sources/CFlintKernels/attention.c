#include "flint_attention.h"
#include "blocks.h"
#include "ggml_exp.h"
#include <math.h>
#include <string.h>

// Products and sums below are each rounded on their own, fused only where written fmaf():
// the arithmetic is specified operation by operation.
#pragma STDC FP_CONTRACT OFF

static void store_f16_scalar(uint16_t *dst, const float *src, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = fl_f2h(src[i]);
}
typedef void (*store_fn)(uint16_t *dst, const float *src, int64_t n);

// Cache layout (flint_attention.h): head h of slot s = (block b, index i) is the row
// (b * n_kv_head + h) * block_size + i of head_dim halves. fill_slots stores, for every key
// position first..last, its row for head 0 (block-table lookups done once per query row);
// head h adds h * block_size rows (key_ptr's head_offset).
static void fill_slots(int32_t *slots, const int32_t *block_table, int32_t block_size, int32_t n_kv_head, int32_t first,
                       int32_t last) {
    for (int32_t j = first; j <= last;) {
        const int32_t b = j / block_size, base = block_table[b] * block_size * n_kv_head;
        const int32_t end = (b + 1) * block_size - 1 < last ? (b + 1) * block_size - 1 : last;
        for (; j <= end; j++) slots[j] = base + j % block_size;
    }
}

// slot_elems: halves per row (head_dim); head_offset: the KV head's first row, in halves.
static inline const uint16_t *key_ptr(const uint16_t *cache, const int32_t *slots, int32_t j, int64_t slot_elems,
                                      int64_t head_offset) {
    return cache + (int64_t)slots[j] * slot_elems + head_offset;
}

// ---- The arithmetic: that of llama.cpp's CPU attention (the non-flash path, F16 cache), so
// that Flint's logits follow llama.cpp's. llama.cpp computes KQ = K·Q and KQV = V^T·softmax(KQ)
// as two F16 matrix products (Q and the probabilities rounded to F16 first), and picks the
// kernel by the number of query rows of the sequence in the forward pass:
//  - one row (decoding): ggml_vec_dot_f16 — 16-lane accumulators, four of them, each lane
//    an fma chain over every 64th element; the four summed (0+2, 1+3, then together), the
//    16 lanes summed by the reduction tree R16; elements past the last multiple of 64 added
//    one by one in double;
//  - several rows (a prompt): the tinyBLAS F16 GEMM — one 16-lane accumulator, lane l an fma
//    chain over elements l, l+16, …, then R16 (used where the length is a multiple of 16,
//    otherwise llama.cpp falls back to the one-row kernel).
// The softmax between them is ggml's: scores scaled, exp by ggml_v_expf 16 keys at a time
// (keys counted from position 0; masked keys give 0), each group's R16 sum added in double.
// The KV length llama.cpp's dot products run over is the cache's used length padded to
// GGML_KV_PAD; masked keys add exact zeros, so only the decoding KQV's split point depends on it.
#define GGML_KV_PAD 256

// _mm512_reduce_add_ps's order: halves, quarters, then (x0 + x2) + (x1 + x3).
static inline float r16(const float *x) {
    float t[8], u[4];
    for (int i = 0; i < 8; i++) t[i] = x[i] + x[i + 8];
    for (int i = 0; i < 4; i++) u[i] = t[i] + t[i + 4];
    return (u[0] + u[2]) + (u[1] + u[3]);
}

// ---- scalar reference

static float dot_one_row_scalar(const float *q, const uint16_t *k, int32_t n) {
    float s[4][16] = {{0}};
    const int32_t np = n & ~63;
    for (int32_t i = 0; i < np; i += 64)
        for (int a = 0; a < 4; a++)
            for (int l = 0; l < 16; l++) s[a][l] = fmaf(fl_h2f(k[i + 16 * a + l]), q[i + 16 * a + l], s[a][l]);
    float t[16];
    for (int l = 0; l < 16; l++) t[l] = (s[0][l] + s[2][l]) + (s[1][l] + s[3][l]);
    double sum = r16(t);
    for (int32_t i = np; i < n; i++) sum += (double)(fl_h2f(k[i]) * q[i]);
    return (float)sum;
}

static float dot_prompt_scalar(const float *q, const uint16_t *k, int32_t n) {
    if (n & 15) return dot_one_row_scalar(q, k, n);
    float s[16] = {0};
    for (int32_t i = 0; i < n; i += 16)
        for (int l = 0; l < 16; l++) s[l] = fmaf(fl_h2f(k[i + l]), q[i + l], s[l]);
    return r16(s);
}

static void scores_scalar(const float *q, const uint16_t *k_cache, const int32_t *slots, int64_t slot_elems,
                          int64_t head_offset, int32_t first, int32_t last, int32_t head_dim, float scale, int prompt,
                          float *scratch) {
    for (int32_t j = first; j <= last; j++) {
        const uint16_t *kj = key_ptr(k_cache, slots, j, slot_elems, head_offset);
        scratch[j] = (prompt ? dot_prompt_scalar(q, kj, head_dim) : dot_one_row_scalar(q, kj, head_dim)) * scale;
    }
}

// Scores first..last (already scaled) -> exp(score - max) in place; returns ggml's sum.
static double softmax_scalar(float *x, int32_t first, int32_t last) {
    float maxs = -INFINITY;
    for (int32_t j = first; j <= last; j++) maxs = x[j] > maxs ? x[j] : maxs;
    double sum = 0.0;
    for (int32_t g = first & ~15; g <= last; g += 16) {
        float e[16];
        for (int l = 0; l < 16; l++) {
            const int32_t j = g + l;
            e[l] = (j >= first && j <= last) ? ggml_expf(x[j] - maxs) : 0.0f;
            if (j >= first && j <= last) x[j] = e[l];
        }
        sum += (double)r16(e);
    }
    return sum;
}

// KQV: acc holds `lanes` accumulators of head_dim floats; key j goes to accumulator j % lanes.
static void kqv_accumulate_scalar(float *acc, int32_t lanes, const float *w, const uint16_t *v_cache,
                                  const int32_t *slots, int64_t slot_elems, int64_t head_offset, int32_t first,
                                  int32_t last, int32_t head_dim) {
    for (int32_t j = first; j <= last; j++) {
        const uint16_t *vj = key_ptr(v_cache, slots, j, slot_elems, head_offset);
        float *a = acc + (int64_t)(j % lanes) * head_dim;
        for (int32_t d = 0; d < head_dim; d++) a[d] = fmaf(fl_h2f(vj[d]), w[j], a[d]);
    }
}

typedef void (*scores_fn)(const float *q, const uint16_t *k_cache, const int32_t *slots, int64_t slot_elems,
                          int64_t head_offset, int32_t first, int32_t last, int32_t head_dim, float scale, int prompt,
                          float *scratch);
typedef double (*softmax_fn)(float *x, int32_t first, int32_t last);
typedef void (*kqv_fn)(float *acc, int32_t lanes, const float *w, const uint16_t *v_cache, const int32_t *slots,
                       int64_t slot_elems, int64_t head_offset, int32_t first, int32_t last, int32_t head_dim);
// The prompt form of KQV (16 lanes) with the finish: writes the head's output; 0 = not handled.
typedef int (*kqv_prompt_fn)(float *out, const float *w, const uint16_t *v_cache, const int32_t *slots,
                             int64_t slot_elems, int64_t head_offset, int32_t first, int32_t last, int32_t head_dim);
typedef void (*finish_fn)(float *acc, int32_t lanes, int32_t head_dim, float *out);
typedef void (*round_fn)(float *dst, const float *src, float scale, int32_t n);

// dst[i] = src[i] * scale rounded to F16 and back (llama.cpp's F16 operands).
static void round_f16_scalar(float *dst, const float *src, float scale, int32_t n) {
    for (int32_t i = 0; i < n; i++) dst[i] = fl_h2f(fl_f2h(src[i] * scale));
}

// The R16 reduction of `lanes` accumulators (16 or 64, see above), element-wise over head_dim.
static void kqv_finish_scalar(float *acc, int32_t lanes, int32_t head_dim, float *out) {
    if (lanes == 64)  // the one-row kernel's four 16-lane vectors: 0 + 2, 1 + 3, then together
        for (int32_t l = 0; l < 16; l++)
            for (int32_t d = 0; d < head_dim; d++) {
                float *a = acc + (int64_t)l * head_dim;
                const float *b = a + 16 * head_dim, *c = a + 32 * head_dim, *e = a + 48 * head_dim;
                a[d] = (a[d] + c[d]) + (b[d] + e[d]);
            }
    for (int32_t l = 0; l < 8; l++)
        for (int32_t d = 0; d < head_dim; d++) acc[l * head_dim + d] = acc[l * head_dim + d] + acc[(l + 8) * head_dim + d];
    for (int32_t l = 0; l < 4; l++)
        for (int32_t d = 0; d < head_dim; d++) acc[l * head_dim + d] = acc[l * head_dim + d] + acc[(l + 4) * head_dim + d];
    for (int32_t d = 0; d < head_dim; d++)
        out[d] = (acc[d] + acc[2 * head_dim + d]) + (acc[head_dim + d] + acc[3 * head_dim + d]);
}

#if defined(__x86_64__)
#include <immintrin.h>
#define FL_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512dq,avx512vl")))

FL_AVX512 static inline float r16_zmm(__m512 x) {
    const __m256 t = _mm256_add_ps(_mm512_castps512_ps256(x), _mm512_extractf32x8_ps(x, 1));
    const __m128 u = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
    const __m128 v = _mm_add_ps(u, _mm_movehl_ps(u, u));  // u0 + u2, u1 + u3
    return _mm_cvtss_f32(_mm_add_ss(v, _mm_movehdup_ps(v)));
}

FL_AVX512 static inline __m512 ld16(const uint16_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }

FL_AVX512 static float dot_one_row_avx512(const float *q, const uint16_t *k, int32_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    const int32_t np = n & ~63;
    for (int32_t i = 0; i < np; i += 64) {
        s0 = _mm512_fmadd_ps(ld16(k + i), _mm512_loadu_ps(q + i), s0);
        s1 = _mm512_fmadd_ps(ld16(k + i + 16), _mm512_loadu_ps(q + i + 16), s1);
        s2 = _mm512_fmadd_ps(ld16(k + i + 32), _mm512_loadu_ps(q + i + 32), s2);
        s3 = _mm512_fmadd_ps(ld16(k + i + 48), _mm512_loadu_ps(q + i + 48), s3);
    }
    double sum = r16_zmm(_mm512_add_ps(_mm512_add_ps(s0, s2), _mm512_add_ps(s1, s3)));
    for (int32_t i = np; i < n; i++) sum += (double)(_cvtsh_ss(k[i]) * q[i]);
    return (float)sum;
}

FL_AVX512 static float dot_prompt_avx512(const float *q, const uint16_t *k, int32_t n) {
    if (n & 15) return dot_one_row_avx512(q, k, n);
    __m512 s = _mm512_setzero_ps();
    for (int32_t i = 0; i < n; i += 16) s = _mm512_fmadd_ps(ld16(k + i), _mm512_loadu_ps(q + i), s);
    return r16_zmm(s);
}

// The 16 lanes the dot product of key k ends with (before R16): the prompt kernel's one
// accumulator, or the one-row kernel's four combined as (0 + 2) + (1 + 3).
FL_AVX512 static inline __m512 dot_lanes(const float *q, const uint16_t *k, int32_t n, int prompt) {
    if (prompt) {
        __m512 s = _mm512_setzero_ps();
        for (int32_t i = 0; i < n; i += 16) s = _mm512_fmadd_ps(ld16(k + i), _mm512_loadu_ps(q + i), s);
        return s;
    }
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (int32_t i = 0; i < n; i += 64) {
        s0 = _mm512_fmadd_ps(ld16(k + i), _mm512_loadu_ps(q + i), s0);
        s1 = _mm512_fmadd_ps(ld16(k + i + 16), _mm512_loadu_ps(q + i + 16), s1);
        s2 = _mm512_fmadd_ps(ld16(k + i + 32), _mm512_loadu_ps(q + i + 32), s2);
        s3 = _mm512_fmadd_ps(ld16(k + i + 48), _mm512_loadu_ps(q + i + 48), s3);
    }
    return _mm512_add_ps(_mm512_add_ps(s0, s2), _mm512_add_ps(s1, s3));
}

// R16 of 16 vectors at once: element k of the result is r16_zmm(x[k]), with the same
// additions (halves, quarters, then (u0 + u2) + (u1 + u3); fp addition is commutative).
FL_AVX512 static inline __m512 r16_x16(const __m512 x[16]) {
    __m512 y[8], z[4], w[4];
    for (int m = 0; m < 8; m++)  // lanes 0-7: halves of x[2m], 8-15: of x[2m+1]
        y[m] = _mm512_add_ps(_mm512_shuffle_f32x4(x[2 * m], x[2 * m + 1], 0x44), _mm512_shuffle_f32x4(x[2 * m], x[2 * m + 1], 0xEE));
    for (int p = 0; p < 4; p++)  // 128-bit lane c: quarters of x[4p + c]
        z[p] = _mm512_add_ps(_mm512_shuffle_f32x4(y[2 * p], y[2 * p + 1], 0x88), _mm512_shuffle_f32x4(y[2 * p], y[2 * p + 1], 0xDD));
    for (int p = 0; p < 4; p++) {  // element 4c: (u0 + u2) + (u1 + u3) of x[4p + c]
        const __m512 v = _mm512_add_ps(z[p], _mm512_permute_ps(z[p], 0x4E));
        w[p] = _mm512_add_ps(v, _mm512_permute_ps(v, 0xB1));
    }
    const __m512i pick = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
    const __m512 w01 = _mm512_permutex2var_ps(w[0], pick, w[1]), w23 = _mm512_permutex2var_ps(w[2], pick, w[3]);
    return _mm512_shuffle_f32x4(w01, w23, 0x44);
}

// Scores 16 keys at a time with one transposed R16 (same bits as the per-key kernels, whose
// double sum of a lone R16 value is exact); head sizes with a remainder take the per-key path.
FL_AVX512 static void scores_avx512(const float *q, const uint16_t *k_cache, const int32_t *slots, int64_t slot_elems,
                                    int64_t head_offset, int32_t first, int32_t last, int32_t head_dim, float scale,
                                    int prompt, float *scratch) {
    if (head_dim & (prompt ? 15 : 63)) {
        for (int32_t j = first; j <= last; j++) {
            const uint16_t *kj = key_ptr(k_cache, slots, j, slot_elems, head_offset);
            scratch[j] = (prompt ? dot_prompt_avx512(q, kj, head_dim) : dot_one_row_avx512(q, kj, head_dim)) * scale;
        }
        return;
    }
    const __m512 sv = _mm512_set1_ps(scale);
    for (int32_t j0 = first; j0 <= last; j0 += 16) {
        const int nk = last - j0 + 1 < 16 ? last - j0 + 1 : 16;
        __m512 x[16];
        for (int k = 0; k < 16; k++)
            x[k] = k < nk ? dot_lanes(q, key_ptr(k_cache, slots, j0 + k, slot_elems, head_offset), head_dim, prompt)
                          : _mm512_setzero_ps();
        _mm512_mask_storeu_ps(scratch + j0, (__mmask16)((1u << nk) - 1), _mm512_mul_ps(r16_x16(x), sv));
    }
}

FL_AVX512 static double softmax_avx512(float *x, int32_t first, int32_t last) {
    __m512 mx = _mm512_set1_ps(-INFINITY);
    int32_t j = first;
    for (; j + 16 <= last + 1; j += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(x + j));
    float maxs = _mm512_reduce_max_ps(mx);
    for (; j <= last; j++) maxs = x[j] > maxs ? x[j] : maxs;
    const __m512 mv = _mm512_set1_ps(maxs);
    double sum = 0.0;
    for (int32_t g = first & ~15; g <= last; g += 16) {
        // lanes outside first..last are masked keys: exp gives 0 there
        const int32_t lo = first > g ? first - g : 0, hi = last - g < 15 ? last - g : 15;
        const __mmask16 m = (__mmask16)(((1u << (hi + 1)) - 1) & ~((1u << lo) - 1));
        const __m512 xv = _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), m, x + g);
        const __m512 e = ggml_expf_zmm(_mm512_sub_ps(xv, mv));
        _mm512_mask_storeu_ps(x + g, m, e);
        sum += (double)r16_zmm(e);
    }
    return sum;
}

FL_AVX512 static void kqv_accumulate_avx512(float *acc, int32_t lanes, const float *w, const uint16_t *v_cache,
                                            const int32_t *slots, int64_t slot_elems, int64_t head_offset,
                                            int32_t first, int32_t last, int32_t head_dim) {
    if (head_dim & 15) {
        kqv_accumulate_scalar(acc, lanes, w, v_cache, slots, slot_elems, head_offset, first, last, head_dim);
        return;
    }
    for (int32_t j = first; j <= last; j++) {
        const uint16_t *vj = key_ptr(v_cache, slots, j, slot_elems, head_offset);
        float *a = acc + (int64_t)(j % lanes) * head_dim;
        const __m512 wv = _mm512_set1_ps(w[j]);
        for (int32_t d = 0; d < head_dim; d += 16)
            _mm512_storeu_ps(a + d, _mm512_fmadd_ps(ld16(vj + d), wv, _mm512_loadu_ps(a + d)));
    }
}

// The prompt KQV with the 16 lane accumulators of 16 head dimensions in registers: keys in
// aligned groups of 16 (key j to lane j % 16), keys of a group outside first..last as a zero
// value row with weight 0, which adds +0 (an accumulator is never -0: it starts at +0, and
// fma rounds an exact zero sum to +0). Then kqv_finish's additions. Same bits as
// kqv_accumulate + kqv_finish with 16 lanes.
FL_AVX512 static int kqv_prompt_avx512(float *out, const float *w, const uint16_t *v_cache, const int32_t *slots,
                                       int64_t slot_elems, int64_t head_offset, int32_t first, int32_t last,
                                       int32_t head_dim) {
    static const uint16_t zeros[FLINT_ATTENTION_MAX_HEAD_DIM];
    // Each pass over the keys reads 32 bytes of every value row; past 128 dimensions the
    // rows' other bytes leave L1 before their pass comes, and the in-memory accumulators of
    // kqv_accumulate win (measured with Gemma 3's 256).
    if (head_dim & 15 || head_dim > 128) return 0;
    const int32_t g0 = first & ~15;
    for (int32_t d = 0; d < head_dim; d += 16) {
        __m512 t[16];
        for (int l = 0; l < 16; l++) t[l] = _mm512_setzero_ps();
        for (int32_t g = g0; g <= last; g += 16) {
            if (g >= first && g + 15 <= last) {
                for (int l = 0; l < 16; l++)
                    t[l] = _mm512_fmadd_ps(ld16(key_ptr(v_cache, slots, g + l, slot_elems, head_offset) + d),
                                           _mm512_set1_ps(w[g + l]), t[l]);
            } else {
                for (int l = 0; l < 16; l++) {
                    const int32_t j = g + l;
                    const int in = j >= first && j <= last;
                    const uint16_t *vj = in ? key_ptr(v_cache, slots, j, slot_elems, head_offset) : zeros;
                    t[l] = _mm512_fmadd_ps(ld16(vj + d), _mm512_set1_ps(in ? w[j] : 0.0f), t[l]);
                }
            }
        }
        for (int l = 0; l < 8; l++) t[l] = _mm512_add_ps(t[l], t[l + 8]);
        for (int l = 0; l < 4; l++) t[l] = _mm512_add_ps(t[l], t[l + 4]);
        _mm512_storeu_ps(out + d, _mm512_add_ps(_mm512_add_ps(t[0], t[2]), _mm512_add_ps(t[1], t[3])));
    }
    return 1;
}

// The one-row KQV (64 lanes: key j to lane j % 64, lanes 16a..16a+15 the one-row kernel's
// accumulator a) with the finish, 16 head dimensions at a time, for keys spanning several
// rounds of 64: each accumulator's 16 lanes in registers over the keys, 16 consecutive keys
// at a time (a stream the hardware prefetcher follows through a long context), combined as
// kqv_finish does ((0 + 2) + (1 + 3), then R16 over the lanes). Keys of a round outside
// first..last count as a zero row with weight 0 (adds +0, see kqv_prompt_avx512). Same bits
// as kqv_accumulate + kqv_finish with 64 lanes. (The key loop repeats kqv_prompt_avx512's on
// purpose: a shared helper taking the lane array left the lanes in memory and cost ~8% of a
// batched decode step.)
FL_AVX512 static void kqv_decode_rounds_avx512(float *out, const float *w, const uint16_t *v_cache, const int32_t *slots,
                                               int64_t slot_elems, int64_t head_offset, int32_t first, int32_t last,
                                               int32_t head_dim) {
    static const uint16_t zeros[FLINT_ATTENTION_MAX_HEAD_DIM];
    const int32_t g0 = first & ~63;
    for (int32_t d = 0; d < head_dim; d += 16) {
        __m512 sum02[16], sum13[16];
        static const int order[4] = {0, 2, 1, 3};
        for (int oi = 0; oi < 4; oi++) {
            const int a = order[oi];
            __m512 t[16];
            for (int l = 0; l < 16; l++) t[l] = _mm512_setzero_ps();
            for (int32_t g = g0 + 16 * a; g <= last; g += 64) {
                if (g >= first && g + 15 <= last) {
                    for (int l = 0; l < 16; l++)
                        t[l] = _mm512_fmadd_ps(ld16(key_ptr(v_cache, slots, g + l, slot_elems, head_offset) + d),
                                               _mm512_set1_ps(w[g + l]), t[l]);
                } else {
                    for (int l = 0; l < 16; l++) {
                        const int32_t j = g + l;
                        const int in = j >= first && j <= last;
                        const uint16_t *vj = in ? key_ptr(v_cache, slots, j, slot_elems, head_offset) : zeros;
                        t[l] = _mm512_fmadd_ps(ld16(vj + d), _mm512_set1_ps(in ? w[j] : 0.0f), t[l]);
                    }
                }
            }
            for (int l = 0; l < 16; l++) {
                if (a == 0) sum02[l] = t[l];
                else if (a == 2) sum02[l] = _mm512_add_ps(sum02[l], t[l]);
                else if (a == 1) sum13[l] = t[l];
                else sum02[l] = _mm512_add_ps(sum02[l], _mm512_add_ps(sum13[l], t[l]));
            }
        }
        for (int l = 0; l < 8; l++) sum02[l] = _mm512_add_ps(sum02[l], sum02[l + 8]);
        for (int l = 0; l < 4; l++) sum02[l] = _mm512_add_ps(sum02[l], sum02[l + 4]);
        _mm512_storeu_ps(out + d, _mm512_add_ps(_mm512_add_ps(sum02[0], sum02[2]), _mm512_add_ps(sum02[1], sum02[3])));
    }
}

// The same for keys within one round of 64 (short contexts: most of a batched decode's rows
// early on), where the four accumulators of a lane are single products: lane l's four are
// built one after the other and combined at once, so only 16 sums are live (the form above
// spills its 48 registers, which costs more than the keys themselves here).
FL_AVX512 static int kqv_decode_avx512(float *out, const float *w, const uint16_t *v_cache, const int32_t *slots,
                                       int64_t slot_elems, int64_t head_offset, int32_t first, int32_t last,
                                       int32_t head_dim) {
    static const uint16_t zeros[FLINT_ATTENTION_MAX_HEAD_DIM];
    if (head_dim & 15) return 0;
    const int32_t g0 = first & ~63;
    if (last - g0 >= 64) {
        kqv_decode_rounds_avx512(out, w, v_cache, slots, slot_elems, head_offset, first, last, head_dim);
        return 1;
    }
    for (int32_t d = 0; d < head_dim; d += 16) {
        __m512 s[16];
        for (int l = 0; l < 16; l++) {
            __m512 t[4];
            for (int a = 0; a < 4; a++) {
                __m512 c = _mm512_setzero_ps();
                const int32_t j = g0 + 16 * a + l;
                if (j - l <= last) {  /* the round exists for this accumulator */
                    const int in = j >= first && j <= last;
                    const uint16_t *vj = in ? key_ptr(v_cache, slots, j, slot_elems, head_offset) : zeros;
                    c = _mm512_fmadd_ps(ld16(vj + d), _mm512_set1_ps(in ? w[j] : 0.0f), c);
                }
                t[a] = c;
            }
            s[l] = _mm512_add_ps(_mm512_add_ps(t[0], t[2]), _mm512_add_ps(t[1], t[3]));
        }
        for (int l = 0; l < 8; l++) s[l] = _mm512_add_ps(s[l], s[l + 8]);
        for (int l = 0; l < 4; l++) s[l] = _mm512_add_ps(s[l], s[l + 4]);
        _mm512_storeu_ps(out + d, _mm512_add_ps(_mm512_add_ps(s[0], s[2]), _mm512_add_ps(s[1], s[3])));
    }
    return 1;
}

// vcvtps2ph rounds to nearest even, as fl_f2h does (NaNs stay NaNs).
FL_AVX512 static void store_f16_avx512(uint16_t *dst, const float *src, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    store_f16_scalar(dst + i, src + i, n - i);
}

FL_AVX512 static void round_f16_avx512(float *dst, const float *src, float scale, int32_t n) {
    const __m512 sv = _mm512_set1_ps(scale);
    int32_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_mul_ps(_mm512_loadu_ps(src + i), sv),
                                                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
    round_f16_scalar(dst + i, src + i, scale, n - i);
}

// kqv_finish_scalar's additions, 16 head dimensions at a time.
FL_AVX512 static void kqv_finish_avx512(float *acc, int32_t lanes, int32_t head_dim, float *out) {
    if (head_dim & 15) {
        kqv_finish_scalar(acc, lanes, head_dim, out);
        return;
    }
    for (int32_t d = 0; d < head_dim; d += 16) {
        __m512 t[16];
        const float *a = acc + d;
        if (lanes == 64)
            for (int l = 0; l < 16; l++)
                t[l] = _mm512_add_ps(_mm512_add_ps(_mm512_loadu_ps(a + (int64_t)l * head_dim), _mm512_loadu_ps(a + (int64_t)(l + 32) * head_dim)),
                                     _mm512_add_ps(_mm512_loadu_ps(a + (int64_t)(l + 16) * head_dim), _mm512_loadu_ps(a + (int64_t)(l + 48) * head_dim)));
        else
            for (int l = 0; l < 16; l++) t[l] = _mm512_loadu_ps(a + (int64_t)l * head_dim);
        for (int l = 0; l < 8; l++) t[l] = _mm512_add_ps(t[l], t[l + 8]);
        for (int l = 0; l < 4; l++) t[l] = _mm512_add_ps(t[l], t[l + 4]);
        _mm512_storeu_ps(out + d, _mm512_add_ps(_mm512_add_ps(t[0], t[2]), _mm512_add_ps(t[1], t[3])));
    }
}
#endif

static scores_fn attn_scores = scores_scalar, best_scores = scores_scalar;
static softmax_fn attn_softmax = softmax_scalar, best_softmax = softmax_scalar;
static kqv_fn attn_kqv = kqv_accumulate_scalar, best_kqv = kqv_accumulate_scalar;
static finish_fn attn_finish = kqv_finish_scalar, best_finish = kqv_finish_scalar;
static round_fn attn_round = round_f16_scalar, best_round = round_f16_scalar;
static store_fn attn_store = store_f16_scalar, best_store = store_f16_scalar;
static kqv_prompt_fn attn_kqv_prompt = NULL, best_kqv_prompt = NULL;
static kqv_prompt_fn attn_kqv_decode = NULL, best_kqv_decode = NULL;

void flint_store_f16(uint16_t *dst, const float *src, int64_t n) { attn_store(dst, src, n); }

void flint_attention_force_scalar(int on) {
    attn_scores = on ? scores_scalar : best_scores;
    attn_softmax = on ? softmax_scalar : best_softmax;
    attn_kqv = on ? kqv_accumulate_scalar : best_kqv;
    attn_finish = on ? kqv_finish_scalar : best_finish;
    attn_round = on ? round_f16_scalar : best_round;
    attn_store = on ? store_f16_scalar : best_store;
    attn_kqv_prompt = on ? NULL : best_kqv_prompt;
    attn_kqv_decode = on ? NULL : best_kqv_decode;
}

__attribute__((constructor)) static void flint_attention_init(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("f16c") && __builtin_cpu_supports("fma")) {
        attn_scores = best_scores = scores_avx512;
        attn_softmax = best_softmax = softmax_avx512;
        attn_kqv = best_kqv = kqv_accumulate_avx512;
        attn_finish = best_finish = kqv_finish_avx512;
        attn_round = best_round = round_f16_avx512;
        attn_store = best_store = store_f16_avx512;
        attn_kqv_prompt = best_kqv_prompt = kqv_prompt_avx512;
        attn_kqv_decode = best_kqv_decode = kqv_decode_avx512;
    }
#endif
}


// Row (of head_dim halves) of KV head `kv_head` at physical slot `slot` (flint_attention.h).
static inline int64_t kv_row(int64_t slot, int32_t block_size, int32_t n_kv_head, int32_t kv_head) {
    return (slot / block_size * n_kv_head + kv_head) * block_size + slot % block_size;
}

void flint_kv_store(uint16_t *cache, int64_t slot, const float *src, int32_t n_kv_head, int32_t head_dim, int32_t block_size) {
    for (int32_t h = 0; h < n_kv_head; h++)
        attn_store(cache + kv_row(slot, block_size, n_kv_head, h) * head_dim, src + (int64_t)h * head_dim, head_dim);
}

void flint_attention_prefetch(const uint16_t *k_cache, const uint16_t *v_cache, const int32_t *block_table,
                              int32_t block_size, int32_t n_kv_head, int32_t head_dim, int32_t kv_head,
                              int32_t first, int32_t last) {
    const int64_t bytes = (int64_t)head_dim * 2;
    for (int32_t j = first; j <= last; j++) {
        const int64_t slot = (int64_t)block_table[j / block_size] * block_size + j % block_size;
        const int64_t row = kv_row(slot, block_size, n_kv_head, kv_head);
        const char *kp = (const char *)(k_cache + row * head_dim);
        const char *vp = (const char *)(v_cache + row * head_dim);
        for (int64_t b = 0; b < bytes; b += 64) {
            __builtin_prefetch(kp + b, 0, 3);
            __builtin_prefetch(vp + b, 0, 3);
        }
    }
}

void flint_attention_paged(const float *q, int64_t q_stride, const int32_t *q_pos,
                           int64_t row_begin, int64_t row_end, int32_t prompt,
                           const uint16_t *k_cache, const uint16_t *v_cache,
                           const int32_t *block_table, int32_t block_size,
                           int32_t n_head, int32_t n_kv_head, int32_t head_dim,
                           float scale, int32_t window,
                           int32_t head_begin, int32_t head_end,
                           float *out, int64_t out_stride, float *scratch) {
    const int64_t slot_elems = head_dim;
    float qh[FLINT_ATTENTION_MAX_HEAD_DIM];
    const int32_t group = n_head / n_kv_head;
    const int32_t lanes = prompt ? 16 : 64;
    for (int64_t r = row_begin; r < row_end; r++) {
        const int32_t pos = q_pos[r];
        int32_t first = 0;
        if (window > 0 && pos - window + 1 > 0) first = pos - window + 1;
        // scratch: scores [0, pos], key slots [pos + 1, 2 pos + 1], then the KQV accumulators
        int32_t *slots = (int32_t *)(scratch + pos + 1);
        float *acc = scratch + 2 * (pos + 1);
        fill_slots(slots, block_table, block_size, n_kv_head, first, pos);
        for (int32_t h = head_begin; h < head_end; h++) {
            attn_round(qh, q + r * q_stride + (int64_t)h * head_dim, 1.0f, head_dim);
            const int64_t head_offset = (int64_t)(h / group) * block_size * head_dim;
            attn_scores(qh, k_cache, slots, slot_elems, head_offset, first, pos, head_dim, scale, prompt, scratch);
            const float inv = (float)(1.0 / attn_softmax(scratch, first, pos));
            attn_round(scratch + first, scratch + first, inv, pos + 1 - first);
            float *oh = out + r * out_stride + (int64_t)h * head_dim;
            if (prompt && attn_kqv_prompt &&
                attn_kqv_prompt(oh, scratch, v_cache, slots, slot_elems, head_offset, first, pos, head_dim))
                continue;
            // The one-row kernel sums keys past the last multiple of 64 of the padded length
            // one by one in double.
            const int32_t n_kv = (pos + GGML_KV_PAD) / GGML_KV_PAD * GGML_KV_PAD;
            const int32_t split = prompt ? pos + 1 : (n_kv & ~63) < pos + 1 ? (n_kv & ~63) : pos + 1;
            if (prompt || !attn_kqv_decode || first >= split ||
                !attn_kqv_decode(oh, scratch, v_cache, slots, slot_elems, head_offset, first, split - 1, head_dim)) {
                memset(acc, 0, sizeof(float) * (size_t)lanes * (size_t)head_dim);
                if (first < split)
                    attn_kqv(acc, lanes, scratch, v_cache, slots, slot_elems, head_offset, first, split - 1, head_dim);
                attn_finish(acc, lanes, head_dim, oh);
            }
            for (int32_t d = 0; split <= pos && d < head_dim; d++) {
                double s = oh[d];
                for (int32_t j = split > first ? split : first; j <= pos; j++)
                    s += (double)(fl_h2f(key_ptr(v_cache, slots, j, slot_elems, head_offset)[d]) * scratch[j]);
                oh[d] = (float)s;
            }
        }
    }
}
