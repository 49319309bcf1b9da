#include "ops/activation.h"

#include <algorithm>

#include "ops/team.h"
#include "simd/attention_kernels.h"

namespace loom::ops {

namespace {
// Under this many elements a fork and join costs more than the loop (decode steps), when the op
// opens a region of its own.
constexpr long kParallelMin = 1L << 15;
// Elements a thread takes at once: exp(-gate) of a chunk goes through a stack buffer.
constexpr long kChunk = 1024;
}  // namespace

// exp is softmax's (simd/exp_poly.h, a kernel set's vector loop), not std::exp: a scalar libm
// call per element was most of this op's time in prompts. Each element's bits depend only on
// its own gate and up (and the kernel set), never on the chunks or the threads.
void swiglu(const float* gate, const float* up, float* out, long n, int threads) {
  const auto exp = simd::attention_kernels().exp;
  collective(n >= kParallelMin ? threads : 1, [&] {
    const long chunks = (n + kChunk - 1) / kChunk;
#pragma omp for schedule(static)
    for (long c = 0; c < chunks; ++c) {
      const long i0 = c * kChunk, len = std::min(kChunk, n - i0);
      float e[kChunk];
      for (long i = 0; i < len; ++i) e[i] = -gate[i0 + i];
      exp(e, e, static_cast<size_t>(len));
      for (long i = 0; i < len; ++i) out[i0 + i] = gate[i0 + i] / (1.0f + e[i]) * up[i0 + i];
    }
  });
}

void add_to(float* x, const float* y, long n, int threads) {
  collective(n >= kParallelMin ? threads : 1, [&] {
#pragma omp for schedule(static)
    for (long i = 0; i < n; ++i) x[i] += y[i];
  });
}

}  // namespace loom::ops
