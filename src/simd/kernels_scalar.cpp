// Portable kernels: any x86-64 (or other) CPU. Each kernel sums in the same order as its AVX2
// counterpart (gemv and dot: eight partial sums reduced as a tree; gemm: one sum in k order), so
// the two sets differ only by FMA's single rounding.
#include <cstdint>

#include "quant/blocks.h"
#include "simd/half.h"
#include "simd/kernels.h"
#include "simd/scalar_sums.h"

namespace loom::simd {
namespace {

// A loader reads W's rows of LDW weights: row(w, ldw, r) is where row r starts, at(row, ldw, c)
// its weight c as fp32 (a quantized row finds its scales after its LDW quants).
template <class T, float (*Convert)(T)>
struct LoadPlain {
  static const void* row(const void* w, size_t ldw, size_t r) {
    return static_cast<const T*>(w) + r * ldw;
  }
  static float at(const void* row, size_t /*ldw*/, size_t c) {
    return Convert(static_cast<const T*>(row)[c]);
  }
};
inline float f32_id(float v) {
  return v;
}
using LoadF32 = LoadPlain<float, f32_id>;
using LoadF16 = LoadPlain<uint16_t, f16_to_f32>;
using LoadBF16 = LoadPlain<uint16_t, bf16_to_f32>;

template <DType T>
struct LoadQuant {
  static const void* row(const void* w, size_t ldw, size_t r) {
    return static_cast<const char*>(w) + r * quant::quant_row_bytes(T, ldw / quant::kBlock);
  }
  static float at(const void* row, size_t ldw, size_t c) {
    const size_t b = c / quant::kBlock;
    const float d = f16_to_f32(quant::row_scales(T, row, ldw / quant::kBlock)[b]);
    int q;
    if constexpr (T == DType::Q8_0) {
      q = static_cast<const int8_t*>(row)[c];
    } else {  // block b in the low (even b) or high (odd b) nibbles of pair b / 2
      const uint8_t byte =
          static_cast<const uint8_t*>(row)[b / 2 * quant::kBlock + c % quant::kBlock];
      q = ((byte >> (b % 2 * 4)) & 0x0f) - 8;
    }
    return d * static_cast<float>(q);
  }
};
using LoadQ8 = LoadQuant<DType::Q8_0>;
using LoadQ4 = LoadQuant<DType::Q4_0>;

// Q4_K (quant/blocks.h): step * n - offset, one rounding, as the reference dequantization.
struct LoadQ4K {
  static const void* row(const void* w, size_t ldw, size_t r) {
    return static_cast<const char*>(w) +
           r * quant::quant_row_bytes(DType::Q4_K, ldw / quant::kBlock);
  }
  static float at(const void* row, size_t ldw, size_t c) {
    const size_t b = c / quant::kBlock;
    const quant::Q4KHeader& h = quant::row_headers(row, ldw / quant::kBlock)[b / quant::kSuper];
    const int j = static_cast<int>(b % quant::kSuper);
    const float step = f16_to_f32(h.d) * static_cast<float>(quant::six_bits(h.scales, j));
    const float offset = f16_to_f32(h.dmin) * static_cast<float>(quant::six_bits(h.mins, j));
    const uint8_t byte =
        static_cast<const uint8_t*>(row)[b / 2 * quant::kBlock + c % quant::kBlock];
    return step * static_cast<float>((byte >> (b % 2 * 4)) & 0x0f) - offset;
  }
};

template <class Load>
float dot_row(const void* row, size_t ldw, const float* x, int k) {
  float acc[8] = {};
  int i = 0;
  for (; i + 8 <= k; i += 8) {
    for (int l = 0; l < 8; ++l) acc[l] += Load::at(row, ldw, i + l) * x[i + l];
  }
  float sum = reduce8(acc);
  for (; i < k; ++i) sum += Load::at(row, ldw, i) * x[i];
  return sum;
}

template <class Load>
void gemv(const void* w, size_t ldw, const float* x, int k, float* out, int rows) {
  for (int r = 0; r < rows; ++r) out[r] = dot_row<Load>(Load::row(w, ldw, r), ldw, x, k);
}

// One sum in k order per output, as the AVX2 gemm's FMA chain (unfused here).
template <class Load>
void gemm(const void* w, size_t ldw, const float* x, size_t ldx, int m, int k, float* out,
          size_t ldo, int rows) {
  for (int r = 0; r < rows; ++r) {
    const void* row = Load::row(w, ldw, r);
    for (int t = 0; t < m; ++t) {
      float sum = 0.0f;
      for (int i = 0; i < k; ++i) sum += Load::at(row, ldw, i) * x[t * ldx + i];
      out[t * ldo + r] = sum;
    }
  }
}

template <class Load>
void to_f32(const void* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = Load::at(src, n, i);
}

float dot(const float* a, const float* b, int n) {
  return dot_row<LoadF32>(a, n, b, n);
}

void axpy(float a, const float* x, float* y, int n) {
  for (int i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace

const Kernels& scalar_kernels() {
  static const Kernels k = {
      {gemv<LoadF32>, gemv<LoadF16>, gemv<LoadBF16>},
      {gemm<LoadF32>, gemm<LoadF16>, gemm<LoadBF16>, gemm<LoadQ8>, gemm<LoadQ4>, gemm<LoadQ4K>},
      {to_f32<LoadF32>, to_f32<LoadF16>, to_f32<LoadBF16>},
      dot,
      axpy,
  };
  return k;
}

}  // namespace loom::simd
