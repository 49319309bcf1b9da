#include "ops/activation.h"

#include <cmath>

namespace loom::ops {

void swiglu(const float* gate, const float* up, float* out, long n) {
  for (long i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

}  // namespace loom::ops
