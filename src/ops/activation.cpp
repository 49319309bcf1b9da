#include "ops/activation.h"

#include <cmath>

namespace loom::ops {

namespace {
// Under this many elements a fork and join costs more than the loop (decode steps).
constexpr long kParallelMin = 1L << 15;
}  // namespace

void swiglu(const float* gate, const float* up, float* out, long n, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (n >= kParallelMin)
  for (long i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void add_to(float* x, const float* y, long n, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (n >= kParallelMin)
  for (long i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace loom::ops
