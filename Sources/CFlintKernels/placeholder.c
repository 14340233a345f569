#include "flint_kernels.h"
