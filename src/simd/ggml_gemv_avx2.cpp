// AVX2 decode products with ggml's Q5_0, Q5_1, Q5_K and Q6_K blocks, read where they lie in a GGUF
// file. Compiled with -mavx2 -mfma -mf16c -ffp-contract=off (the contract of quant_kernels.h
// rounds products and sums apart, as ggml_gemv_scalar.cpp does).
//
// Each takes a row eight 32-weight sub-blocks at a time (a _K super-block, or eight Q5_0/Q5_1
// blocks):
// a sub-block's quants are rebuilt as 32 bytes (its low 4 bits masked or shifted out of the
// packed bytes, the high bits of the same bytes moved into place by one shift and mask), their
// products with the activations summed in pairs by _mm256_maddubs_epi16 (unsigned 5-bit quants,
// or Q6_K's signed q - 32 by the sign trick), and then to int32 lanes; the eight sub-blocks'
// vectors are transposed and added so that lane j holds sub-block j's exact integer sum, and one
// conversion and a few fp32 products scale and accumulate all eight, as the Q4_0 and Q4_K gemv
// of quant_avx2.cpp do. Q6_K's two scales a sub-block (one per 16 weights) are applied before the
// transposition, by the _mm256_madd_epi16 that widens the pair sums: its 16-bit multiplier holds
// the first scale in the low 128 bits (weights 0..15) and the second in the high 128.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "quant/ggml_blocks.h"
#include "simd/avx2_sums.h"
#include "simd/quant_kernels.h"
#include "simd/stream_prefetch.h"

namespace loom::simd {
namespace {

using quant::ActBlocks;
using quant::kBlock;
namespace g = quant::ggml;

#define LOOM_INLINE inline __attribute__((always_inline))

LOOM_INLINE __m256i load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// Unsigned quants (< 32) against signed activations, to int32 partial sums.
LOOM_INLINE __m256i dot_u(__m256i q, const int8_t* x) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(q, load256(x)), _mm256_set1_epi16(1));
}

// Bit B of each byte of V moved to bit 4 (other bits cleared): one 16-bit shift, whose bits
// crossing between the two bytes of a lane the mask then clears.
template <int B>
LOOM_INLINE __m256i bit_to_4(__m256i v) {
  const __m256i m = _mm256_set1_epi8(0x10);
  if constexpr (B < 4) return _mm256_and_si256(_mm256_slli_epi16(v, 4 - B), m);
  if constexpr (B == 4) return _mm256_and_si256(v, m);
  if constexpr (B > 4) return _mm256_and_si256(_mm256_srli_epi16(v, B - 4), m);
}

// Q5_0 or Q5_1 (B): the eight blocks B0 .. B0 + 8 of a row; lane j: sum q x over block j (q =
// 0..31).
template <class B>
LOOM_INLINE __m256i q5_products(const B* blk, const int8_t* xq) {
  // Bit i of qh to byte i: each byte takes the qh byte holding its bit, tests its own bit.
  const __m256i spread =
      _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303);
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201));
  __m256i p[8];
  for (int j = 0; j < 8; ++j) {
    const __m128i qs = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[j].qs));
    const __m256i nib = _mm256_and_si256(
        _mm256_inserti128_si256(_mm256_castsi128_si256(qs), _mm_srli_epi16(qs, 4), 1),
        _mm256_set1_epi8(0x0f));
    uint32_t qh;
    std::memcpy(&qh, blk[j].qh, 4);
    const __m256i h = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(qh)), spread);
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(h, bit), bit);
    const __m256i q = _mm256_or_si256(nib, _mm256_and_si256(set, _mm256_set1_epi8(0x10)));
    p[j] = dot_u(q, xq + j * kBlock);
  }
  return transpose_add32(p);
}

// Q5_K: super-block S's eight sub-blocks; lane j: sum q x over sub-block j (q = 0..31).
LOOM_INLINE __m256i q5_k_products(const g::block_q5_K& s, const int8_t* xq) {
  const __m256i m4 = _mm256_set1_epi8(0x0f);
  const __m256i qh = load256(s.qh);
  const __m256i c0 = load256(s.qs), c1 = load256(s.qs + 32), c2 = load256(s.qs + 64),
                c3 = load256(s.qs + 96);
  __m256i p[8];
  p[0] = dot_u(_mm256_or_si256(_mm256_and_si256(c0, m4), bit_to_4<0>(qh)), xq);
  p[1] = dot_u(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(c0, 4), m4), bit_to_4<1>(qh)),
               xq + 32);
  p[2] = dot_u(_mm256_or_si256(_mm256_and_si256(c1, m4), bit_to_4<2>(qh)), xq + 64);
  p[3] = dot_u(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(c1, 4), m4), bit_to_4<3>(qh)),
               xq + 96);
  p[4] = dot_u(_mm256_or_si256(_mm256_and_si256(c2, m4), bit_to_4<4>(qh)), xq + 128);
  p[5] = dot_u(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(c2, 4), m4), bit_to_4<5>(qh)),
               xq + 160);
  p[6] = dot_u(_mm256_or_si256(_mm256_and_si256(c3, m4), bit_to_4<6>(qh)), xq + 192);
  p[7] = dot_u(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(c3, 4), m4), bit_to_4<7>(qh)),
               xq + 224);
  return transpose_add32(p);
}

