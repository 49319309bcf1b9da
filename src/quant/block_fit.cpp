#include "quant/block_fit.h"

#include <algorithm>
#include <cmath>
#include <cstring>

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
  // For each placement q, the least-squares scale sum x q / sum q q leaves the squared error
  // sum x x - (sum x q)^2 / sum q q: the best placement has the largest (sum x q)^2 / sum q q.
  float best = 0, best_gain = -1;
  for (int k = -12; k <= 7; ++k) {  // big at -34 .. -28.5, then 28 .. 31.5 (k >= 0)
    const float at =
        k < 0 ? -28.0f + 0.5f * static_cast<float>(k) : 28.0f + 0.5f * static_cast<float>(k);
    const float inv = at / big;
    // Four partial sums (weights i, i + 4, ...; N a multiple of 4) in one vector of GCC's
    // vector extension, added in a fixed order at the end.
    using V4 = float __attribute__((vector_size(16)));
    const V4 magic = {12582912.0f, 12582912.0f, 12582912.0f, 12582912.0f};
    const V4 lo = {-32.0f, -32.0f, -32.0f, -32.0f}, hi = {31.0f, 31.0f, 31.0f, 31.0f};
    V4 xq = {}, qq = {};
    for (int i = 0; i < n; i += 4) {
      V4 xv;
      std::memcpy(&xv, x + i, sizeof xv);
      V4 q = (xv * inv + magic) - magic;  // round_even, lane by lane
      q = q < lo ? lo : q;
      q = q > hi ? hi : q;
      xq += xv * q;
      qq += q * q;
    }
    const float sum_xq = (xq[0] + xq[1]) + (xq[2] + xq[3]);
    const float sum_qq = (qq[0] + qq[1]) + (qq[2] + qq[3]);
    if (!(sum_qq > 0)) continue;
    const float gain = sum_xq * sum_xq / sum_qq;
    if (gain > best_gain) {
      best_gain = gain;
      best = sum_xq / sum_qq;
    }
  }
  return best;
}

}  // namespace loom::quant
