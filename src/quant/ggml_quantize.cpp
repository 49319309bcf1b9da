#include "quant/ggml_quantize.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "quant/block_fit.h"
#include "quant/blocks.h"
#include "quant/ggml_blocks.h"
#include "quant/quantize.h"
#include "simd/half.h"

namespace loom::quant {
namespace {

using namespace ggml;

// Nearest integer of V (ties to even; |V| < 2^22, or clamped: a NaN gives LO), clamped to
// LO..HI, without a library call (1.5 * 2^23 added and taken away leaves no fraction bits).
int nearest_in(float v, int lo, int hi) {
  constexpr float kMagic = 12582912.0f;
  const float r = std::clamp((v + kMagic) - kMagic, static_cast<float>(lo), static_cast<float>(hi));
  return r >= static_cast<float>(lo) ? static_cast<int>(r) : lo;
}

void q5_0(const float* x, block_q5_0* y, int nb) {
  for (int b = 0; b < nb; ++b, x += QK, ++y) {
    float big = 0;
    for (int i = 0; i < QK; ++i) {
      if (std::fabs(x[i]) > std::fabs(big)) big = x[i];
    }
    y->d = simd::f32_to_f16(big / -16);
    const float d = simd::f16_to_f32(y->d);
    const float inv = d != 0 ? 1 / d : 0;
    uint32_t qh = 0;
    for (int i = 0; i < QK / 2; ++i) {
      const int lo = nearest_in(x[i] * inv + 16, 0, 31);
      const int hi = nearest_in(x[i + QK / 2] * inv + 16, 0, 31);
      y->qs[i] = static_cast<uint8_t>((lo & 15) | (hi & 15) << 4);
      qh |= static_cast<uint32_t>(lo >> 4) << i | static_cast<uint32_t>(hi >> 4) << (i + 16);
    }
    std::memcpy(y->qh, &qh, 4);
  }
}

// Weights d q + m: m the block's minimum and d its range over 31 (both fp16), q placed on that
// grid.
void q5_1(const float* x, block_q5_1* y, int nb) {
  for (int b = 0; b < nb; ++b, x += QK, ++y) {
    float lo = x[0], hi = x[0];
    for (int i = 1; i < QK; ++i) {
      lo = std::min(lo, x[i]);
      hi = std::max(hi, x[i]);
    }
    y->d = simd::f32_to_f16((hi - lo) / 31);
    y->m = simd::f32_to_f16(lo);
    const float d = simd::f16_to_f32(y->d), m = simd::f16_to_f32(y->m);
    const float inv = d != 0 ? 1 / d : 0;
    uint32_t qh = 0;
    for (int i = 0; i < QK / 2; ++i) {
      const int a = nearest_in((x[i] - m) * inv, 0, 31);
      const int c = nearest_in((x[i + QK / 2] - m) * inv, 0, 31);
      y->qs[i] = static_cast<uint8_t>((a & 15) | (c & 15) << 4);
      qh |= static_cast<uint32_t>(a >> 4) << i | static_cast<uint32_t>(c >> 4) << (i + 16);
    }
    std::memcpy(y->qh, &qh, 4);
  }
}

// V / UNIT rounded to the nearest of 0..63 (a zero unit: 0).
int six_bit_multiple(float v, float unit) {
  if (!(unit > 0)) return 0;
  return std::clamp(nearest_nonneg(std::max(v, 0.0f) / unit), 0, 63);
}

void q5_k(const float* x, block_q5_K* y, int nb) {
  for (int s = 0; s < nb; ++s, x += QK_K, ++y) {
    ScaleMin fit[8];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; ++j) {
      fit[j] = fit_scale_min(x + 32 * j, 31);
      max_scale = std::max(max_scale, fit[j].scale);
      max_min = std::max(max_min, fit[j].min);
    }
    y->d = simd::f32_to_f16(max_scale / 63);
    y->dmin = simd::f32_to_f16(max_min / 63);
    const float d = simd::f16_to_f32(y->d), dmin = simd::f16_to_f32(y->dmin);
    int sc[8], m[8];
    std::memset(y->qs, 0, sizeof y->qs);
    std::memset(y->qh, 0, sizeof y->qh);
    for (int j = 0; j < 8; ++j) {
      sc[j] = six_bit_multiple(fit[j].scale, d);
      m[j] = six_bit_multiple(fit[j].min, dmin);
      const float step = d * static_cast<float>(sc[j]), offset = dmin * static_cast<float>(m[j]);
      for (int i = 0; i < 32; ++i) {
        const float v = step > 0 ? (x[32 * j + i] + offset) / step : 0.0f;
        const int q = v > 0 ? std::min(31, nearest_nonneg(v)) : 0;
        y->qs[32 * (j / 2) + i] |= static_cast<uint8_t>((q & 15) << (4 * (j % 2)));
        y->qh[i] |= static_cast<uint8_t>((q >> 4) << j);
      }
    }
    pack_scale_min_k(sc, m, y->scales);
  }
}

void q6_k(const float* x, block_q6_K* y, int nb) {
  for (int s = 0; s < nb; ++s, x += QK_K, ++y) {
    float scale[16], big = 0;
    for (int j = 0; j < 16; ++j) {
      scale[j] = fit_scale_q6(x + 16 * j, 16);
      if (std::fabs(scale[j]) > std::fabs(big)) big = scale[j];
    }
    y->d = simd::f32_to_f16(big / -128);
    const float d = simd::f16_to_f32(y->d);
    const float inv = d != 0 ? 1 / d : 0;
    std::memset(y->ql, 0, sizeof y->ql);
    std::memset(y->qh, 0, sizeof y->qh);
    for (int j = 0; j < 16; ++j) {
      const int sc = nearest_in(scale[j] * inv, -128, 127);
      y->scales[j] = static_cast<int8_t>(sc);
      const float step = d * static_cast<float>(sc);
      for (int i = 0; i < 16; ++i) {
        const int e = 16 * j + i;  // weight e of the super-block
        const int q = step != 0 ? nearest_in(x[e] / step, -32, 31) + 32 : 32;
        // Half h = e / 128, run r = e / 32 % 4, position l = e % 32 (ggml_gemv_scalar.cpp).
        const int h = e / 128, r = e / 32 % 4, l = e % 32;
        y->ql[64 * h + 32 * (r % 2) + l] |= static_cast<uint8_t>((q & 15) << (4 * (r / 2)));
        y->qh[32 * h + l] |= static_cast<uint8_t>((q >> 4) << (2 * r));
      }
    }
  }
}

}  // namespace

