#include "ops/matmul.h"

#include <omp.h>

#include <algorithm>

#include "ops/matmul_quant.h"
#include "simd/kernels.h"

namespace loom::ops {

void matmul(const float* x, int m, const MatRef& w, float* y, int threads, Pass pass,
            std::span<quant::ActSpace> scratch) {
  if (is_quantized(w.dtype) && pass == Pass::Decode) {
    return matmul_quantized(x, m, w, y, threads, scratch);
  }
  const simd::Kernels& k = simd::kernels();
  const int t = static_cast<int>(w.dtype);
  // Split rows into blocks of whole tiles: gemv's of 4 rows, gemm's panels of 16.
  const int kAlign = pass == Pass::Decode ? 4 : 16;
  const int n_blocks = (w.rows + kAlign - 1) / kAlign;
  threads = std::max(1, std::min(threads, n_blocks));
#pragma omp parallel num_threads(threads)
  {
    const int nt = omp_get_num_threads(), id = omp_get_thread_num();
    const int b0 = static_cast<int>(static_cast<long>(n_blocks) * id / nt);
    const int b1 = static_cast<int>(static_cast<long>(n_blocks) * (id + 1) / nt);
    const int r0 = b0 * kAlign, r1 = std::min(w.rows, b1 * kAlign);
    if (r1 > r0) {
      if (pass == Pass::Decode) {
        k.gemv[t](w.row(r0), w.cols, x, w.cols, y + r0, r1 - r0);
      } else {
        k.gemm[t](w.row(r0), w.cols, x, w.cols, m, w.cols, y + r0, w.rows, r1 - r0);
      }
    }
  }
}

void gather_rows(const MatRef& table, const int* ids, int m, float* out) {
  if (is_quantized(table.dtype)) return gather_rows_quantized(table, ids, m, out);
  const simd::Kernels& k = simd::kernels();
  for (int i = 0; i < m; ++i) {
    k.to_f32[static_cast<int>(table.dtype)](table.row(ids[i]),
                                            out + static_cast<size_t>(i) * table.cols, table.cols);
  }
}

}  // namespace loom::ops
