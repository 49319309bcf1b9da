#include "ops/matmul_quant.h"

#include <omp.h>

#include <algorithm>
#include <string>

#include "loom/error.h"
#include "simd/quant_kernels.h"

namespace loom::ops {

size_t matmul_scratch_blocks(const MatRef& w, int m) {
  return is_quantized(w.dtype) ? static_cast<size_t>(m) * (w.cols / quant::kBlock) : 0;
}

void matmul_quantized(const float* x, int m, const MatRef& w, float* y, int threads,
                      std::span<quant::ActSpace> scratch) {
  const simd::QuantKernels& k = simd::quant_kernels();
  const int slot = simd::quant_slot(w.dtype);
  const int nb = w.cols / quant::kBlock;
  if (scratch.size() < matmul_scratch_blocks(w, m)) {
    // A caller's bug, not the input's: the workspace is sized from the model's matrices.
    throw Error("matmul: " + std::to_string(scratch.size()) + " blocks of scratch for " +
                std::to_string(m) + " rows of " + std::to_string(w.cols) + " activations");
  }
  quant::ActSpace* xq = scratch.data();
  // Rows in blocks of 4 a thread.
  constexpr int kAlign = 4;
  const int n_blocks = (w.rows + kAlign - 1) / kAlign;
  threads = std::max(1, std::min(threads, std::max(n_blocks, m)));
  const size_t row = row_bytes(w.dtype, w.cols);
  const auto* wb = static_cast<const char*>(w.data);
#pragma omp parallel num_threads(threads)
  {
#pragma omp for schedule(static)
    for (int t = 0; t < m; ++t) {
      k.quantize_acts(x + static_cast<size_t>(t) * w.cols,
                      quant::act_blocks(xq + static_cast<size_t>(t) * nb, nb), w.cols);
    }  // (the barrier here: every thread reads every token's blocks)
    const int nt = omp_get_num_threads(), id = omp_get_thread_num();
    const int b0 = static_cast<int>(static_cast<long>(n_blocks) * id / nt);
    const int b1 = static_cast<int>(static_cast<long>(n_blocks) * (id + 1) / nt);
    const int r0 = b0 * kAlign, r1 = std::min(w.rows, b1 * kAlign);
    if (r1 > r0) k.gemv[slot](wb + r0 * row, nb, quant::act_blocks(xq, nb), nb, y + r0, r1 - r0);
  }
}

void gather_rows_quantized(const MatRef& table, const int* ids, int m, float* out) {
  const simd::QuantKernels& k = simd::quant_kernels();
  for (int i = 0; i < m; ++i) {
    k.to_f32[simd::quant_slot(table.dtype)](table.row(ids[i]),
                                            out + static_cast<size_t>(i) * table.cols, table.cols);
  }
}

}  // namespace loom::ops
