// What the AVX-512 VNNI decode products share (quant_avx512.cpp, ggml_gemv_avx512.cpp): loads,
// the unsigned-by-signed dot product, the transposition that makes eight registers of two
// blocks' partial sums one vector of sixteen block sums, and the contract's final reduction.
//
// Internal linkage on purpose, as in avx2_loaders.h: only units compiled with -mavx512f
// -mavx512bw -mavx512vl -mavx512vnni include it.
#pragma once

#include <immintrin.h>

#include "simd/avx2_sums.h"

namespace loom::simd {
namespace {

#define LOOM_INLINE inline __attribute__((always_inline))

LOOM_INLINE __m512i load512(const void* p) {
  return _mm512_loadu_si512(p);
}
// 32 bytes into the low half, zeros above (nothing read past them).
LOOM_INLINE __m512i load256_zext(const void* p) {
  return _mm512_zextsi256_si512(_mm256_loadu_si256(static_cast<const __m256i*>(p)));
}

LOOM_INLINE __m512i dpbusd(__m512i u, __m512i s) {
  return _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, s);
}

// P[k] holds blocks 2k (lanes 0..7) and 2k + 1 (lanes 8..15) as eight int32 partial sums each;
// lane j of the result = block j's sum. Pairs of registers interleaved and added (lanes of 32,
// then 64 bits, within each 128-bit quarter), then one two-source permute per half gathers
// each block's two quarters into its lane, and one sum adds them.
LOOM_INLINE __m512i transpose_add(const __m512i p[8]) {
  __m512i t[4];
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_add_epi32(_mm512_unpacklo_epi32(p[2 * i], p[2 * i + 1]),
                            _mm512_unpackhi_epi32(p[2 * i], p[2 * i + 1]));
  }
  // Quarter q of u0, position m: the sum of quarter q of P[m] (blocks 2m, 2m + 1 over quarters 0,
  // 1 and 2, 3); u1 the same for P[4 + m] (blocks 8 + 2m, 9 + 2m).
  const __m512i u0 =
      _mm512_add_epi32(_mm512_unpacklo_epi64(t[0], t[1]), _mm512_unpackhi_epi64(t[0], t[1]));
  const __m512i u1 =
      _mm512_add_epi32(_mm512_unpacklo_epi64(t[2], t[3]), _mm512_unpackhi_epi64(t[2], t[3]));
  // Block j's first half: u0 (index < 16) or u1 (16 + ...), quarter 0 (even j) or 2 (odd j),
  // position j / 2 % 4; its second half one quarter on.
  const __m512i first = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 16, 24, 17, 25, 18, 26, 19, 27);
  const __m512i second = _mm512_add_epi32(first, _mm512_set1_epi32(4));
  return _mm512_add_epi32(_mm512_permutex2var_epi32(u0, first, u1),
                          _mm512_permutex2var_epi32(u0, second, u1));
}

// A in lanes 0..7, B in 8..15 (AVX-512 F only: no DQ insert).
LOOM_INLINE __m512 halves(float a, float b) {
  return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_set1_ps(a)),
                                             _mm256_castps_pd(_mm256_set1_ps(b)), 1));
}

}  // namespace
}  // namespace loom::simd
