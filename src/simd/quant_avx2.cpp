// AVX2 products with quantized weights. Compiled with -mavx2 -mfma -mf16c -ffp-contract=off (no
// FMA: the contract of quant_kernels.h rounds products and sums apart, as the scalar set does).
//
// gemv takes a row's blocks eight at a time. A block's product starts as 8 int32 lanes of
// partial sums: _mm256_maddubs_epi16 of unsigned weights and signed activations (pairs of
// products summed to int16, which cannot saturate: |w|, |x| <= 127 for Q8_0's |w| times x
// carrying w's sign, nibbles <= 15 for Q4_0), then _mm256_madd_epi16 by ones. The eight blocks'
// vectors are transposed and added into one vector whose lane j is block j's product; Q4_0
// subtracts 8 * sum x there (its weights are nibble - 8), and one conversion, two products and
// one sum scale and accumulate all eight blocks, their eight scales read in one load each.
//
// Q4_K's groups of eight blocks are its super-blocks: the same nibble products (Q4_0's group, no
// offset), then the header's eight 6-bit scales and minimums unpacked to int32 lanes by two
// 4-byte loads, a variable shift and a mask each, two integer products make lane j's A and B
// (quant_kernels.h), and a handful of fp32 operations scale and accumulate the eight blocks.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "simd/avx2_sums.h"
#include "simd/half.h"
#include "simd/quant_kernels.h"
#include "simd/stream_prefetch.h"

namespace loom::simd {
namespace {

using quant::ActBlocks;
using quant::kBlock;

#define LOOM_INLINE inline __attribute__((always_inline))

LOOM_INLINE __m256i load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

LOOM_INLINE __m256i maddubs(__m256i w, __m256i x) {
  return _mm256_maddubs_epi16(w, x);
}

// The same from sixteen int16 lanes a block, whose sums over eight lanes fit in int16: three
// rounds in int16 leave each 128-bit half with the eight blocks' sums over its eight lanes, and
// the halves are widened and added.
LOOM_INLINE __m256i transpose_add16(const __m256i p[8]) {
  __m256i t[4];
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm256_add_epi16(_mm256_unpacklo_epi16(p[2 * i], p[2 * i + 1]),
                            _mm256_unpackhi_epi16(p[2 * i], p[2 * i + 1]));
  }
  const __m256i u0 =
      _mm256_add_epi16(_mm256_unpacklo_epi32(t[0], t[1]), _mm256_unpackhi_epi32(t[0], t[1]));
  const __m256i u1 =
      _mm256_add_epi16(_mm256_unpacklo_epi32(t[2], t[3]), _mm256_unpackhi_epi32(t[2], t[3]));
  const __m256i v = _mm256_add_epi16(_mm256_unpacklo_epi64(u0, u1), _mm256_unpackhi_epi64(u0, u1));
  // v: (blocks 0..7 over their lanes 0..7 | blocks 0..7 over their lanes 8..15).
  return _mm256_add_epi32(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(v)),
                          _mm256_cvtepi16_epi32(_mm256_extracti128_si256(v, 1)));
}

