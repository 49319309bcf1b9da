// Q8_0 and Q4_0 rows from F32, F16 or BF16 weights with AVX2, bit for bit the bytes of the scalar
// reference (quant/quantize.cpp) on the weights converted to fp32. Compiled with -mavx2 -mfma
// -mf16c -ffp-contract=off: every operation is the reference's own, rounded on its own.
//
// Exactness: the reference's q is round-half-away-from-zero of r = x / d, the quotient rounded
// to fp32 (x and d are floats), the half added in double. Here r is the same vdivps quotient, and
// the rounding is done exactly in fp32: t = trunc(r) and r - t are exact, so |r - t| >= 0.5
// decides the step away from zero with no rounding at all (adding 0.5 in fp32 would round
// 0.49999997 up). NaN quotients (a NaN weight, or inf / inf in a block whose scale overflowed
// to inf) are what the reference's conversion to int64 makes of them on x86, the most negative
// value, clamped: q = -127, nibble 0; finite quotients are at most about 200 in magnitude (d is
// max|x| / 127 or / 8 rounded to fp16), so no other value reaches the conversion's limits.
//
// The fp16 scales of eight blocks are rounded together with F16C (round to nearest even, as
// simd::f32_to_f16 for every non-NaN value; the scales are never NaN).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "quant/blocks.h"
#include "simd/quant_kernels.h"
#include "simd/quantize_avx2.h"

namespace loom::simd {
namespace {

using quant::kBlock;

constexpr int kGroup = 8;  // blocks whose scales are converted to fp16 together

#define LOOM_INLINE inline __attribute__((always_inline))

LOOM_INLINE __m256 abs_ps(__m256 v) {
  return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}

// max |x| over a block, NaN left out as the reference's std::max(amax, |x|) leaves it out.
LOOM_INLINE float abs_max(const float* x) {
  __m256 m = _mm256_setzero_ps();
  // max_ps(v, m) is m where v is NaN (vmaxps returns its second operand then).
  for (int i = 0; i < kBlock; i += 8) m = _mm256_max_ps(abs_ps(_mm256_loadu_ps(x + i)), m);
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}

// round-half-away-from-zero of x / d, exactly (see the top), NaN kept.
LOOM_INLINE __m256 scaled(__m256 x, __m256 d) {
  const __m256 r = _mm256_div_ps(x, d);
  const __m256 t = _mm256_round_ps(r, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 up = _mm256_cmp_ps(abs_ps(_mm256_sub_ps(r, t)), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  const __m256 one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(r, _mm256_set1_ps(-0.0f)));
  return _mm256_add_ps(t, _mm256_and_ps(up, one));
}

// clamp(v, lo, hi) as std::clamp for numbers; NaN gives LO (max_ps's second operand).
LOOM_INLINE __m256i clamped(__m256 v, float lo, float hi) {
  v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(lo)), _mm256_set1_ps(hi));
  return _mm256_cvtps_epi32(v);  // an integer already: exact
}

// The fp16 scales of up to eight blocks, V[j] rounded, stored at DS (BLOCKS of them) and read
// back as fp32 into D.
LOOM_INLINE void round_scales(const float* v, int blocks, uint16_t* ds, float* d) {
  const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(v), _MM_FROUND_TO_NEAREST_INT);
  alignas(16) uint16_t hs[kGroup];
  _mm_store_si128(reinterpret_cast<__m128i*>(hs), h);
  std::memcpy(ds, hs, sizeof(uint16_t) * static_cast<size_t>(blocks));
  _mm256_storeu_ps(d, _mm256_cvtph_ps(h));
}

template <class L>
void quantize_q8_0(const void* src, void* row, int n) {
  const int nb = n / kBlock;
  auto* q = static_cast<int8_t*>(row);
  uint16_t* ds = quant::row_scales(DType::Q8_0, row, nb);
  alignas(32) float x[kGroup * kBlock];
  for (int b0 = 0; b0 < nb; b0 += kGroup) {
    const int blocks = std::min(kGroup, nb - b0);
    load_stretch<L>(src, static_cast<size_t>(b0) * kBlock, blocks * kBlock, x);
    alignas(32) float v[kGroup] = {}, d[kGroup];
    for (int j = 0; j < blocks; ++j) v[j] = abs_max(x + j * kBlock);
    _mm256_store_ps(v, _mm256_div_ps(_mm256_load_ps(v), _mm256_set1_ps(127.0f)));
    round_scales(v, blocks, ds + b0, d);
    for (int j = 0; j < blocks; ++j) {
      int8_t* out = q + static_cast<size_t>(b0 + j) * kBlock;
      if (d[j] == 0.0f) {  // the reference's zero scale: all-zero quants
        std::memset(out, 0, kBlock);
        continue;
      }
      const __m256 dv = _mm256_set1_ps(d[j]);
      __m256i c[4];
      for (int k = 0; k < 4; ++k) {
        c[k] = clamped(scaled(_mm256_loadu_ps(x + j * kBlock + 8 * k), dv), -127.0f, 127.0f);
      }
      store_bytes<true>(out, c[0], c[1], c[2], c[3]);
    }
  }
}

