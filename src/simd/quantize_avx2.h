// What the AVX2 quantizers share (quantize_avx2.cpp, quantize_q4_k_avx2.cpp): reading a stretch
// of a source row as fp32, and packing 32 int32 lanes into the 32 bytes of a block.
//
// Internal linkage, as avx2_loaders.h: only AVX2 translation units include this.
#pragma once

#include <immintrin.h>

#include <cstddef>

#include "simd/avx2_loaders.h"

namespace loom::simd {
namespace {

// Weights AT..AT+N-1 (N a multiple of 8) of a row of L's dtype, as fp32 in OUT: a stretch small
// enough for L1, converted once and then read by every pass of the quantizer.
template <class L>
inline void load_stretch(const void* row, size_t at, int n, float* out) {
  for (int i = 0; i < n; i += 8) _mm256_storeu_ps(out + i, L::load8(row, 0, at + i));
}

// FN called with the loader of SRC_TYPE (F32, F16 or BF16).
template <class Fn>
inline void on_source(DType src_type, Fn&& fn) {
  if (src_type == DType::F16) {
    fn(F16{});
  } else if (src_type == DType::BF16) {
    fn(BF16{});
  } else {
    fn(F32{});
  }
}

// The 32 int32 lanes of A, B, C, D (weights 0-7, 8-15, 16-23, 24-31) as 32 bytes in order:
// signed (-128..127) when SIGNED, else unsigned (0..255).
template <bool Signed>
inline void store_bytes(void* out, __m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
  // Each 128-bit lane packs 4 + 4 + 4 + 4: the permutation puts the groups of four back in order.
  const __m256i bytes = Signed ? _mm256_packs_epi16(ab, cd) : _mm256_packus_epi16(ab, cd);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  _mm256_storeu_si256(static_cast<__m256i*>(out), _mm256_permutevar8x32_epi32(bytes, order));
}

}  // namespace
}  // namespace loom::simd