// The N (<= 8) blocks from B0 of a row against X: group() sets P[j] to block j's pairs of
// products summed to int16 (zero for j >= n), products() makes lane j block j's product (for
// Q4_0, sum n x). weights() is a block's weights as int8 (for to_f32).
struct Q8 {
  static constexpr DType kType = DType::Q8_0;
  // |w| unsigned times x carrying w's sign.
  static LOOM_INLINE void group(const uint8_t* row, int b0, const int8_t* xq, int n, __m256i p[8]) {
    for (int j = 0; j < 8; ++j) {
      if (j < n) {
        const __m256i w = load256(row + (b0 + j) * kBlock);
        const __m256i x = load256(xq + (b0 + j) * kBlock);
        p[j] = maddubs(_mm256_abs_epi8(w), _mm256_sign_epi8(x, w));
      } else {
        p[j] = _mm256_setzero_si256();
      }
    }
  }
  // A lane of P is up to 2 * 127 * 127: pairs are summed to int32 (madd by ones) first.
  static LOOM_INLINE __m256i products(__m256i p[8]) {
    for (int j = 0; j < 8; ++j) p[j] = _mm256_madd_epi16(p[j], _mm256_set1_epi16(1));
    return transpose_add32(p);
  }
  static __m256i weights(const uint8_t* row, int b) { return load256(row + b * kBlock); }
};
struct Q4 {
  static constexpr DType kType = DType::Q4_0;
  // Block b's nibbles 0..15, in weight order: the low or high halves of pair b / 2.
  static LOOM_INLINE __m256i nibbles(__m256i pair, bool high) {
    const __m256i mask = _mm256_set1_epi8(0x0f);
    return _mm256_and_si256(high ? _mm256_srli_epi16(pair, 4) : pair, mask);
  }
  // The nibbles are unsigned already: no sign trick. B0 is even: whole pairs, the last maybe
  // half used.
  static LOOM_INLINE void group(const uint8_t* row, int b0, const int8_t* xq, int n, __m256i p[8]) {
    for (int j = 0; j < 8; j += 2) {
      if (j < n) {
        const __m256i pair = load256(row + (b0 + j) / 2 * kBlock);
        p[j] = maddubs(nibbles(pair, false), load256(xq + (b0 + j) * kBlock));
        p[j + 1] = j + 1 < n ? maddubs(nibbles(pair, true), load256(xq + (b0 + j + 1) * kBlock))
                             : _mm256_setzero_si256();
      } else {
        p[j] = p[j + 1] = _mm256_setzero_si256();
      }
    }
  }
  // A lane of P is up to 2 * 15 * 127, so sums of eight fit in int16.
  static LOOM_INLINE __m256i products(__m256i p[8]) { return transpose_add16(p); }
  static __m256i weights(const uint8_t* row, int b) {
    const __m256i n = nibbles(load256(row + b / 2 * kBlock), b % 2 != 0);
    return _mm256_sub_epi8(n, _mm256_set1_epi8(8));
  }
};

// Q4_K: the eight 6-bit fields of F (a header's scales or mins, blocks.h), one a lane. The
// second load reads the byte after the field's six, still inside the 16-byte header.
LOOM_INLINE __m256i six_bit_fields(const uint8_t* f) {
  uint32_t lo, hi;
  std::memcpy(&lo, f, 4);
  std::memcpy(&hi, f + 3, 4);
  const __m256i v =
      _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi32(static_cast<int>(lo))),
                              _mm_set1_epi32(static_cast<int>(hi)), 1);
  return _mm256_and_si256(_mm256_srlv_epi32(v, _mm256_setr_epi32(0, 6, 12, 18, 0, 6, 12, 18)),
                          _mm256_set1_epi32(63));
}

// Lane j of super-block H: acc + ((d * d_x) * A - (dmin * d_x) * B), A = sc * P (P = sum n x),
// B = m * S8 / 8, rounded apart as the scalar set does.
LOOM_INLINE __m256 accumulate_q4_k(__m256 acc, __m256i p, __m256i s8, const quant::Q4KHeader& h,
                                   __m256 dx) {
  const __m256i a = _mm256_mullo_epi32(six_bit_fields(h.scales), p);
  const __m256i b = _mm256_mullo_epi32(six_bit_fields(h.mins), _mm256_srai_epi32(s8, 3));
  const __m256 s = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(h.d)), dx);
  const __m256 t = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(h.dmin)), dx);
  return _mm256_add_ps(acc, _mm256_sub_ps(_mm256_mul_ps(s, _mm256_cvtepi32_ps(a)),
                                          _mm256_mul_ps(t, _mm256_cvtepi32_ps(b))));
}

