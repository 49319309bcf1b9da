#include "quant/ggml_dequant.h"

#include <cstring>

#include "quant/ggml_blocks.h"
#include "simd/cpu.h"
#include "simd/half.h"

namespace loom::quant {
namespace {

using namespace ggml;

// Q5_0: 32 weights d * (q - 16), the low 4 bits of q in qs (weights j and j + 16 in byte j's
// low and high halves), the fifth bit of weight j in bit j of qh.
void q5_0(const block_q5_0* x, float* y, int nb) {
  for (int b = 0; b < nb; ++b, ++x, y += QK) {
    const float d = simd::f16_to_f32(x->d);
    uint32_t qh;
    std::memcpy(&qh, x->qh, 4);
    for (int j = 0; j < QK / 2; ++j) {
      const int lo = (x->qs[j] & 15) | static_cast<int>((qh >> j) << 4 & 16);
      const int hi = (x->qs[j] >> 4) | static_cast<int>((qh >> (j + 12)) & 16);
      y[j] = static_cast<float>(lo - 16) * d;
      y[j + QK / 2] = static_cast<float>(hi - 16) * d;
    }
  }
}

// Q5_1: 32 weights d * q + m, q's bits as Q5_0's.
void q5_1(const block_q5_1* x, float* y, int nb) {
  for (int b = 0; b < nb; ++b, ++x, y += QK) {
    const float d = simd::f16_to_f32(x->d), m = simd::f16_to_f32(x->m);
    uint32_t qh;
    std::memcpy(&qh, x->qh, 4);
    for (int j = 0; j < QK / 2; ++j) {
      const int lo = (x->qs[j] & 15) | static_cast<int>((qh >> j) << 4 & 16);
      const int hi = (x->qs[j] >> 4) | static_cast<int>((qh >> (j + 12)) & 16);
      y[j] = static_cast<float>(lo) * d + m;
      y[j + QK / 2] = static_cast<float>(hi) * d + m;
    }
  }
}

// Q5_K: 8 sub-blocks of 32, weight d * sc * q - dmin * m; the low 4 bits of q as Q4_K's (sub-
// blocks 2c and 2c + 1 in the halves of bytes 32c..32c+31), the fifth bit of sub-block s's
// weight l in bit s of qh[l].
void q5_k(const block_q5_K* x, float* y, int nb) {
  for (int b = 0; b < nb; ++b, ++x) {
    const float d = simd::f16_to_f32(x->d), dmin = simd::f16_to_f32(x->dmin);
    const uint8_t* ql = x->qs;
    for (int c = 0; c < 4; ++c, ql += 32) {
      int sc, m;
      scale_min_k(x->scales, 2 * c, sc, m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      scale_min_k(x->scales, 2 * c + 1, sc, m);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) {
        const int q = (ql[l] & 15) | ((x->qh[l] >> (2 * c) & 1) << 4);
        *y++ = d1 * static_cast<float>(q) - m1;
      }
      for (int l = 0; l < 32; ++l) {
        const int q = (ql[l] >> 4) | ((x->qh[l] >> (2 * c + 1) & 1) << 4);
        *y++ = d2 * static_cast<float>(q) - m2;
      }
    }
  }
}

// Q6_K: 16 sub-blocks of 16, weight d * scale * (q - 32), q's low 4 bits in ql and its high 2
// in qh, in two halves of 128 weights laid out as ggml lays them.
void q6_k(const block_q6_K* x, float* y, int nb) {
  for (int b = 0; b < nb; ++b, ++x) {
    const float d = simd::f16_to_f32(x->d);
    const uint8_t* ql = x->ql;
    const uint8_t* qh = x->qh;
    const int8_t* sc = x->scales;
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, y += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 15) | ((qh[l] >> 0 & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 15) | ((qh[l] >> 2 & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | ((qh[l] >> 4 & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6 & 3) << 4)) - 32;
        y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

}  // namespace

// Compiled with -ffp-contract=off (CMakeLists.txt): no product and sum above may be fused, so
// src/simd/ggml_dequant_avx2.cpp, which rounds each on its own, gives the same bits.
void dequantize_row_ggml_scalar(DType type, const void* row, float* out, int n) {
  switch (type) {
    case DType::Q5_0:
      q5_0(static_cast<const block_q5_0*>(row), out, n / QK);
      break;
    case DType::Q5_1:
      q5_1(static_cast<const block_q5_1*>(row), out, n / QK);
      break;
    case DType::Q5_K:
      q5_k(static_cast<const block_q5_K*>(row), out, n / QK_K);
      break;
    case DType::Q6_K:
      q6_k(static_cast<const block_q6_K*>(row), out, n / QK_K);
      break;
    default:
      break;
  }
}

void dequantize_row_ggml(DType type, const void* row, float* out, int n) {
  static const bool avx2 = simd::best_isa() != simd::Isa::Scalar;
  if (avx2) {
    dequantize_row_ggml_avx2(type, row, out, n);
  } else {
    dequantize_row_ggml_scalar(type, row, out, n);
  }
}

}  // namespace loom::quant
