// Q4_K rows (quant/blocks.h) from fp32 and back: the reference code, scalar, run once at load.
//
// Each block of 32 weights gets the scale and minimum of least squared error of quant/block_fit.h
// (15 levels). The eight blocks' scales and minimums are then rounded to 6 bits against
// the super-block's d = max scale / 63 and dmin = max minimum / 63 (fp16), and the nibbles placed
// again on the rounded grid. Everything is a function of the row alone, in a fixed order: the
// bytes do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "quant/block_fit.h"
#include "quant/quantize.h"
#include "simd/half.h"

namespace loom::quant {
namespace {

constexpr int kLevels = 15;  // nibbles 0..15

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
    ScaleMin fit[kSuper];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < blocks; ++j) {
      fit[j] = fit_scale_min(x + static_cast<size_t>(b0 + j) * kBlock, kLevels);
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