// acc + (d_w * d_x) * float(p), lane by lane, rounded apart (no FMA: the contract). For Q4_0, P
// is sum n x and S8 = 8 sum x.
template <class L>
LOOM_INLINE __m256 accumulate(__m256 acc, __m256i p, __m256i s8, __m128i dw, __m256 dx) {
  if constexpr (L::kType == DType::Q4_0) p = _mm256_sub_epi32(p, s8);
  const __m256 s = _mm256_mul_ps(_mm256_cvtph_ps(dw), dx);
  return _mm256_add_ps(acc, _mm256_mul_ps(s, _mm256_cvtepi32_ps(p)));
}

// The scales of blocks B0 .. B0 + N (N <= 8) of a row, as gemv's accumulate step takes them:
// Q8_0's and Q4_0's eight fp16 scales (zero past N), Q4_K's super-block header (a whole one
// even for a short last super-block).
template <class L>
LOOM_INLINE __m128i group_scales(const uint8_t* row, size_t ldw, int b0, int n) {
  const uint16_t* dw = quant::row_scales(L::kType, row, ldw) + b0;
  if (n == 8) return _mm_loadu_si128(reinterpret_cast<const __m128i*>(dw));
  alignas(16) uint16_t tail[8] = {};
  std::copy_n(dw, n, tail);
  return _mm_load_si128(reinterpret_cast<const __m128i*>(tail));
}
// Q4_K's blocks: Q4_0's nibble products, its own scales.
struct Q4K : Q4 {
  static constexpr DType kType = DType::Q4_K;
  static LOOM_INLINE const quant::Q4KHeader* scales(const uint8_t* row, size_t ldw, int b0, int) {
    return quant::row_headers(row, ldw) + b0 / quant::kSuper;
  }
  static LOOM_INLINE __m256 accumulate(__m256 acc, __m256i p, __m256i s8, const quant::Q4KHeader* h,
                                       __m256 dx) {
    return accumulate_q4_k(acc, p, s8, *h, dx);
  }
};
template <class L>
struct Scaled : L {
  static LOOM_INLINE __m128i scales(const uint8_t* row, size_t ldw, int b0, int n) {
    return group_scales<L>(row, ldw, b0, n);
  }
  static LOOM_INLINE __m256 accumulate(__m256 acc, __m256i p, __m256i s8, __m128i dw, __m256 dx) {
    return simd::accumulate<L>(acc, p, s8, dw, dx);
  }
};

// L: Scaled<Q8>, Scaled<Q4> or Q4K (group, products, scales, accumulate).
template <class L>
void gemv(const void* w, size_t ldw, const ActBlocks& x, int nb, float* out, int rows) {
  const auto* base = static_cast<const uint8_t*>(w);
  const size_t row_bytes = quant::quant_row_bytes(L::kType, ldw);
  const int groups = nb / 8, rem = nb % 8, tail = groups * 8;
  StreamPrefetch prefetch(base, row_bytes, rows, groups + (rem > 0 ? 1 : 0));
  // The activations' tail, zero past NB: those lanes add +0 (Q4_K: (d * 0) * 0 - (dmin * 0) * 0).
  alignas(32) float dx_tail[8] = {};
  alignas(32) int32_t s8_tail[8] = {};
  std::copy_n(x.d + tail, rem, dx_tail);
  std::copy_n(x.s8 + tail, rem, s8_tail);

  for (int r = 0; r < rows; ++r) {
    const uint8_t* row = base + r * row_bytes;
    __m256 acc = _mm256_setzero_ps();
    for (int g = 0; g < groups; ++g) {
      prefetch.before(r, g);
      __m256i p[8];
      L::group(row, 8 * g, x.q, 8, p);
      acc = L::accumulate(acc, L::products(p), load256(x.s8 + 8 * g), L::scales(row, ldw, 8 * g, 8),
                          _mm256_loadu_ps(x.d + 8 * g));
    }
    if (rem > 0) {  // for Q4_K a short last super-block, or the first blocks of one (NB < LDW)
      prefetch.before(r, groups);
      __m256i p[8];
      L::group(row, tail, x.q, rem, p);
      acc =
          L::accumulate(acc, L::products(p), _mm256_load_si256(reinterpret_cast<__m256i*>(s8_tail)),
                        L::scales(row, ldw, tail, rem), _mm256_load_ps(dx_tail));
    }
    out[r] = hsum8(acc);
  }
}

