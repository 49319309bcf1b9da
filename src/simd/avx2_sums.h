// The two reductions every AVX2 product kernel ends with, and the AVX-512 units reuse: the
// horizontal sum of an 8-lane fp32 accumulator in the contract's order, and the transposition
// that makes eight registers of partial int32 sums one vector of eight block sums.
//
// Internal linkage on purpose, as in avx2_loaders.h: each unit that includes this is compiled
// for its own instruction set, and a shared inline function with external linkage could be
// resolved to an AVX-512 unit's copy and then run on a CPU without AVX-512.
#pragma once

#include <immintrin.h>

namespace loom::simd {
namespace {

// Lanes (i, i+4), then (i, i+2), then (0, 1): the scalar set's reduce8 (scalar_sums.h), the
// order kernels.h and quant_kernels.h fix for every 8-lane accumulator.
inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

// Lane j of the result = the sum of P[j]'s eight int32 lanes: pairs of vectors interleaved and
// added (lanes of 32, then 64 bits, then the 128-bit halves), 21 simple operations. Integer sums:
// any order gives the same value.
inline __attribute__((always_inline)) __m256i transpose_add32(const __m256i p[8]) {
  __m256i t[4];
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm256_add_epi32(_mm256_unpacklo_epi32(p[2 * i], p[2 * i + 1]),
                            _mm256_unpackhi_epi32(p[2 * i], p[2 * i + 1]));
  }
  // t[i]: (a0 b0 a1 b1 | a2 b2 a3 b3) for blocks a = 2i, b = 2i + 1.
  const __m256i u0 =
      _mm256_add_epi32(_mm256_unpacklo_epi64(t[0], t[1]), _mm256_unpackhi_epi64(t[0], t[1]));
  const __m256i u1 =
      _mm256_add_epi32(_mm256_unpacklo_epi64(t[2], t[3]), _mm256_unpackhi_epi64(t[2], t[3]));
  // u0: blocks 0..3 (first half of their sums | second half), u1: blocks 4..7.
  return _mm256_add_epi32(_mm256_permute2x128_si256(u0, u1, 0x20),
                          _mm256_permute2x128_si256(u0, u1, 0x31));
}

}  // namespace
}  // namespace loom::simd
