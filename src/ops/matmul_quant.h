// Products with Q8_0 and Q4_0 weights: the branch of matmul (and gather_rows) for those dtypes.
#pragma once

#include <span>

#include "ops/matmul.h"

namespace loom::ops {

// A decode step's product with quantized weights (matmul's Pass::Decode): X's rows are quantized
// to 8-bit blocks in SCRATCH (once per call, shared by all threads), then each thread takes whole
// blocks of W's rows. Prompts do not come here: matmul reads quantized rows with the float gemm.
void matmul_quantized(const float* x, int m, const MatRef& w, float* y, int threads,
                      std::span<quant::ActSpace> scratch);

void gather_rows_quantized(const MatRef& table, const int* ids, int m, float* out);

}  // namespace loom::ops
