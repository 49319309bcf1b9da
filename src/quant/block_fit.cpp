#include "quant/block_fit.h"

#include <algorithm>
#include <cmath>

#include "quant/blocks.h"

namespace loom::quant {
namespace {

constexpr int kSteps = 20;  // candidate steps: range / (levels - 1 + 0.1 i), i = 0..20

}  // namespace

ScaleMin fit_scale_min(const float* x, int levels) {
  float lo = x[0], hi = x[0], sum_x = 0;
  for (int i = 0; i < kBlock; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
    sum_x += x[i];
  }
  lo = std::min(lo, 0.0f);
  if (hi == lo) return {0.0f, -lo};  // constant (or all zero): the minimum alone
  const float range = hi - lo;

  // The plain min/max grid first.
  ScaleMin best{range / static_cast<float>(levels), -lo};
  float best_err = 0;
  {
    const float inv = static_cast<float>(levels) / range;
    for (int i = 0; i < kBlock; ++i) {
      const int n = std::min(levels, nearest_nonneg(inv * (x[i] - lo)));
      const float e = best.scale * static_cast<float>(n) + lo - x[i];
      best_err += e * e;
    }
  }
  for (int step = 0; step <= kSteps; ++step) {
    const float inv = (static_cast<float>(levels - 1) + 0.1f * static_cast<float>(step)) / range;
    int n[kBlock];
    float sum_n = 0, sum_n2 = 0, sum_xn = 0;
    for (int i = 0; i < kBlock; ++i) {
      n[i] = std::min(levels, nearest_nonneg(inv * (x[i] - lo)));
      const auto f = static_cast<float>(n[i]);
      sum_n += f;
      sum_n2 += f * f;
      sum_xn += f * x[i];
    }
    // Least squares of x = scale * n + offset over the block.
    const float det = kBlock * sum_n2 - sum_n * sum_n;
    if (!(det > 0)) continue;  // all nibbles equal: no line
    float scale = (kBlock * sum_xn - sum_x * sum_n) / det;
    float offset = (sum_n2 * sum_x - sum_n * sum_xn) / det;
    if (offset > 0) {  // minimums are stored unsigned: the line through zero instead
      offset = 0;
      scale = sum_xn / sum_n2;
    }
    float err = 0;
    for (int i = 0; i < kBlock; ++i) {
      const float e = scale * static_cast<float>(n[i]) + offset - x[i];
      err += e * e;
    }
    if (err < best_err) {
      best_err = err;
      best = {scale, -offset};
    }
  }
  return best;
}

float fit_scale_q6(const float* x, int n) {
  float big = 0;  // the weight of largest magnitude, with its sign
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > std::fabs(big)) big = x[i];
  }
  if (big == 0) return 0;
  float best = 0, best_err = INFINITY;
  for (int k = -12; k <= 7; ++k) {  // big at -34 .. -28.5, then 28 .. 31.5 (k >= 0)
    const float at =
        k < 0 ? -28.0f + 0.5f * static_cast<float>(k) : 28.0f + 0.5f * static_cast<float>(k);
    const float inv = at / big;
    float sum_xq = 0, sum_qq = 0;
    int q[256];
    for (int i = 0; i < n; ++i) {
      q[i] = std::clamp(static_cast<int>(std::nearbyint(inv * x[i])), -32, 31);
      sum_xq += x[i] * static_cast<float>(q[i]);
      sum_qq += static_cast<float>(q[i] * q[i]);
    }
    if (!(sum_qq > 0)) continue;
    const float scale = sum_xq / sum_qq;
    float err = 0;
    for (int i = 0; i < n; ++i) {
      const float e = scale * static_cast<float>(q[i]) - x[i];
      err += e * e;
    }
    if (err < best_err) {
      best_err = err;
      best = scale;
    }
  }
  return best;
}

}  // namespace loom::quant