// Q5_K's eight 6-bit scales (SC) and minimums (M) as int32 lanes. The 12 bytes as three
// little-endian words: scales 0..3 are word 0's bytes' low 6 bits, minimums 0..3 word 1's;
// scales 4..7 take word 2's low nibbles and the top 2 bits of word 0's bytes, minimums 4..7 word
// 2's high nibbles and the top 2 bits of word 1's.
LOOM_INLINE void q5_k_scales(const uint8_t* packed, __m256i& sc, __m256i& m) {
  uint32_t w[3];
  std::memcpy(w, packed, 12);
  const uint32_t lo6 = 0x3f3f3f3f, nib = 0x0f0f0f0f, top = 0x30303030;
  const uint64_t s = (w[0] & lo6) | uint64_t{(w[2] & nib) | (w[0] >> 2 & top)} << 32;
  const uint64_t n = (w[1] & lo6) | uint64_t{(w[2] >> 4 & nib) | (w[1] >> 2 & top)} << 32;
  sc = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(s)));
  m = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(n)));
}

// Q6_K: super-block S's eight sub-blocks; lane j: scales[2j] * (sum (q - 32) x over weights
// 0..15) + scales[2j + 1] * (the same over 16..31).
LOOM_INLINE __m256i q6_k_products(const g::block_q6_K& s, const int8_t* xq) {
  const __m256i m4 = _mm256_set1_epi8(0x0f), hi2 = _mm256_set1_epi8(0x30);
  const __m256i off = _mm256_set1_epi8(32);
  // The 16 scales as int16: low 128 bits scales 0..7, high 8..15, each half then broadcast; a
  // byte shuffle per sub-block puts scale 2j in the low half and 2j + 1 in the high one.
  const __m256i sc16 =
      _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s.scales)));
  const __m256i sc_lo = _mm256_permute2x128_si256(sc16, sc16, 0x00);
  const __m256i sc_hi = _mm256_permute2x128_si256(sc16, sc16, 0x11);
  __m256i p[8];
  for (int h = 0; h < 2; ++h) {
    const __m256i l0 = load256(s.ql + 64 * h), l1 = load256(s.ql + 64 * h + 32);
    const __m256i qh = load256(s.qh + 32 * h);
    __m256i q[4];
    q[0] =
        _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), hi2));
    q[1] =
        _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), hi2));
    q[2] =
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, hi2));
    q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                           _mm256_and_si256(_mm256_srli_epi16(qh, 2), hi2));
    const __m256i scales = h == 0 ? sc_lo : sc_hi;
    for (int r = 0; r < 4; ++r) {
      const int j = 4 * h + r;
      const __m256i w = _mm256_sub_epi8(q[r], off);
      const __m256i pairs =
          _mm256_maddubs_epi16(_mm256_abs_epi8(w), _mm256_sign_epi8(load256(xq + j * kBlock), w));
      // Bytes 4r, 4r + 1 (scale 2j's int16) in each low-half word, 4r + 2, 4r + 3 in each high.
      const __m256i pick = _mm256_setr_epi8(
          4 * r, 4 * r + 1, 4 * r, 4 * r + 1, 4 * r, 4 * r + 1, 4 * r, 4 * r + 1, 4 * r, 4 * r + 1,
          4 * r, 4 * r + 1, 4 * r, 4 * r + 1, 4 * r, 4 * r + 1, 4 * r + 2, 4 * r + 3, 4 * r + 2,
          4 * r + 3, 4 * r + 2, 4 * r + 3, 4 * r + 2, 4 * r + 3, 4 * r + 2, 4 * r + 3, 4 * r + 2,
          4 * r + 3, 4 * r + 2, 4 * r + 3, 4 * r + 2, 4 * r + 3);
      p[j] = _mm256_madd_epi16(pairs, _mm256_shuffle_epi8(scales, pick));
    }
  }
  return transpose_add32(p);
}

// The eight fp16 fields F (d, or Q5_1's m) of blocks B0 .. B0 + 8, to fp32.
template <class B>
LOOM_INLINE __m256 q5_fields(const B* blk, uint16_t B::*f) {
  return _mm256_cvtph_ps(_mm_setr_epi16(
      static_cast<short>(blk[0].*f), static_cast<short>(blk[1].*f), static_cast<short>(blk[2].*f),
      static_cast<short>(blk[3].*f), static_cast<short>(blk[4].*f), static_cast<short>(blk[5].*f),
      static_cast<short>(blk[6].*f), static_cast<short>(blk[7].*f)));
}

