#include "model/rope_freq.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace loom::model {
namespace {

// fp32 exponents 2i/dim, as transformers forms them: arange(0, dim, 2).float() / dim.
float exponent(int i, int head_dim) {
  return static_cast<float>(2 * i) / static_cast<float>(head_dim);
}

// base ** exponent, rounded to fp32 (torch's fp32 pow, within its last bit).
float pow_f32(double base, float e) {
  return static_cast<float>(std::pow(base, static_cast<double>(e)));
}

std::vector<float> default_inv_freq(double base, int head_dim) {
  std::vector<float> f(head_dim / 2);
  for (int i = 0; i < head_dim / 2; ++i) f[i] = 1.0f / pow_f32(base, exponent(i, head_dim));
  return f;
}

// Long wavelengths are slowed by `factor`, short ones kept, and the band between blended.
void llama3(const RopeConfig& rope, std::vector<float>& f) {
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
}

// YaRN: dimensions that turn fewer than beta_slow times over the original context are
// interpolated (divided by factor), those turning more than beta_fast times kept, and a linear
// ramp over the dimensions between blends the two. The ramp's ends are Python doubles, the
// frequencies and the ramp fp32 tensors, as in transformers' _compute_yarn_parameters.
std::vector<float> yarn(const RopeConfig& rope, int head_dim) {
  const int half = head_dim / 2;
  const double base = rope.theta, dim = head_dim;
  auto correction_dim = [&](double rotations) {
    return dim * std::log(rope.original_max_position / (rotations * 2 * std::numbers::pi)) /
           (2 * std::log(base));
  };
  double low = correction_dim(rope.beta_fast), high = correction_dim(rope.beta_slow);
  if (rope.truncate) low = std::floor(low), high = std::ceil(high);
  low = std::max(low, 0.0);
  high = std::min(high, dim - 1);
  if (low == high) high += 0.001;  // as transformers does, against a zero-width ramp
  const float ramp_lo = static_cast<float>(low), ramp_width = static_cast<float>(high - low);
  std::vector<float> f(half);
  for (int i = 0; i < half; ++i) {
    const float pos_freq = pow_f32(base, exponent(i, head_dim));
    const float extrapolation = 1.0f / pos_freq;
    const float interpolation = 1.0f / (rope.factor * pos_freq);
    const float ramp = std::clamp((static_cast<float>(i) - ramp_lo) / ramp_width, 0.0f, 1.0f);
    const float keep = 1.0f - ramp;  // transformers' inv_freq_extrapolation_factor
    f[i] = interpolation * (1.0f - keep) + extrapolation * keep;
  }
  return f;
}

// Dynamic NTK for a call of length SEQ_LEN > original_max_position: the base grows to
// base * (factor * seq_len / max - (factor - 1)) ^ (dim / (dim - 2)). seq_len reaches
// transformers as an int64 tensor, so every step is an fp32 tensor operation.
std::vector<float> dynamic(const RopeConfig& rope, int head_dim, long seq_len) {
  const float max_pos = static_cast<float>(rope.original_max_position);
  const float scaled = rope.factor * static_cast<float>(seq_len) / max_pos -
                       static_cast<float>(static_cast<double>(rope.factor) - 1.0);
  const float power =
      static_cast<float>(static_cast<double>(head_dim) / static_cast<double>(head_dim - 2));
  const float grown = static_cast<float>(std::pow(static_cast<double>(scaled), power));
  const float base = rope.theta * grown;
  return default_inv_freq(base, head_dim);
}

}  // namespace

std::vector<float> rope_inv_freq(const RopeConfig& rope, int head_dim, long seq_len) {
  switch (rope.scaling) {
    case RopeScalingType::None:
      break;
    case RopeScalingType::Linear: {
      std::vector<float> f = default_inv_freq(rope.theta, head_dim);
      for (float& x : f) x /= rope.factor;
      return f;
    }
    case RopeScalingType::Llama3: {
      std::vector<float> f = default_inv_freq(rope.theta, head_dim);
      llama3(rope, f);
      return f;
    }
    case RopeScalingType::Yarn:
      return yarn(rope, head_dim);
    case RopeScalingType::Dynamic:
      if (seq_len > rope.original_max_position) return dynamic(rope, head_dim, seq_len);
      break;
  }
  return default_inv_freq(rope.theta, head_dim);
}

float rope_attention_factor(const RopeConfig& rope) {
  return rope.scaling == RopeScalingType::Yarn ? rope.attention_factor : 1.0f;
}

void rope_rows(const std::vector<float>& inv_freq, float attention_factor, int pos0, int n,
               float* cos, float* sin) {
  const size_t half = inv_freq.size();
  for (int r = 0; r < n; ++r) {
    const float p = static_cast<float>(pos0 + r);
    for (size_t i = 0; i < half; ++i) {
      // The angle rounded to fp32 first, as transformers forms it; cos/sin then exact, and the
      // attention factor applied in fp32 as transformers applies it.
      const double angle = p * inv_freq[i];
      cos[r * half + i] = static_cast<float>(std::cos(angle)) * attention_factor;
      sin[r * half + i] = static_cast<float>(std::sin(angle)) * attention_factor;
    }
  }
}

void rope_tables(const std::vector<float>& inv_freq, int ctx, std::vector<float>& cos,
                 std::vector<float>& sin) {
  const size_t half = inv_freq.size();
  cos.resize(static_cast<size_t>(ctx) * half);
  sin.resize(static_cast<size_t>(ctx) * half);
  rope_rows(inv_freq, 1.0f, 0, ctx, cos.data(), sin.data());
}

DynamicRope::DynamicRope(const RopeConfig& rope, int head_dim)
    : rope_(rope),
      head_dim_(head_dim),
      cached_(rope.original_max_position),
      original_(rope_inv_freq(rope, head_dim)),
      inv_freq_(original_) {}

bool DynamicRope::update(long seq_len) {
  const long original = rope_.original_max_position;
  if (seq_len > cached_) {
    inv_freq_ = rope_inv_freq(rope_, head_dim_, seq_len);
    cached_ = seq_len;
    return true;
  }
  if (seq_len < original && cached_ > original) {
    inv_freq_ = original_;
    cached_ = original;
    return true;
  }
  return false;
}

void DynamicRope::reset() {
  cached_ = rope_.original_max_position;
  inv_freq_ = original_;
}

}  // namespace loom::model
