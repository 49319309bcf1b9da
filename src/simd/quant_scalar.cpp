// Portable products with quantized weights: the contract of quant_kernels.h written out lane by
// lane, so that the AVX2 set, which computes the same lanes in vectors, gives the same bits.
#include <cmath>
#include <cstdint>

#include "simd/half.h"
#include "simd/quant_kernels.h"

namespace loom::simd {
namespace {

using quant::ActBlock;
using quant::kBlock;

struct Q8 {
  using Block = quant::BlockQ8_0;
  static int at(const Block& b, int i) { return b.q[i]; }
};
struct Q4 {
  using Block = quant::BlockQ4_0;
  static int at(const Block& b, int i) {
    const int byte = b.q[i % (kBlock / 2)];
    return (i < kBlock / 2 ? byte & 0x0f : byte >> 4) - 8;
  }
};

// The same tree as AVX2's horizontal sum.
inline float reduce8(const float* a) {
  float s[4], t[2];
  for (int i = 0; i < 4; ++i) s[i] = a[i] + a[i + 4];
  for (int i = 0; i < 2; ++i) t[i] = s[i] + s[i + 2];
  return t[0] + t[1];
}

template <class L>
float dot_row(const typename L::Block* w, const ActBlock* x, int nb) {
  float acc[8] = {};
  for (int b = 0; b < nb; ++b) {
    const float s = f16_to_f32(w[b].d) * x[b].d;
    for (int l = 0; l < 8; ++l) {
      int32_t sum = 0;
      for (int i = 4 * l; i < 4 * l + 4; ++i) sum += L::at(w[b], i) * x[b].q[i];
      acc[l] += s * static_cast<float>(sum);
    }
  }
  return reduce8(acc);
}

template <class L>
void gemv(const void* w, size_t ldw, const ActBlock* x, int nb, float* out, int rows) {
  const auto* wb = static_cast<const typename L::Block*>(w);
  for (int r = 0; r < rows; ++r) out[r] = dot_row<L>(wb + r * ldw, x, nb);
}

template <class L>
void to_f32(const void* src, float* dst, size_t n) {
  const auto* blocks = static_cast<const typename L::Block*>(src);
  for (size_t i = 0; i < n; ++i) {
    const typename L::Block& b = blocks[i / kBlock];
    dst[i] = f16_to_f32(b.d) * static_cast<float>(L::at(b, static_cast<int>(i % kBlock)));
  }
}

void quantize_acts(const float* x, ActBlock* out, int k) {
  for (int b = 0; b < k / kBlock; ++b, x += kBlock) {
    // A NaN makes the scale NaN, so that it reaches the outputs as in the unquantized products.
    float amax = 0.0f;
    bool nan = false;
    for (int i = 0; i < kBlock; ++i) {
      amax = std::fmax(amax, std::fabs(x[i]));
      nan |= std::isnan(x[i]);
    }
    if (nan) amax = NAN;
    out[b].d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    for (int i = 0; i < kBlock; ++i) {
      float v = std::nearbyint(x[i] * id);
      // As AVX2's min and max order their operands, so a NaN lands where it does there.
      v = v < 127.0f ? v : 127.0f;
      v = v > -127.0f ? v : -127.0f;
      out[b].q[i] = static_cast<int8_t>(v);
    }
  }
}

}  // namespace

const QuantKernels& quant_scalar_kernels() {
  static const QuantKernels k = {
      quantize_acts,
      {gemv<Q8>, gemv<Q4>},
      {to_f32<Q8>, to_f32<Q4>},
  };
  return k;
}

}  // namespace loom::simd
