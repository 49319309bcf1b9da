// AVX2 products with quantized weights. Compiled with -mavx2 -mfma -mf16c -ffp-contract=off (no
// FMA: the contract of quant_kernels.h rounds products and sums apart, as the scalar set does).
//
// A block product is _mm256_maddubs_epi16 of |w| (unsigned) and x carrying w's sign (signed):
// pairs of products summed to int16, which cannot saturate as |w|, |x| <= 127; then
// _mm256_madd_epi16 by ones sums pairs again, leaving lane l with products 4l..4l+3.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <utility>

#include "simd/half.h"
#include "simd/quant_kernels.h"

namespace loom::simd {
namespace {

using quant::ActBlock;
using quant::kBlock;

// A block's integer products with x, as 8 int32 lanes: lane l = sum of products 4l..4l+3.
// XS8 is lane l = 8 * (x[4l] + ... + x[4l+3]), for Q4_0's offset.
struct Q8 {
  using Block = quant::BlockQ8_0;
  static __m256i load(const Block& b) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.q));
  }
  // |w| unsigned times x carrying w's sign: pairs summed to int16 cannot saturate (|w|, |x| <=
  // 127), then madd by ones sums pairs again.
  static __m256i dot(const Block& b, __m256i xq, __m256i /*xs8*/) {
    const __m256i w = load(b);
    const __m256i p16 = _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(xq, w));
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
  }
};
struct Q4 {
  using Block = quant::BlockQ4_0;
  // The stored nibbles 0..15, in weight order.
  static __m256i nibbles(const Block& b) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.q));
    const __m128i mask = _mm_set1_epi8(0x0f);
    const __m128i lo = _mm_and_si128(raw, mask);                     // weights 0..15
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(raw, 4), mask);  // weights 16..31
    return _mm256_set_m128i(hi, lo);
  }
  static __m256i load(const Block& b) { return _mm256_sub_epi8(nibbles(b), _mm256_set1_epi8(8)); }
  // sum (n - 8) x = sum n x - 8 sum x, exactly: the nibbles are unsigned already, so no sign
  // trick (n x pairs <= 2 * 15 * 127).
  static __m256i dot(const Block& b, __m256i xq, __m256i xs8) {
    const __m256i p16 = _mm256_maddubs_epi16(nibbles(b), xq);
    return _mm256_sub_epi32(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)), xs8);
  }
};

// Lanes (i, i+4), then (i, i+2), then (0, 1): the scalar set's reduce8.
inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

// acc + (d_w * d_x) * lanes, rounded apart (no FMA: the contract).
template <class L>
inline __m256 accumulate(__m256 acc, const typename L::Block& w, __m256i xq, __m256i xs8,
                         __m256 xd) {
  const __m256 s = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(w.d)), xd);
  return _mm256_add_ps(acc, _mm256_mul_ps(s, _mm256_cvtepi32_ps(L::dot(w, xq, xs8))));
}

// Decode is a stream through the whole matrix, each row a few KiB: the hardware prefetcher,
// restarting on every row, left one core at 5-8 GB/s; asking for the rows kAhead ahead keeps
// the stream going (measured: 9-11 GB/s).
constexpr int kAhead = 8;

// Rows R (4 or 1) of W against one token's blocks; AHEAD points kAhead rows further (or at W
// itself near the end).
template <class L, int R>
void gemv_rows(const typename L::Block* w, const typename L::Block* ahead, size_t ldw,
               const ActBlock* x, int nb, float* out) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int b = 0; b < nb; ++b) {
    const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].q));
    const __m256i xs8 =
        _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(8), xq), _mm256_set1_epi16(1));
    const __m256 xd = _mm256_set1_ps(x[b].d);
    for (int r = 0; r < R; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(ahead + r * ldw + b), _MM_HINT_T0);
    }
    a0 = accumulate<L>(a0, w[b], xq, xs8, xd);
    if constexpr (R > 1) {
      a1 = accumulate<L>(a1, w[ldw + b], xq, xs8, xd);
      a2 = accumulate<L>(a2, w[2 * ldw + b], xq, xs8, xd);
      a3 = accumulate<L>(a3, w[3 * ldw + b], xq, xs8, xd);
    }
  }
  out[0] = hsum8(a0);
  if constexpr (R > 1) {
    out[1] = hsum8(a1);
    out[2] = hsum8(a2);
    out[3] = hsum8(a3);
  }
}

template <class L>
void gemv(const void* w, size_t ldw, const ActBlock* x, int nb, float* out, int rows) {
  const auto* wb = static_cast<const typename L::Block*>(w);
  int r = 0;
  for (; r < rows; r += (r + 4 <= rows ? 4 : 1)) {
    const auto* ahead = r + kAhead + 4 <= rows ? wb + (r + kAhead) * ldw : wb + r * ldw;
    if (r + 4 <= rows) {
      gemv_rows<L, 4>(wb + r * ldw, ahead, ldw, x, nb, out + r);
    } else {
      gemv_rows<L, 1>(wb + r * ldw, ahead, ldw, x, nb, out + r);
    }
  }
}

template <class L>
void to_f32(const void* src, float* dst, size_t n) {
  const auto* blocks = static_cast<const typename L::Block*>(src);
  for (size_t b = 0; b < n / kBlock; ++b) {
    alignas(32) int8_t q[kBlock];
    _mm256_store_si256(reinterpret_cast<__m256i*>(q), L::load(blocks[b]));
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(blocks[b].d));
    for (int i = 0; i < kBlock; i += 8) {
      const __m256i qi = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<__m128i*>(q + i)));
      _mm256_storeu_ps(dst + b * kBlock + i, _mm256_mul_ps(d, _mm256_cvtepi32_ps(qi)));
    }
  }
}

void quantize_acts(const float* x, ActBlock* out, int k) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 hi = _mm256_set1_ps(127.0f), lo = _mm256_set1_ps(-127.0f);
  for (int b = 0; b < k / kBlock; ++b, x += kBlock) {
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps(), nan = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      v[i] = _mm256_loadu_ps(x + 8 * i);
      amax = _mm256_max_ps(amax, _mm256_and_ps(v[i], abs_mask));
      nan = _mm256_or_ps(nan, _mm256_cmp_ps(v[i], v[i], _CMP_UNORD_Q));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    // A NaN makes the scale NaN, so that it reaches the outputs as in the unquantized products.
    const float a = _mm256_movemask_ps(nan) ? NAN : _mm_cvtss_f32(m);
    out[b].d = a / 127.0f;
    const __m256 id = _mm256_set1_ps(a != 0.0f ? 127.0f / a : 0.0f);
    __m256i q[4];
    for (int i = 0; i < 4; ++i) {
      const __m256 r =
          _mm256_round_ps(_mm256_mul_ps(v[i], id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      q[i] = _mm256_cvtps_epi32(_mm256_max_ps(_mm256_min_ps(r, hi), lo));
    }
    // packs interleave the 128-bit halves; the permute puts the eight groups of 4 back in order.
    const __m256i q16 =
        _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].q),
                        _mm256_permutevar8x32_epi32(q16, order));
  }
}

}  // namespace

const QuantKernels& quant_avx2_kernels() {
  static const QuantKernels k = {
      quantize_acts,
      {gemv<Q8>, gemv<Q4>},
      {to_f32<Q8>, to_f32<Q4>},
  };
  return k;
}

}  // namespace loom::simd