// Block X's nibbles (0..15) in four vectors of int32 lanes.
LOOM_INLINE void q4_0_nibbles(const float* x, float d, __m256i* c) {
  if (d == 0.0f) {  // the reference's zero scale: every weight 0, nibble 8
    for (int k = 0; k < 4; ++k) c[k] = _mm256_set1_epi32(8);
    return;
  }
  const __m256 dv = _mm256_set1_ps(d), eight = _mm256_set1_ps(8.0f);
  for (int k = 0; k < 4; ++k) {
    c[k] = clamped(_mm256_add_ps(scaled(_mm256_loadu_ps(x + 8 * k), dv), eight), 0.0f, 15.0f);
  }
}

// The weight of largest magnitude, with its sign, the first of them (the reference replaces its
// pick only on a strictly larger magnitude): +0 for a block of zeros (and NaN).
LOOM_INLINE float q4_0_big(const float* x) {
  const float amax = abs_max(x);
  if (amax == 0.0f) return 0.0f;
  const __m256 m = _mm256_set1_ps(amax);
  uint32_t hits = 0;
  for (int k = 0; k < 4; ++k) {
    const __m256 eq = _mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + 8 * k)), m, _CMP_EQ_OQ);
    hits |= static_cast<uint32_t>(_mm256_movemask_ps(eq)) << (8 * k);
  }
  return x[__builtin_ctz(hits)];
}

template <class L>
void quantize_q4_0(const void* src, void* row, int n) {
  const int nb = n / kBlock;
  auto* pairs = static_cast<uint8_t*>(row);
  uint16_t* ds = quant::row_scales(DType::Q4_0, row, nb);
  alignas(32) float x[kGroup * kBlock];
  for (int b0 = 0; b0 < nb; b0 += kGroup) {
    const int blocks = std::min(kGroup, nb - b0);
    load_stretch<L>(src, static_cast<size_t>(b0) * kBlock, blocks * kBlock, x);
    alignas(32) float v[kGroup] = {}, d[kGroup];
    for (int j = 0; j < blocks; ++j) v[j] = q4_0_big(x + j * kBlock);
    _mm256_store_ps(v, _mm256_div_ps(_mm256_load_ps(v), _mm256_set1_ps(-8.0f)));
    round_scales(v, blocks, ds + b0, d);
    // Blocks in pairs (b0 is even): the even one's nibbles low, the odd one's (0 past the row's
    // end) high.
    for (int j = 0; j < blocks; j += 2) {
      __m256i lo[4], hi[4];
      q4_0_nibbles(x + j * kBlock, d[j], lo);
      if (j + 1 < blocks) {
        q4_0_nibbles(x + (j + 1) * kBlock, d[j + 1], hi);
      } else {
        for (int k = 0; k < 4; ++k) hi[k] = _mm256_setzero_si256();
      }
      for (int k = 0; k < 4; ++k) lo[k] = _mm256_or_si256(lo[k], _mm256_slli_epi32(hi[k], 4));
      store_bytes<false>(pairs + static_cast<size_t>(b0 + j) / 2 * kBlock, lo[0], lo[1], lo[2],
                         lo[3]);
    }
  }
}

void q8_0(const void* src, DType src_type, void* row, int n) {
  on_source(src_type, [&](auto l) { quantize_q8_0<decltype(l)>(src, row, n); });
}

void q4_0(const void* src, DType src_type, void* row, int n) {
  on_source(src_type, [&](auto l) { quantize_q4_0<decltype(l)>(src, row, n); });
}

}  // namespace

QuantKernels::Quantize quant_avx2_quantize(DType t) {
  return t == DType::Q8_0 ? q8_0 : t == DType::Q4_0 ? q4_0 : quantize_q4_k_avx2;
}

}  // namespace loom::simd