// Q5_0's lanes: sum (q - 16) x = sum q x - 16 sum x (S8 = 8 sum x), scaled and accumulated;
// Q5_1's: (d dx) sum q x + (m dx) sum x.
template <class B>
LOOM_INLINE __m256 accumulate_q5(__m256 acc, const B* blk, const int8_t* xq, __m256i s8,
                                 __m256 dx) {
  const __m256i p = q5_products(blk, xq);
  const __m256 d = q5_fields(blk, &B::d);
  if constexpr (std::is_same_v<B, g::block_q5_0>) {
    const __m256i a = _mm256_sub_epi32(p, _mm256_slli_epi32(_mm256_srai_epi32(s8, 3), 4));
    return _mm256_add_ps(acc, _mm256_mul_ps(_mm256_mul_ps(d, dx), _mm256_cvtepi32_ps(a)));
  } else {
    const __m256 m = q5_fields(blk, &B::m);
    const __m256 sum_x = _mm256_cvtepi32_ps(_mm256_srai_epi32(s8, 3));
    return _mm256_add_ps(acc,
                         _mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(d, dx), _mm256_cvtepi32_ps(p)),
                                       _mm256_mul_ps(_mm256_mul_ps(m, dx), sum_x)));
  }
}

// One row, 8 sub-blocks a step (NB is a multiple of 8 for the _K types; a short last step of
// Q5_0 and Q5_1 runs on copies of its blocks and activations in a zeroed group, whose zeros add
// +0).
template <DType T>
float dot_row(const uint8_t* row, const ActBlocks& x, int nb, int r, StreamPrefetch& prefetch) {
  __m256 acc = _mm256_setzero_ps();
  for (int b0 = 0; b0 < nb; b0 += 8) {
    prefetch.before(r, b0 / 8);
    const int8_t* xq = x.q + b0 * kBlock;
    if constexpr (T == DType::Q5_0 || T == DType::Q5_1) {
      using B = std::conditional_t<T == DType::Q5_0, g::block_q5_0, g::block_q5_1>;
      const auto* blk = reinterpret_cast<const B*>(row) + b0;
      if (b0 + 8 <= nb) {
        acc = accumulate_q5(acc, blk, xq, load256(x.s8 + b0), _mm256_loadu_ps(x.d + b0));
      } else {
        const int n = nb - b0;
        B tail[8] = {};
        alignas(32) int8_t xt[8 * kBlock] = {};
        alignas(32) int32_t st[8] = {};
        alignas(32) float dt[8] = {};
        std::copy_n(blk, n, tail);
        std::copy_n(xq, n * kBlock, xt);
        std::copy_n(x.s8 + b0, n, st);
        std::copy_n(x.d + b0, n, dt);
        acc = accumulate_q5(acc, tail, xt, load256(st), _mm256_load_ps(dt));
      }
    } else if constexpr (T == DType::Q5_K) {
      const auto& s = reinterpret_cast<const g::block_q5_K*>(row)[b0 / 8];
      const __m256 dx = _mm256_loadu_ps(x.d + b0);
      __m256i sc, m;
      q5_k_scales(s.scales, sc, m);
      const __m256i a = _mm256_mullo_epi32(sc, q5_k_products(s, xq));
      const __m256i bm = _mm256_mullo_epi32(m, _mm256_srai_epi32(load256(x.s8 + b0), 3));
      const __m256 ds = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(s.d)), dx);
      const __m256 dm = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(s.dmin)), dx);
      acc = _mm256_add_ps(acc, _mm256_sub_ps(_mm256_mul_ps(ds, _mm256_cvtepi32_ps(a)),
                                             _mm256_mul_ps(dm, _mm256_cvtepi32_ps(bm))));
    } else {
      const auto& s = reinterpret_cast<const g::block_q6_K*>(row)[b0 / 8];
      const __m256 ds = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(s.d)), _mm256_loadu_ps(x.d + b0));
      acc = _mm256_add_ps(acc, _mm256_mul_ps(ds, _mm256_cvtepi32_ps(q6_k_products(s, xq))));
    }
  }
  return hsum8(acc);
}

template <DType T>
void gemv(const void* w, size_t ldw, const ActBlocks& x, int nb, float* out, int rows) {
  const auto* base = static_cast<const uint8_t*>(w);
  const size_t stride = row_bytes(T, ldw * kBlock);
  StreamPrefetch prefetch(base, stride, rows, (nb + 7) / 8);
  for (int r = 0; r < rows; ++r) out[r] = dot_row<T>(base + r * stride, x, nb, r, prefetch);
}

}  // namespace

QuantKernels::Gemv ggml_gemv_avx2(DType t) {
  switch (t) {
    case DType::Q5_0:
      return gemv<DType::Q5_0>;
    case DType::Q5_1:
      return gemv<DType::Q5_1>;
    case DType::Q5_K:
      return gemv<DType::Q5_K>;
    case DType::Q6_K:
      return gemv<DType::Q6_K>;
    default:
      return nullptr;
  }
}

}  // namespace loom::simd
