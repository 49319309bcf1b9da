// AVX-512 VNNI products with quantized weights. Compiled with -mavx512f -mavx512bw -mavx512vl
// -mavx512vnni -mavx2 -mfma -mf16c -ffp-contract=off (no FMA: the contract of quant_kernels.h
// rounds products and sums apart); called only when cpuid reports all of them.
//
// What VNNI saves is the AVX2 set's maddubs + madd pair: _mm512_dpbusd_epi32 multiplies unsigned
// by signed bytes and sums four products into each int32 lane in one instruction, with no int16
// step in between, and 512-bit registers take two blocks each. So gemv takes a row's blocks
// sixteen at a time, eight registers of two blocks. Q8_0 takes its weights as
// unsigned bytes w + 128 (one xor) and subtracts 128 sum x after, instead of AVX2's sign trick.
// Q4_0 spends no shift on the nibbles: a pair of blocks (the low and high nibbles of the same 32
// bytes) is broadcast to both halves of a register and masked with 0x0f in the low half and 0xf0 in
// the high one, so the odd block's product comes out times 16, shifted back once for all sixteen
// blocks. One transposition (21 simple operations, what AVX2 spends on eight blocks) makes the
// eight registers one vector of the sixteen products in block order; their scales are converted
// and multiplied in 16 lanes, and its two halves are added to the contract's 8-lane accumulator
// one after the other (blocks j, then j + 8): each lane takes its blocks in the contract's order,
// so the bits are the scalar and AVX2 sets'. Q4_K takes Q4_0's nibble products (its pairs of
// blocks are Q4_0's) and scales the sixteen blocks, two super-blocks, in the same 16 lanes.
//
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_epi32() (a self-initialized variable) as the
// unused merge source of their builtins, which its -Wmaybe-uninitialized then reports, falsely.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "simd/quant_kernels.h"
#include "simd/stream_prefetch.h"
#include "simd/vnni_helpers.h"

namespace loom::simd {
namespace {

using quant::ActBlocks;
using quant::kBlock;

// N (<= 16) blocks of a row against X: quants(row, b0) is where block B0's quants start (B0 a
// multiple of 16), group() sets P[k] to the partial sums of blocks 2k and 2k + 1 from there (zero
// for blocks past N, whose weights and activations are not read), products() makes lane j block
// j's product (for Q4_0, sum n x).
struct Q8 {
  static constexpr DType kType = DType::Q8_0;
  // w + 128 as an unsigned byte (w ^ 0x80) times x: sum (w + 128) x = p + 16 s8, taken out in
  // accumulate(). One operation before vpdpbusd where the sign trick takes three.
  static LOOM_INLINE __m512i pair(__m512i w, __m512i x) {
    return dpbusd(_mm512_xor_si512(w, _mm512_set1_epi8(static_cast<char>(0x80))), x);
  }
  static const uint8_t* quants(const uint8_t* row, int b0) {
    return row + static_cast<size_t>(b0) * kBlock;
  }
  static LOOM_INLINE void group(const uint8_t* w, const int8_t* x, int n, __m512i p[8]) {
    for (int k = 0; k < 8; ++k) {
      if (2 * k + 1 < n) {
        p[k] = pair(load512(w + 2 * k * kBlock), load512(x + 2 * k * kBlock));
      } else if (2 * k < n) {
        p[k] = pair(load256_zext(w + 2 * k * kBlock), load256_zext(x + 2 * k * kBlock));
      } else {
        p[k] = _mm512_setzero_si512();
      }
    }
  }
  static LOOM_INLINE __m512i products(const __m512i p[8]) { return transpose_add(p); }
};
struct Q4 {
  static constexpr DType kType = DType::Q4_0;
  static const uint8_t* quants(const uint8_t* row, int b0) {
    return row + static_cast<size_t>(b0 / 2) * kBlock;
  }
  // The pair at W in both halves, the low nibbles kept in the low half and the high ones, in
  // place (16 n), in the high half: unsigned already, no sign trick.
  static LOOM_INLINE __m512i nibbles(const uint8_t* w) {
    const __m512i mask = _mm512_inserti64x4(_mm512_set1_epi8(0x0f), _mm256_set1_epi8(-16), 1);
    const __m256i pair = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
    return _mm512_and_si512(_mm512_broadcast_i64x4(pair), mask);
  }
  // A pair of blocks exists in the row whenever its first block does; the second block's
  // activations are read only when it is one of the N (its weights may be the padding's).
  static LOOM_INLINE void group(const uint8_t* w, const int8_t* x, int n, __m512i p[8]) {
    for (int k = 0; k < 8; ++k) {
      if (2 * k + 1 < n) {
        p[k] = dpbusd(nibbles(w + k * kBlock), load512(x + 2 * k * kBlock));
      } else if (2 * k < n) {
        p[k] = dpbusd(nibbles(w + k * kBlock), load256_zext(x + 2 * k * kBlock));
      } else {
        p[k] = _mm512_setzero_si512();
      }
    }
  }
  // The odd blocks' sums are 16 sum n x, exactly (|sum| < 2^20): an arithmetic shift divides them.
  static LOOM_INLINE __m512i products(const __m512i p[8]) {
    const __m512i s = transpose_add(p);
    return _mm512_mask_srai_epi32(s, 0xaaaa, s, 4);
  }
};

// acc + (d_w * d_x) * float(p) for the sixteen blocks of P, lane by lane, rounded apart (no FMA:
// the contract): the products in 16 lanes, then blocks 0..7 added to ACC's lanes and, if UPPER,
// blocks 8..15 (each lane takes its blocks in order, as in the contract). S8 = 8 sum x; P is sum
// n x for Q4_0 and sum (w + 128) x for Q8_0.
template <class L>
LOOM_INLINE __m256 accumulate(__m256 acc, __m512i p, __m512i s8, __m256i dw, __m512 dx,
                              bool upper = true) {
  if constexpr (L::kType == DType::Q4_0) p = _mm512_sub_epi32(p, s8);
  if constexpr (L::kType == DType::Q8_0) p = _mm512_sub_epi32(p, _mm512_slli_epi32(s8, 4));
  const __m512 s = _mm512_mul_ps(_mm512_cvtph_ps(dw), dx);
  const __m512 t = _mm512_mul_ps(s, _mm512_cvtepi32_ps(p));
  acc = _mm256_add_ps(acc, _mm512_castps512_ps256(t));
  if (!upper) return acc;
  return _mm256_add_ps(acc, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(t), 1)));
}

