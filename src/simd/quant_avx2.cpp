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

// A block's 32 weights as signed bytes, in order.
struct Q8 {
  using Block = quant::BlockQ8_0;
  static __m256i load(const Block& b) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.q));
  }
};
struct Q4 {
  using Block = quant::BlockQ4_0;
  static __m256i load(const Block& b) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.q));
    const __m128i nibble = _mm_set1_epi8(0x0f);
    const __m128i lo = _mm_and_si128(raw, nibble);                     // weights 0..15
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(raw, 4), nibble);  // weights 16..31
    return _mm256_sub_epi8(_mm256_set_m128i(hi, lo), _mm256_set1_epi8(8));
  }
};

// Lanes (i, i+4), then (i, i+2), then (0, 1): the scalar set's reduce8.
inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

// R rows of W times T rows of X, every block of W loaded once for the T tokens.
template <class L, int R, int T>
void tile(const typename L::Block* w, size_t ldw, const ActBlock* x, size_t ldx, int nb, float* out,
          size_t ldo) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  for (int b = 0; b < nb; ++b) {
    __m256i wq[R], wabs[R];
    __m256 wd[R];
    for (int r = 0; r < R; ++r) {
      const typename L::Block& blk = w[r * ldw + b];
      wq[r] = L::load(blk);
      wabs[r] = _mm256_abs_epi8(wq[r]);
      wd[r] = _mm256_set1_ps(_cvtsh_ss(blk.d));
    }
    for (int t = 0; t < T; ++t) {
      const ActBlock& xb = x[t * ldx + b];
      const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.q));
      const __m256 xd = _mm256_set1_ps(xb.d);
      for (int r = 0; r < R; ++r) {
        const __m256i p16 = _mm256_maddubs_epi16(wabs[r], _mm256_sign_epi8(xq, wq[r]));
        const __m256 p = _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, ones));
        acc[r][t] = _mm256_add_ps(acc[r][t], _mm256_mul_ps(_mm256_mul_ps(wd[r], xd), p));
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) out[t * ldo + r] = hsum8(acc[r][t]);
}

template <class L>
using TileFn = void (*)(const typename L::Block*, size_t, const ActBlock*, size_t, int, float*,
                        size_t);
constexpr int kRows = 2;    // W rows per tile
constexpr int kTokens = 4;  // X rows per tile
constexpr int kChunk = 64;  // X rows kept hot in L2 while W streams past

template <class L, int R, int... T>
constexpr std::array<TileFn<L>, sizeof...(T)> tiles_for_rows(std::integer_sequence<int, T...>) {
  return {tile<L, R, T + 1>...};
}

template <class L>
struct Tiles {
  // table[r-1][t-1]: the tile for r rows and t tokens.
  static constexpr std::array<std::array<TileFn<L>, kTokens>, kRows> table = {
      tiles_for_rows<L, 1>(std::make_integer_sequence<int, kTokens>{}),
      tiles_for_rows<L, 2>(std::make_integer_sequence<int, kTokens>{}),
  };
};

template <class L>
void gemm(const void* w, size_t ldw, const ActBlock* x, size_t ldx, int m, int nb, float* out,
          size_t ldo, int rows) {
  const auto* wb = static_cast<const typename L::Block*>(w);
  for (int t0 = 0; t0 < m; t0 += kChunk) {
    const int t1 = std::min(m, t0 + kChunk);
    for (int r = 0; r < rows; r += kRows) {
      const int nr = std::min(kRows, rows - r);
      for (int t = t0; t < t1; t += kTokens) {
        const int nt = std::min(kTokens, t1 - t);
        Tiles<L>::table[nr - 1][nt - 1](wb + r * ldw, ldw, x + t * ldx, ldx, nb, out + t * ldo + r,
                                        ldo);
      }
    }
  }
}

template <class L>
void gemv(const void* w, size_t ldw, const ActBlock* x, int nb, float* out, int rows) {
  const auto* wb = static_cast<const typename L::Block*>(w);
  int r = 0;
  for (; r + 4 <= rows; r += 4) tile<L, 4, 1>(wb + r * ldw, ldw, x, 0, nb, out + r, 0);
  for (; r < rows; ++r) tile<L, 1, 1>(wb + r * ldw, ldw, x, 0, nb, out + r, 0);
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
      {gemm<Q8>, gemm<Q4>},
      {to_f32<Q8>, to_f32<Q4>},
  };
  return k;
}

}  // namespace loom::simd
