#include "model/rope_freq.h"

#include <cmath>
#include <numbers>

namespace loom::model {

std::vector<float> rope_inv_freq(const RopeConfig& rope, int head_dim) {
  const int half = head_dim / 2;
  std::vector<float> f(half);
  for (int i = 0; i < half; ++i) {
    // In fp32 as transformers computes it: 1 / base ** (arange(0, dim, 2) / dim).
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(head_dim);
    f[i] = 1.0f / static_cast<float>(std::pow(static_cast<double>(rope.theta), exponent));
  }
  switch (rope.scaling) {
    case RopeScalingType::None:
      break;
    case RopeScalingType::Linear:
      for (float& x : f) x /= rope.factor;
      break;
    case RopeScalingType::Llama3: {
      // Long wavelengths are slowed by `factor`, short ones kept, and the band between blended.
      const float old_ctx = static_cast<float>(rope.original_max_position);
      const float low_wavelen = old_ctx / rope.low_freq_factor;
      const float high_wavelen = old_ctx / rope.high_freq_factor;
      for (float& x : f) {
        const float wavelen = 2.0f * std::numbers::pi_v<float> / x;
        if (wavelen > low_wavelen) {
          x = x / rope.factor;
        } else if (wavelen >= high_wavelen) {
          const float smooth = (old_ctx / wavelen - rope.low_freq_factor) /
                               (rope.high_freq_factor - rope.low_freq_factor);
          x = (1.0f - smooth) * x / rope.factor + smooth * x;
        }
      }
      break;
    }
  }
  return f;
}

void rope_tables(const std::vector<float>& inv_freq, int ctx, std::vector<float>& cos,
                 std::vector<float>& sin) {
  const size_t half = inv_freq.size();
  cos.resize(static_cast<size_t>(ctx) * half);
  sin.resize(static_cast<size_t>(ctx) * half);
  for (int p = 0; p < ctx; ++p) {
    for (size_t i = 0; i < half; ++i) {
      // The angle rounded to fp32 first, as transformers forms it; cos/sin then exact.
      const float angle = static_cast<float>(p) * inv_freq[i];
      cos[p * half + i] = static_cast<float>(std::cos(static_cast<double>(angle)));
      sin[p * half + i] = static_cast<float>(std::sin(static_cast<double>(angle)));
    }
  }
}

}  // namespace loom::model
