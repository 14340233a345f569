// Umbrella header of the CFlintKernels module.
#include "flint_kernels.h"
#include "flint_attention.h"
#include "flint_activation.h"
#include "flint_norm.h"
#include "flint_cpu.h"
#include "flint_sampling.h"
