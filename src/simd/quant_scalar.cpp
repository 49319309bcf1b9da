// Portable products with quantized weights: the contract of quant_kernels.h written out lane by
// lane, so that the AVX2 set, which computes the same lanes in vectors, gives the same bits.
#include <cmath>
#include <cstdint>
#include <vector>

#include "quant/quantize.h"
#include "simd/half.h"
#include "simd/kernels.h"
#include "simd/quant_kernels.h"
#include "simd/scalar_sums.h"

namespace loom::simd {
namespace {

using quant::ActBlocks;
using quant::kBlock;

// Weight i of block b of a row, as an integer: q, or nibble - 8 (block b in the low (even b) or
// high (odd b) nibbles of pair b / 2).
template <DType T>
int weight(const void* row, int b, int i) {
  if constexpr (T == DType::Q8_0) {
    return static_cast<const int8_t*>(row)[b * kBlock + i];
  } else {
    const uint8_t byte = static_cast<const uint8_t*>(row)[b / 2 * kBlock + i];
    return ((byte >> (b % 2 * 4)) & 0x0f) - 8;
  }
}

template <DType T>
float dot_row(const void* row, size_t ldw, const ActBlocks& x, int nb) {
  const uint16_t* d = quant::row_scales(T, row, ldw);
  float acc[8] = {};
  for (int b = 0; b < nb; ++b) {
    int32_t p = 0;
    for (int i = 0; i < kBlock; ++i) p += weight<T>(row, b, i) * x.q[b * kBlock + i];
    const float s = f16_to_f32(d[b]) * x.d[b];
    acc[b % 8] += s * static_cast<float>(p);
  }
  return reduce8(acc);
}

// Q4_K: lane j of super-block s takes block b = 8 s + j's two exact sums, each scaled on its own.
float dot_row_q4_k(const void* row, size_t ldw, const ActBlocks& x, int nb) {
  const quant::Q4KHeader* h = quant::row_headers(row, ldw);
  const auto* pairs = static_cast<const uint8_t*>(row);
  float acc[8] = {};
  for (int b = 0; b < nb; ++b) {
    const quant::Q4KHeader& hs = h[b / quant::kSuper];
    const int j = b % quant::kSuper;
    int32_t p = 0;
    for (int i = 0; i < kBlock; ++i) {
      p += ((pairs[b / 2 * kBlock + i] >> (b % 2 * 4)) & 0x0f) * x.q[b * kBlock + i];
    }
    const int32_t a = quant::six_bits(hs.scales, j) * p;
    const int32_t m = quant::six_bits(hs.mins, j) * (x.s8[b] / 8);
    const float s = f16_to_f32(hs.d) * x.d[b], t = f16_to_f32(hs.dmin) * x.d[b];
    acc[j] += s * static_cast<float>(a) - t * static_cast<float>(m);
  }
  return reduce8(acc);
}

template <DType T>
float dot_row_of(const void* row, size_t ldw, const ActBlocks& x, int nb) {
  if constexpr (T == DType::Q4_K) {
    return dot_row_q4_k(row, ldw, x, nb);
  } else {
    return dot_row<T>(row, ldw, x, nb);
  }
}

template <DType T>
void gemv(const void* w, size_t ldw, const ActBlocks& x, int nb, float* out, int rows) {
  const size_t row = quant::quant_row_bytes(T, ldw);
  for (int r = 0; r < rows; ++r) {
    out[r] = dot_row_of<T>(static_cast<const char*>(w) + r * row, ldw, x, nb);
  }
}

template <DType T>
void to_f32(const void* src, float* dst, size_t n) {
  const size_t nb = n / kBlock;
  const uint16_t* d = quant::row_scales(T, src, nb);
  for (size_t b = 0; b < nb; ++b) {
    for (int i = 0; i < kBlock; ++i) {
      dst[b * kBlock + i] =
          f16_to_f32(d[b]) * static_cast<float>(weight<T>(src, static_cast<int>(b), i));
    }
  }
}

// The reference dequantization itself: one formula (blocks.h), one rounding.
void quant_to_f32_q4_k(const void* src, float* dst, size_t n) {
  quant::dequantize_row_q4_k(src, dst, static_cast<int>(n));
}

void quantize_acts(const float* x, const ActBlocks& out, int k) {
  for (int b = 0; b < k / kBlock; ++b, x += kBlock) {
    // A NaN makes the scale NaN, so that it reaches the outputs as in the unquantized products.
    float amax = 0.0f;
    bool nan = false;
    for (int i = 0; i < kBlock; ++i) {
      amax = std::fmax(amax, std::fabs(x[i]));
      nan |= std::isnan(x[i]);
    }
    if (nan) amax = NAN;
    out.d[b] = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int32_t sum = 0;
    for (int i = 0; i < kBlock; ++i) {
      float v = std::nearbyint(x[i] * id);
      // As AVX2's min and max order their operands, so a NaN lands where it does there.
      v = v < 127.0f ? v : 127.0f;
      v = v > -127.0f ? v : -127.0f;
      out.q[b * kBlock + i] = static_cast<int8_t>(v);
      sum += out.q[b * kBlock + i];
    }
    out.s8[b] = 8 * sum;
  }
}

// The reference itself, on the row converted to fp32 as the scalar float kernels convert it.
template <DType T>
void quantize(const void* src, DType src_type, void* row, int n) {
  std::vector<float> x(static_cast<size_t>(n));
  scalar_kernels().to_f32[static_cast<int>(src_type)](src, x.data(), x.size());
  quant::quantize_row(T, x.data(), row, n);
}

}  // namespace

const QuantKernels& quant_scalar_kernels() {
  static const QuantKernels k = {
      quantize_acts,
      {gemv<DType::Q8_0>, gemv<DType::Q4_0>, gemv<DType::Q4_K>},
      {to_f32<DType::Q8_0>, to_f32<DType::Q4_0>, quant_to_f32_q4_k},
      {nullptr, nullptr, nullptr},
      {quantize<DType::Q8_0>, quantize<DType::Q4_0>, quantize<DType::Q4_K>},
      {nullptr, nullptr, nullptr},
      {ggml_gemv_scalar(DType::Q5_0), ggml_gemv_scalar(DType::Q5_1), ggml_gemv_scalar(DType::Q5_K),
       ggml_gemv_scalar(DType::Q6_K)},
  };
  return k;
}

}  // namespace loom::simd
