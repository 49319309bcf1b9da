// Q4_K rows (quant/blocks.h) from fp32 and back: the reference code, scalar, run once at load.
//
// Each block of 32 weights gets the scale and minimum of least squared error found by a small
// search (llama.cpp's make_qkx2_quants, unweighted): from the block's range, 21 candidate steps
// from 14/15 to 16/15 of range / 15 place the nibbles, and for each placement the least-squares
// line through (nibble, x) gives its scale and minimum; the placement whose line has the least
// squared error wins. The eight blocks' scales and minimums are then rounded to 6 bits against
// the super-block's d = max scale / 63 and dmin = max minimum / 63 (fp16), and the nibbles placed
// again on the rounded grid. Everything is a function of the row alone, in a fixed order: the
// bytes do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "quant/quantize.h"
#include "simd/half.h"

namespace loom::quant {
namespace {

constexpr int kLevels = 15;  // nibbles 0..15
constexpr int kSteps = 20;   // candidate steps: range / (15 - 1 + 0.1 i), i = 0..20

// Nearest integer of V >= 0 (halves up), without a library call (see quantize.cpp's scaled).
int nearest_nonneg(float v) {
  return static_cast<int>(v + 0.5f);
}

// The block's fit: x ~ scale * n - min with n in 0..15, scale >= 0, min >= 0 (the line's value
// at n = 0 is never above 0, so a block of one sign is never offset away from zero).
struct Fit {
  float scale = 0, min = 0;
};

Fit fit_block(const float* x) {
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
  Fit best{range / kLevels, -lo};
  float best_err = 0;
  {
    const float inv = kLevels / range;
    for (int i = 0; i < kBlock; ++i) {
      const int n = std::min(kLevels, nearest_nonneg(inv * (x[i] - lo)));
      const float e = best.scale * static_cast<float>(n) + lo - x[i];
      best_err += e * e;
    }
  }
  for (int step = 0; step <= kSteps; ++step) {
    const float inv = (kLevels - 1 + 0.1f * static_cast<float>(step)) / range;
    int n[kBlock];
    float sum_n = 0, sum_n2 = 0, sum_xn = 0;
    for (int i = 0; i < kBlock; ++i) {
      n[i] = std::min(kLevels, nearest_nonneg(inv * (x[i] - lo)));
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

// V / UNIT rounded to the nearest of 0..63 (a zero unit: 0).
uint8_t six_bit_multiple(float v, float unit) {
  if (!(unit > 0)) return 0;
  return static_cast<uint8_t>(std::clamp(nearest_nonneg(std::max(v, 0.0f) / unit), 0, 63));
}

}  // namespace

void quantize_row_q4_k(const float* x, void* row, int n) {
  const int nb = n / kBlock;
  auto* pairs = static_cast<uint8_t*>(row);
  Q4KHeader* headers = row_headers(row, nb);
  std::fill_n(pairs, quants_bytes(DType::Q4_K, nb), uint8_t{0});  // an odd last block's high half
  for (int s = 0; s * kSuper < nb; ++s) {
    const int b0 = s * kSuper, blocks = std::min(kSuper, nb - b0);
    Fit fit[kSuper];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < blocks; ++j) {
      fit[j] = fit_block(x + static_cast<size_t>(b0 + j) * kBlock);
      max_scale = std::max(max_scale, fit[j].scale);
      max_min = std::max(max_min, fit[j].min);
    }
    Q4KHeader h{};  // a short last super-block's missing blocks: scale and minimum 0
    h.d = simd::f32_to_f16(max_scale / 63);
    h.dmin = simd::f32_to_f16(max_min / 63);
    const float d = simd::f16_to_f32(h.d), dmin = simd::f16_to_f32(h.dmin);
    for (int j = 0; j < blocks; ++j) {
      const uint8_t sc = six_bit_multiple(fit[j].scale, d), m = six_bit_multiple(fit[j].min, dmin);
      set_six_bits(h.scales, j, sc);
      set_six_bits(h.mins, j, m);
      // The nibbles again, on the grid the weights are read back on (blocks.h: exact products).
      const float step = d * static_cast<float>(sc), offset = dmin * static_cast<float>(m);
      const int b = b0 + j;
      const float* xb = x + static_cast<size_t>(b) * kBlock;
      uint8_t* pair = pairs + static_cast<size_t>(b / 2) * kBlock;
      const int shift = b % 2 * 4;
      for (int i = 0; i < kBlock; ++i) {
        // (x + offset) / step, clamped to 0..15; below 0 (x under the grid's bottom) is nibble 0.
        const float v = step > 0 ? (xb[i] + offset) / step : 0.0f;
        const int q = v > 0 ? std::min(kLevels, nearest_nonneg(v)) : 0;
        pair[i] = static_cast<uint8_t>(pair[i] | q << shift);
      }
    }
    std::memcpy(headers + s, &h, sizeof h);
  }
}

void dequantize_row_q4_k(const void* row, float* out, int n) {
  const int nb = n / kBlock;
  const auto* pairs = static_cast<const uint8_t*>(row);
  const Q4KHeader* headers = row_headers(row, nb);
  for (int b = 0; b < nb; ++b, out += kBlock) {
    const Q4KHeader& h = headers[b / kSuper];
    const int j = b % kSuper;
    // Both exact in fp32 (11-bit by 6-bit integers), and so is step * nibble: one rounding, at
    // the subtraction, whether or not it is fused.
    const float step = simd::f16_to_f32(h.d) * static_cast<float>(six_bits(h.scales, j));
    const float offset = simd::f16_to_f32(h.dmin) * static_cast<float>(six_bits(h.mins, j));
    const uint8_t* pair = pairs + static_cast<size_t>(b / 2) * kBlock;
    const int shift = b % 2 * 4;
    for (int i = 0; i < kBlock; ++i) {
      out[i] = step * static_cast<float>((pair[i] >> shift) & 0x0f) - offset;
    }
  }
}

}  // namespace loom::quant
