// Type table: block sizes, row sizes and the activation format of each weight type.
#include "isa.h"

typedef struct { int64_t elems; size_t bytes; int dot_type; } fl_type_info;

static const fl_type_info *info_of(int type) {
    static const fl_type_info f32 = {1, 4, FLINT_TYPE_F32};
    static const fl_type_info f16 = {1, 2, FLINT_TYPE_F16};
    static const fl_type_info bf16 = {1, 2, FLINT_TYPE_BF16};
    static const fl_type_info q4_0 = {QK4_0, sizeof(block_q4_0), FLINT_TYPE_Q8_0};
    static const fl_type_info q4_1 = {QK4_1, sizeof(block_q4_1), FLINT_TYPE_Q8_1};
    static const fl_type_info q5_0 = {QK5_0, sizeof(block_q5_0), FLINT_TYPE_Q8_0};
    static const fl_type_info q5_1 = {QK5_1, sizeof(block_q5_1), FLINT_TYPE_Q8_1};
    static const fl_type_info q8_0 = {QK8_0, sizeof(block_q8_0), FLINT_TYPE_Q8_0};
    static const fl_type_info q8_1 = {QK8_1, sizeof(block_q8_1), FLINT_TYPE_Q8_1};
    static const fl_type_info q4_k = {QK_K, sizeof(block_q4_K), FLINT_TYPE_Q8_K};
    static const fl_type_info q5_k = {QK_K, sizeof(block_q5_K), FLINT_TYPE_Q8_K};
    static const fl_type_info q6_k = {QK_K, sizeof(block_q6_K), FLINT_TYPE_Q8_K};
    static const fl_type_info q8_k = {QK_K, sizeof(block_q8_K), FLINT_TYPE_Q8_K};
    switch (type) {
    case FLINT_TYPE_F32: return &f32;
    case FLINT_TYPE_F16: return &f16;
    case FLINT_TYPE_BF16: return &bf16;
    case FLINT_TYPE_Q4_0: return &q4_0;
    case FLINT_TYPE_Q4_1: return &q4_1;
    case FLINT_TYPE_Q5_0: return &q5_0;
    case FLINT_TYPE_Q5_1: return &q5_1;
    case FLINT_TYPE_Q8_0: return &q8_0;
    case FLINT_TYPE_Q8_1: return &q8_1;
    case FLINT_TYPE_Q4_K: return &q4_k;
    case FLINT_TYPE_Q5_K: return &q5_k;
    case FLINT_TYPE_Q6_K: return &q6_k;
    case FLINT_TYPE_Q8_K: return &q8_k;
    default: return NULL;
    }
}

int fl_type_index_ok(int type) { return info_of(type) != NULL; }

int flint_type_supported(int type) { return info_of(type) != NULL; }

int64_t flint_type_block_elems(int type) {
    const fl_type_info *t = info_of(type);
    return t ? t->elems : 0;
}

size_t flint_type_block_bytes(int type) {
    const fl_type_info *t = info_of(type);
    return t ? t->bytes : 0;
}

size_t flint_row_bytes(int type, int64_t n) {
    const fl_type_info *t = info_of(type);
    if (!t || n < 0) return 0;
    return (size_t)(n / t->elems) * t->bytes;
}

int flint_vec_dot_type(int type) {
    const fl_type_info *t = info_of(type);
    return t ? t->dot_type : -1;
}