// Q4_K's eight 6-bit fields of F (a header's scales or mins, blocks.h), one a lane: two 4-byte
// loads (the second reads the byte after the field's six, inside the 16-byte header), a
// variable shift and a mask, as the AVX2 set does.
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

// Q4_K, sixteen blocks (two super-blocks, H[0] and H[1]; H[1] unread unless UPPER): lane j of
// each super-block adds (d * d_x) * A - (dmin * d_x) * B (quant_kernels.h), A = sc * P (P = sum
// n x), B = m * S8 / 8, rounded apart; blocks 0..7 into ACC's lanes first, then 8..15.
LOOM_INLINE __m256 accumulate_q4_k(__m256 acc, __m512i p, __m512i s8, const quant::Q4KHeader* h,
                                   __m512 dx, bool upper) {
  const quant::Q4KHeader& h1 = upper ? h[1] : h[0];  // (lanes 8..15 then unused)
  const __m512i sc = _mm512_inserti64x4(_mm512_castsi256_si512(six_bit_fields(h[0].scales)),
                                        six_bit_fields(h1.scales), 1);
  const __m512i mn = _mm512_inserti64x4(_mm512_castsi256_si512(six_bit_fields(h[0].mins)),
                                        six_bit_fields(h1.mins), 1);
  const __m512i a = _mm512_mullo_epi32(sc, p);
  const __m512i b = _mm512_mullo_epi32(mn, _mm512_srai_epi32(s8, 3));
  const __m512 d = halves(_cvtsh_ss(h[0].d), _cvtsh_ss(h1.d));
  const __m512 dmin = halves(_cvtsh_ss(h[0].dmin), _cvtsh_ss(h1.dmin));
  const __m512 t = _mm512_sub_ps(_mm512_mul_ps(_mm512_mul_ps(d, dx), _mm512_cvtepi32_ps(a)),
                                 _mm512_mul_ps(_mm512_mul_ps(dmin, dx), _mm512_cvtepi32_ps(b)));
  acc = _mm256_add_ps(acc, _mm512_castps512_ps256(t));
  if (!upper) return acc;
  return _mm256_add_ps(acc, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(t), 1)));
}

// Q4_K: Q4_0's nibble products (its pairs of blocks are Q4_0's), scaled by its headers.
struct Q4K : Q4 {
  static constexpr DType kType = DType::Q4_K;
};

