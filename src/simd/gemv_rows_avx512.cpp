// gemv of several tokens at once with float weights (f32, f16, bf16), AVX-512: each token's
// outputs are the gemv's bits (kernels.h's contract: one 8-lane FMA accumulator a row over k,
// hsum8, the k % 8 tail in scalar FMAs), but each weight is loaded and converted once for the
// tokens of a pass instead of once a token. Compiled with the flags of kernels_avx512.cpp.
//
// A 16-lane register holds two rows' 8-lane accumulators side by side, against the token's 8
// activations broadcast to both halves: lane j of each half is the gemv's lane j of its row, the
// same FMAs in the same order. Eight rows (four registers) meet four tokens at a time: 16
// accumulators, 4 weights and a broadcast.
// GCC 12 reads the undefined upper halves its AVX-512 intrinsics start from as uninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <utility>

#include "simd/avx2_loaders.h"
#include "simd/kernels.h"

namespace loom::simd {
namespace {

constexpr int kPairs = 4;   // registers of weights: rows 2p and 2p + 1 each
constexpr int kTokens = 4;  // tokens a pass takes
// Bytes each row is requested ahead of its loads: eight rows are eight streams, more than the
// hardware prefetcher follows at once (the gemv's kAhead, kernels_avx2.cpp).
constexpr size_t kAhead = 2048;

// Rows P[2p] and P[2p + 1], weights I .. I + 7, as the low and high halves of one register.
template <class L>
inline __m512 two_rows(const void* const p[2 * kPairs], size_t ldw, int pair, size_t i) {
  const __m256d lo = _mm256_castps_pd(L::load8(p[2 * pair], ldw, i));
  const __m256d hi = _mm256_castps_pd(L::load8(p[2 * pair + 1], ldw, i));
  return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(lo), hi, 1));
}

// The NT tokens of X (LDX apart) against the eight rows at P: out[t * ldo + r] for r < n.
template <class L, int NT>
void rows_pass(const void* const p[2 * kPairs], size_t ldw, size_t elem, const float* x, size_t ldx,
               int k, float* out, size_t ldo, int n) {
  __m512 acc[kPairs][NT];
  for (int q = 0; q < kPairs; ++q) {
    for (int t = 0; t < NT; ++t) acc[q][t] = _mm512_setzero_ps();
  }
  const int k8 = k & ~7;
  for (int i = 0; i < k8; i += 8) {
    if ((i * elem) % 64 == 0) {
      for (int r = 0; r < 2 * kPairs; ++r) {
        _mm_prefetch(static_cast<const char*>(p[r]) + i * elem + kAhead, _MM_HINT_T0);
      }
    }
    __m512 w[kPairs];
    for (int q = 0; q < kPairs; ++q) w[q] = two_rows<L>(p, ldw, q, i);
    for (int t = 0; t < NT; ++t) {
      const __m512 xv = _mm512_castpd_ps(_mm512_broadcast_f64x4(
          _mm256_loadu_pd(reinterpret_cast<const double*>(x + t * ldx + i))));
      for (int q = 0; q < kPairs; ++q) acc[q][t] = _mm512_fmadd_ps(w[q], xv, acc[q][t]);
    }
  }
  for (int q = 0; q < kPairs; ++q) {
    for (int t = 0; t < NT; ++t) {
      const __m256 half[2] = {
          _mm512_castps512_ps256(acc[q][t]),
          _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[q][t]), 1))};
      for (int h = 0; h < 2; ++h) {
        const int r = 2 * q + h;
        if (r >= n) break;
        float s = hsum8(half[h]);
        for (int j = k8; j < k; ++j) s = std::fma(L::load1(p[r], ldw, j), x[t * ldx + j], s);
        out[t * ldo + r] = s;
      }
    }
  }
}

// rows_pass for 1 to kTokens tokens, indexed by the count less one.
template <class L, size_t... T>
constexpr auto passes(std::index_sequence<T...>) {
  return std::array{&rows_pass<L, static_cast<int>(T) + 1>...};
}
template <class L>
constexpr auto kPasses = passes<L>(std::make_index_sequence<kTokens>{});

template <class L>
void gemv_rows(const void* w, size_t ldw, const float* x, size_t ldx, int m, int k, float* out,
               size_t ldo, int rows) {
  const auto* base = static_cast<const uint8_t*>(w);
  const size_t row_bytes =
      static_cast<size_t>(static_cast<const uint8_t*>(L::row(w, ldw, 1)) - base);
  const size_t elem = row_bytes / ldw;
  for (int r0 = 0; r0 < rows; r0 += 2 * kPairs) {
    // Past ROWS, the last row again (read, never stored).
    const int n = std::min(2 * kPairs, rows - r0);
    const void* p[2 * kPairs];
    for (int r = 0; r < 2 * kPairs; ++r) p[r] = L::row(w, ldw, r0 + std::min(r, n - 1));
    for (int t0 = 0; t0 < m; t0 += kTokens) {
      const float* xt = x + t0 * ldx;
      float* o = out + t0 * ldo + r0;
      kPasses<L>[std::min(kTokens, m - t0) - 1](p, ldw, elem, xt, ldx, k, o, ldo, n);
    }
  }
}

}  // namespace

void avx512_gemv_rows(Kernels& s) {
  s.gemv_rows[static_cast<int>(DType::F32)] = gemv_rows<F32>;
  s.gemv_rows[static_cast<int>(DType::F16)] = gemv_rows<F16>;
  s.gemv_rows[static_cast<int>(DType::BF16)] = gemv_rows<BF16>;
}

}  // namespace loom::simd