void quantize_matrix_ggml(const void* src, DType src_type, int rows, int cols, DType type,
                          void* dst, int threads) {
  const size_t in_row = row_bytes(src_type, cols), out_row = row_bytes(type, cols);
  if (threads <= 0) threads = omp_get_max_threads();
  threads = std::max(1, std::min(threads, rows));
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> x(static_cast<size_t>(cols));
#pragma omp for schedule(dynamic, 16)
    for (int r = 0; r < rows; ++r) {
      row_to_f32(src_type, static_cast<const char*>(src) + r * in_row, x.data(), cols);
      quantize_row_ggml(type, x.data(), static_cast<char*>(dst) + r * out_row, cols);
    }
  }
}

void quantize_row_ggml(DType type, const float* x, void* row, int n) {
  switch (type) {
    case DType::Q5_0:
      q5_0(x, static_cast<block_q5_0*>(row), n / QK);
      break;
    case DType::Q5_1:
      q5_1(x, static_cast<block_q5_1*>(row), n / QK);
      break;
    case DType::Q5_K:
      q5_k(x, static_cast<block_q5_K*>(row), n / QK_K);
      break;
    case DType::Q6_K:
      q6_k(x, static_cast<block_q6_K*>(row), n / QK_K);
      break;
    default:
      break;
  }
}

}  // namespace loom::quant
