#include "ops/norm.h"

#include <cmath>

#include "ops/team.h"

namespace loom::ops {

void rmsnorm(const float* x, const float* weight, float* out, int m, int n, float eps,
             int threads) {
  collective(m > 1 ? threads : 1, [&] {
#pragma omp for schedule(static)
    for (int r = 0; r < m; ++r) {
      const float* xr = x + static_cast<size_t>(r) * n;
      float* o = out + static_cast<size_t>(r) * n;
      double ss = 0;  // double: the mean of squares is then exact to fp32 whatever n is
      for (int i = 0; i < n; ++i) ss += static_cast<double>(xr[i]) * xr[i];
      const float inv = 1.0f / std::sqrt(static_cast<float>(ss / n) + eps);
      for (int i = 0; i < n; ++i) o[i] = weight[i] * (xr[i] * inv);
    }
  });
}

}  // namespace loom::ops
