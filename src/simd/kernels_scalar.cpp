// Portable kernels: any x86-64 (or other) CPU. Each kernel sums in the same order as its AVX2
// counterpart (gemv and dot: eight partial sums reduced as a tree; gemm: one sum in k order), so
// the two sets differ only by FMA's single rounding.
#include <cstdint>

#include "quant/blocks.h"
#include "simd/half.h"
#include "simd/kernels.h"

namespace loom::simd {
namespace {

struct LoadF32 {
  static float at(const void* p, size_t i) { return static_cast<const float*>(p)[i]; }
};
struct LoadF16 {
  static float at(const void* p, size_t i) {
    return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
  }
};
struct LoadBF16 {
  static float at(const void* p, size_t i) {
    return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
  }
};

struct LoadQ8 {
  static float at(const void* p, size_t i) {
    const auto& b = static_cast<const quant::BlockQ8_0*>(p)[i / quant::kBlock];
    return f16_to_f32(b.d) * static_cast<float>(b.q[i % quant::kBlock]);
  }
};
struct LoadQ4 {
  static float at(const void* p, size_t i) {
    const auto& b = static_cast<const quant::BlockQ4_0*>(p)[i / quant::kBlock];
    const size_t o = i % quant::kBlock, half = quant::kBlock / 2;
    const int n = o < half ? (b.q[o] & 0x0f) : (b.q[o - half] >> 4);
    return f16_to_f32(b.d) * static_cast<float>(n - 8);
  }
};

inline float reduce8(const float* a) {
  float s[4], t[2];
  for (int i = 0; i < 4; ++i) s[i] = a[i] + a[i + 4];
  for (int i = 0; i < 2; ++i) t[i] = s[i] + s[i + 2];
  return t[0] + t[1];
}

template <class Load>
float dot_row(const void* w, size_t off, const float* x, int k) {
  float acc[8] = {};
  int i = 0;
  for (; i + 8 <= k; i += 8) {
    for (int l = 0; l < 8; ++l) acc[l] += Load::at(w, off + i + l) * x[i + l];
  }
  float sum = reduce8(acc);
  for (; i < k; ++i) sum += Load::at(w, off + i) * x[i];
  return sum;
}

template <class Load>
void gemv(const void* w, size_t ldw, const float* x, int k, float* out, int rows) {
  for (int r = 0; r < rows; ++r) out[r] = dot_row<Load>(w, r * ldw, x, k);
}

// One sum in k order per output, as the AVX2 gemm's FMA chain (unfused here).
template <class Load>
void gemm(const void* w, size_t ldw, const float* x, size_t ldx, int m, int k, float* out,
          size_t ldo, int rows) {
  for (int r = 0; r < rows; ++r) {
    for (int t = 0; t < m; ++t) {
      float sum = 0.0f;
      for (int i = 0; i < k; ++i) sum += Load::at(w, r * ldw + i) * x[t * ldx + i];
      out[t * ldo + r] = sum;
    }
  }
}

template <class Load>
void to_f32(const void* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = Load::at(src, i);
}

float dot(const float* a, const float* b, int n) {
  return dot_row<LoadF32>(a, 0, b, n);
}

void axpy(float a, const float* x, float* y, int n) {
  for (int i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace

const Kernels& scalar_kernels() {
  static const Kernels k = {
      {gemv<LoadF32>, gemv<LoadF16>, gemv<LoadBF16>},
      {gemm<LoadF32>, gemm<LoadF16>, gemm<LoadBF16>, gemm<LoadQ8>, gemm<LoadQ4>},
      {to_f32<LoadF32>, to_f32<LoadF16>, to_f32<LoadBF16>},
      dot,
      axpy,
  };
  return k;
}

}  // namespace loom::simd