// Q4_K: step * n - offset per block (blocks.h), the product exact, so one rounding as the
// reference's.
void to_f32_q4_k(const void* src, float* dst, size_t n) {
  const auto* row = static_cast<const uint8_t*>(src);
  const int nb = static_cast<int>(n / kBlock);
  const quant::Q4KHeader* h = quant::row_headers(src, nb);
  for (int b = 0; b < nb; ++b) {
    const quant::Q4KHeader& hs = h[b / quant::kSuper];
    alignas(32) int32_t sc[8], mn[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(sc), six_bit_fields(hs.scales));
    _mm256_store_si256(reinterpret_cast<__m256i*>(mn), six_bit_fields(hs.mins));
    const int j = b % quant::kSuper;
    const __m256 step = _mm256_set1_ps(_cvtsh_ss(hs.d) * static_cast<float>(sc[j]));
    const __m256 offset = _mm256_set1_ps(_cvtsh_ss(hs.dmin) * static_cast<float>(mn[j]));
    alignas(32) uint8_t q[kBlock];
    _mm256_store_si256(reinterpret_cast<__m256i*>(q),
                       Q4::nibbles(load256(row + b / 2 * kBlock), b % 2 != 0));
    for (int i = 0; i < kBlock; i += 8) {
      const __m256i qi = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<__m128i*>(q + i)));
      _mm256_storeu_ps(dst + b * kBlock + i,
                       _mm256_sub_ps(_mm256_mul_ps(step, _mm256_cvtepi32_ps(qi)), offset));
    }
  }
}

template <class L>
void to_f32(const void* src, float* dst, size_t n) {
  const auto* row = static_cast<const uint8_t*>(src);
  const int nb = static_cast<int>(n / kBlock);
  const uint16_t* ds = quant::row_scales(L::kType, src, nb);
  for (int b = 0; b < nb; ++b) {
    alignas(32) int8_t q[kBlock];
    _mm256_store_si256(reinterpret_cast<__m256i*>(q), L::weights(row, b));
    const __m256 d = _mm256_set1_ps(_cvtsh_ss(ds[b]));
    for (int i = 0; i < kBlock; i += 8) {
      const __m256i qi = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<__m128i*>(q + i)));
      _mm256_storeu_ps(dst + b * kBlock + i, _mm256_mul_ps(d, _mm256_cvtepi32_ps(qi)));
    }
  }
}

void quantize_acts(const float* x, const ActBlocks& out, int k) {
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
    out.d[b] = a / 127.0f;
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
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.q + b * kBlock),
                        _mm256_permutevar8x32_epi32(q16, order));
    const __m256i s = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
    out.s8[b] = 8 * _mm_cvtsi128_si32(t);
  }
}

}  // namespace

const QuantKernels& quant_avx2_kernels() {
  static const QuantKernels k = {
      quantize_acts,
      {gemv<Scaled<Q8>>, gemv<Scaled<Q4>>, gemv<Q4K>},
      {to_f32<Q8>, to_f32<Q4>, to_f32_q4_k},
      {quant_avx2_gemm(DType::Q8_0), quant_avx2_gemm(DType::Q4_0), quant_avx2_gemm(DType::Q4_K)},
      {quant_avx2_quantize(DType::Q8_0), quant_avx2_quantize(DType::Q4_0),
       quant_avx2_quantize(DType::Q4_K)},
      {nullptr, nullptr, nullptr},
      {ggml_gemv_avx2(DType::Q5_0), ggml_gemv_avx2(DType::Q5_1), ggml_gemv_avx2(DType::Q5_K),
       ggml_gemv_avx2(DType::Q6_K)},
  };
  return k;
}

}  // namespace loom::simd
