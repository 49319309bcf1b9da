#include "ops/matmul_quant.h"

#include "simd/quant_kernels.h"

namespace loom::ops {

void gather_rows_quantized(const MatRef& table, const int* ids, int m, float* out) {
  const simd::QuantKernels& k = simd::quant_kernels();
  for (int i = 0; i < m; ++i) {
    k.to_f32[simd::quant_slot(table.dtype)](table.row(ids[i]),
                                            out + static_cast<size_t>(i) * table.cols, table.cols);
  }
}

}  // namespace loom::ops
