// AVX2 + FMA + F16C kernels (Haswell, Zen and later). Compiled with -mavx2 -mfma -mf16c; called
// only when cpuid reports all three.
//
// Every output is one 8-lane FMA accumulator over k, reduced by hsum8, then the k % 8 tail added
// with scalar FMAs: the same for gemv, gemm and dot, so batch size never changes a result.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "simd/half.h"
#include "simd/kernels.h"

namespace loom::simd {
namespace {

struct F32 {
  static __m256 load8(const void* p, size_t i) {
    return _mm256_loadu_ps(static_cast<const float*>(p) + i);
  }
  static float load1(const void* p, size_t i) { return static_cast<const float*>(p)[i]; }
};
struct F16 {
  static __m256 load8(const void* p, size_t i) {
    return _mm256_cvtph_ps(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + i)));
  }
  static float load1(const void* p, size_t i) {
    return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
  }
};
struct BF16 {
  static __m256 load8(const void* p, size_t i) {
    __m128i h =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static float load1(const void* p, size_t i) {
    return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
  }
};

inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

// R rows of W times T rows of X: R*T accumulators live in registers (R*T + R + 1 <= 16).
template <class L, int R, int T>
void tile(const void* w, size_t ldw, const float* x, size_t ldx, int k, float* out, size_t ldo) {
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= k; i += 8) {
    __m256 wv[R];
    for (int r = 0; r < R; ++r) wv[r] = L::load8(w, r * ldw + i);
    for (int t = 0; t < T; ++t) {
      const __m256 xv = _mm256_loadu_ps(x + t * ldx + i);
      for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) {
      float s = hsum8(acc[r][t]);
      for (int j = i; j < k; ++j) s = std::fma(L::load1(w, r * ldw + j), x[t * ldx + j], s);
      out[t * ldo + r] = s;
    }
  }
}

using TileFn = void (*)(const void*, size_t, const float*, size_t, int, float*, size_t);
constexpr int kRows = 3;    // W rows per tile
constexpr int kTokens = 4;  // X rows per tile
constexpr int kChunk = 64;  // X rows kept hot in L2 while W streams past

template <class L, int R, int... T>
constexpr std::array<TileFn, sizeof...(T)> tiles_for_rows(std::integer_sequence<int, T...>) {
  return {tile<L, R, T + 1>...};
}

template <class L>
struct Tiles {
  // table[r-1][t-1]: the tile for r rows and t tokens.
  static constexpr std::array<std::array<TileFn, kTokens>, kRows> table = {
      tiles_for_rows<L, 1>(std::make_integer_sequence<int, kTokens>{}),
      tiles_for_rows<L, 2>(std::make_integer_sequence<int, kTokens>{}),
      tiles_for_rows<L, 3>(std::make_integer_sequence<int, kTokens>{}),
  };
};

template <class L>
void gemm(const void* w, size_t ldw, const float* x, size_t ldx, int m, int k, float* out,
          size_t ldo, int rows) {
  constexpr size_t esize = std::is_same_v<L, F32> ? 4 : 2;
  const auto* wb = static_cast<const uint8_t*>(w);
  for (int t0 = 0; t0 < m; t0 += kChunk) {
    const int t1 = std::min(m, t0 + kChunk);
    for (int r = 0; r < rows; r += kRows) {
      const int nr = std::min(kRows, rows - r);
      const void* wr = wb + r * ldw * esize;
      for (int t = t0; t < t1; t += kTokens) {
        const int nt = std::min(kTokens, t1 - t);
        Tiles<L>::table[nr - 1][nt - 1](wr, ldw, x + t * ldx, ldx, k, out + t * ldo + r, ldo);
      }
    }
  }
}

template <class L>
void gemv(const void* w, size_t ldw, const float* x, int k, float* out, int rows) {
  constexpr size_t esize = std::is_same_v<L, F32> ? 4 : 2;
  const auto* wb = static_cast<const uint8_t*>(w);
  int r = 0;
  for (; r + 4 <= rows; r += 4) tile<L, 4, 1>(wb + r * ldw * esize, ldw, x, 0, k, out + r, 0);
  for (; r < rows; ++r) tile<L, 1, 1>(wb + r * ldw * esize, ldw, x, 0, k, out + r, 0);
}

template <class L>
void to_f32(const void* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, L::load8(src, i));
  for (; i < n; ++i) dst[i] = L::load1(src, i);
}

float dot(const float* a, const float* b, int n) {
  float out;
  tile<F32, 1, 1>(a, 0, b, 0, n, &out, 0);
  return out;
}

void axpy(float a, const float* x, float* y, int n) {
  const __m256 av = _mm256_set1_ps(a);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] = std::fma(a, x[i], y[i]);
}

}  // namespace

const Kernels& avx2_kernels() {
  static const Kernels k = {
      {gemv<F32>, gemv<F16>, gemv<BF16>},
      {gemm<F32>, gemm<F16>, gemm<BF16>},
      {to_f32<F32>, to_f32<F16>, to_f32<BF16>},
      dot,
      axpy,
  };
  return k;
}

}  // namespace loom::simd
