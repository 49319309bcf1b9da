#include "ops/activation.h"

#include <cmath>

#include "ops/team.h"

namespace loom::ops {

namespace {
// Under this many elements a fork and join costs more than the loop (decode steps), when the op
// opens a region of its own.
constexpr long kParallelMin = 1L << 15;
}  // namespace

void swiglu(const float* gate, const float* up, float* out, long n, int threads) {
  collective(n >= kParallelMin ? threads : 1, [&] {
#pragma omp for schedule(static)
    for (long i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
  });
}

void add_to(float* x, const float* y, long n, int threads) {
  collective(n >= kParallelMin ? threads : 1, [&] {
#pragma omp for schedule(static)
    for (long i = 0; i < n; ++i) x[i] += y[i];
  });
}

}  // namespace loom::ops