// Where row ROW's scales lie: an fp16 scale a block (Q8_0, Q4_0), or Q4_K's headers.
template <class L>
LOOM_INLINE const void* scales_of(const uint8_t* row, size_t ldw) {
  if constexpr (L::kType == DType::Q4_K) {
    return quant::row_headers(row, ldw);
  } else {
    return quant::row_scales(L::kType, row, ldw);
  }
}

// Blocks B0 .. B0 + N - 1 (N <= 16, B0 a multiple of 16) of products P scaled by SCALES and
// added to ACC. A tail of at most 8 blocks is the AVX2 set's last group: no upper half.
template <class L>
LOOM_INLINE __m256 scale_add(__m256 acc, __m512i p, __m512i s8, const void* scales, int b0, int n,
                             __m512 dx) {
  if constexpr (L::kType == DType::Q4_K) {
    const auto* h = static_cast<const quant::Q4KHeader*>(scales) + b0 / 8;
    return accumulate_q4_k(acc, p, s8, h, dx, n > 8);
  } else {
    const uint16_t* dw = static_cast<const uint16_t*>(scales) + b0;
    if (n == 16) {
      return accumulate<L>(acc, p, s8, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(dw)),
                           dx);
    }
    alignas(32) uint16_t dw_tail[16] = {};
    std::copy_n(dw, n, dw_tail);
    return accumulate<L>(acc, p, s8, _mm256_load_si256(reinterpret_cast<const __m256i*>(dw_tail)),
                         dx, n > 8);
  }
}

template <class L>
void gemv(const void* w, size_t ldw, const ActBlocks& x, int nb, float* out, int rows) {
  const auto* base = static_cast<const uint8_t*>(w);
  const size_t row_bytes = quant::quant_row_bytes(L::kType, ldw);
  const int groups = nb / 16, rem = nb % 16, tail = groups * 16;
  StreamPrefetch prefetch(base, row_bytes, rows, groups + (rem > 0 ? 1 : 0));
  // The activations' tail, zero past NB: those lanes add s * 0 = +0, as in the AVX2 set.
  alignas(64) float dx_tail[16] = {};
  alignas(64) int32_t s8_tail[16] = {};
  std::copy_n(x.d + tail, rem, dx_tail);
  std::copy_n(x.s8 + tail, rem, s8_tail);

  for (int r = 0; r < rows; ++r) {
    const uint8_t* row = base + r * row_bytes;
    const void* scales = scales_of<L>(row, ldw);
    __m256 acc = _mm256_setzero_ps();
    for (int g = 0; g < groups; ++g) {
      prefetch.before(r, g);
      __m512i p[8];
      L::group(L::quants(row, 16 * g), x.q + static_cast<size_t>(16 * g) * kBlock, 16, p);
      acc = scale_add<L>(acc, L::products(p), load512(x.s8 + 16 * g), scales, 16 * g, 16,
                         _mm512_loadu_ps(x.d + 16 * g));
    }
    if (rem > 0) {
      prefetch.before(r, groups);
      __m512i p[8];
      L::group(L::quants(row, tail), x.q + static_cast<size_t>(tail) * kBlock, rem, p);
      acc = scale_add<L>(acc, L::products(p), _mm512_load_si512(s8_tail), scales, tail, rem,
                         _mm512_load_ps(dx_tail));
    }
    out[r] = hsum8(acc);
  }
}

}  // namespace

const QuantKernels& quant_avx512_kernels() {
  static const QuantKernels k = [] {
    // quantize_acts, to_f32 and the ggml_gemv of Q5_0, Q5_1, Q5_K (no VNNI versions): the AVX2
    // set's own.
    QuantKernels s = quant_avx2_kernels();
    s.gemv[quant_slot(DType::Q8_0)] = gemv<Q8>;
    s.gemv[quant_slot(DType::Q4_0)] = gemv<Q4>;
    s.gemv[quant_slot(DType::Q4_K)] = gemv<Q4K>;
    s.ggml_gemv[ggml_slot(DType::Q6_K)] = ggml_gemv_avx512(DType::Q6_K);
    s.gemm[quant_slot(DType::Q8_0)] = quant_avx512_gemm(DType::Q8_0);
    s.gemm[quant_slot(DType::Q4_0)] = quant_avx512_gemm(DType::Q4_0);
    s.gemm[quant_slot(DType::Q4_K)] = quant_avx512_gemm(DType::Q4_K);
    s.gemv_rows[quant_slot(DType::Q8_0)] = quant_avx512_gemv_rows(DType::Q8_0);
    s.gemv_rows[quant_slot(DType::Q4_0)] = quant_avx512_gemv_rows(DType::Q4_0);
    return s;
  }();
  return k;
}

}  // namespace loom::simd
