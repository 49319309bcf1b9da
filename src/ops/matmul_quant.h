// The embedding lookup from Q8_0 and Q4_0 rows: gather_rows' branch for those dtypes. (matmul
// quantizes the activations of a decode step and calls the quantized gemv itself.)
#pragma once

#include <span>

#include "ops/matmul.h"

namespace loom::ops {

void gather_rows_quantized(const MatRef& table, const int* ids, int m, float* out);

}  // namespace loom::ops
