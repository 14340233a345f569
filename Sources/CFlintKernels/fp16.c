// Exported half / bfloat16 conversions (the inline versions live in blocks.h).
#include "blocks.h"

float flint_fp16_to_fp32(uint16_t h) { return fl_h2f(h); }
uint16_t flint_fp32_to_fp16(float f) { return fl_f2h(f); }
float flint_bf16_to_fp32(uint16_t h) { return fl_bf2f(h); }
uint16_t flint_fp32_to_bf16(float f) { return fl_f2bf(f); }
