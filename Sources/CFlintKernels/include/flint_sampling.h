// Token selection over a row of logits.
#ifndef FLINT_SAMPLING_H
#define FLINT_SAMPLING_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Index of the first largest of the `n` logits, NaNs ignored; 0 when none is above -inf
/// (the result of a scan keeping the first x[i] > best, best starting at -inf).
int64_t flint_argmax(const float *logits, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
