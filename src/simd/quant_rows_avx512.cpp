// gemv of several tokens at once with quantized weights, AVX-512 VNNI: each token's outputs are
// the gemv's bits (the contract of quant_kernels.h), but a weight block is unpacked once for up
// to eight tokens. Compiled with the flags of quant_avx512.cpp (no FMA: the contract rounds
// products and sums apart).
//
// The gemv puts one row's block in a register and leaves each int32 lane a partial sum of that
// block, to be gathered by a transposition per token. Here an int32 lane is an output row: the
// same block of 16 rows is transposed once (row r's dword c into lane r of register c), and each
// token meets it with eight vpdpbusd whose activations are four bytes broadcast from memory, so
// a lane ends with its row's whole block product and the per-token work is eight products and
// the scaling. The sixteen rows' scales of blocks b and b + 1 come in one gather.
//
// The contract's order: lane b mod 8 of a row's accumulator takes blocks b, b + 8, ... in turn,
// and the eight lanes meet in a fixed tree at the end. Eight accumulators per token would not fit
// the registers, so the blocks are visited two classes b mod 8 at a time (an accumulator per
// token and class), each class's sums kept aside and added in the tree's order at the end. Two,
// because blocks 2k and 2k + 1 share a gather of scales and, in Q4_0, their bytes: one
// transposition for both.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // (see quant_avx512.cpp)
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "simd/quant_kernels.h"

namespace loom::simd {
namespace {

using quant::ActBlocks;
using quant::ActSpace;
using quant::kBlock;

#define LOOM_INLINE inline __attribute__((always_inline))

constexpr int kLanes = 16;   // rows a pass computes: one per int32 lane
constexpr int kTokens = 8;   // tokens a pass takes: an accumulator each, beside eight weights
constexpr int kClasses = 8;  // the contract's lanes: block b goes to class b mod 8

// The 32 bytes at P[r] + OFF for the sixteen rows r, transposed: lane r of C[c] = dword c of row
// r. Rows 0-7 and 8-15 share registers as halves, then the 8 x 8 transposition of each half:
// 32-bit, 64-bit interleaves, and a permute that gathers each column's four quarters.
LOOM_INLINE void load_columns(const uint8_t* const p[kLanes], size_t off, __m512i c[8]) {
  __m512i z[8], u[8], v[8];
  for (int a = 0; a < 8; ++a) {
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p[a] + off));
    const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p[a + 8] + off));
    z[a] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
  }
  // u[2i]: rows 2i, 2i + 1, dwords 0, 1 | 4, 5; u[2i + 1]: 2, 3 | 6, 7
  for (int i = 0; i < 4; ++i) {
    u[2 * i] = _mm512_unpacklo_epi32(z[2 * i], z[2 * i + 1]);
    u[2 * i + 1] = _mm512_unpackhi_epi32(z[2 * i], z[2 * i + 1]);
  }
  for (int h = 0; h < 2; ++h) {  // v[4h + c]: rows 4h .. 4h + 3, dword c | c + 4 (per half)
    v[4 * h + 0] = _mm512_unpacklo_epi64(u[4 * h], u[4 * h + 2]);
    v[4 * h + 1] = _mm512_unpackhi_epi64(u[4 * h], u[4 * h + 2]);
    v[4 * h + 2] = _mm512_unpacklo_epi64(u[4 * h + 1], u[4 * h + 3]);
    v[4 * h + 3] = _mm512_unpackhi_epi64(u[4 * h + 1], u[4 * h + 3]);
  }
  const __m512i first = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
  const __m512i second = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
  for (int k = 0; k < 4; ++k) {
    c[k] = _mm512_permutex2var_epi64(v[k], first, v[4 + k]);
    c[k + 4] = _mm512_permutex2var_epi64(v[k], second, v[4 + k]);
  }
}

// Blocks B and B + 1 of sixteen rows as unsigned bytes for vpdpbusd, each handed to USE(w, i)
// in turn (i = 0, 1; the second only where ODD), and the correction that makes their sums the
// contract's integer product (S8 = 8 sum x).
struct Q8 {
  static constexpr DType kType = DType::Q8_0;
  template <class Use>
  static LOOM_INLINE void pair(const uint8_t* const p[kLanes], int b, bool odd, Use use) {
    __m512i c[8];
    for (int i = 0; i < (odd ? 2 : 1); ++i) {
      load_columns(p, static_cast<size_t>(b + i) * kBlock, c);
      // w + 128 (w ^ 0x80): sum (w + 128) x = p + 16 s8.
      for (int k = 0; k < 8; ++k) c[k] = _mm512_xor_si512(c[k], _mm512_set1_epi8(-128));
      use(c, i);
    }
  }
  static LOOM_INLINE __m512i correct(__m512i s, int32_t s8) {
    return _mm512_sub_epi32(s, _mm512_set1_epi32(s8 * 16));
  }
};
struct Q4 {
  static constexpr DType kType = DType::Q4_0;
  // Blocks 2k and 2k + 1 are the low and high nibbles of the same 32 bytes: one transposition
  // serves both.
  template <class Use>
  static LOOM_INLINE void pair(const uint8_t* const p[kLanes], int b, bool odd, Use use) {
    __m512i raw[8], c[8];
    load_columns(p, static_cast<size_t>(b / 2) * kBlock, raw);
    const __m512i mask = _mm512_set1_epi8(0x0f);
    for (int k = 0; k < 8; ++k) c[k] = _mm512_and_si512(raw[k], mask);
    use(c, 0);
    if (!odd) return;
    for (int k = 0; k < 8; ++k) c[k] = _mm512_and_si512(_mm512_srli_epi32(raw[k], 4), mask);
    use(c, 1);
  }
  static LOOM_INLINE __m512i correct(__m512i s, int32_t s8) {
    return _mm512_sub_epi32(s, _mm512_set1_epi32(s8));
  }
};

// The sixteen rows' scales of blocks B (even) and B + 1 as fp32: one dword gathered per row
// holds both, or, where B is the last block, the one before and B (its upper half), so nothing
// past a row's scales is read (the bytes before them are its quants).
LOOM_INLINE void pair_scales(const uint8_t* scales0, __m512i offsets, int b, int nb, __m512 d[2]) {
  const bool last = b == nb - 1;
  const __m512i s = _mm512_i32gather_epi32(offsets, scales0 + 2 * (last ? b - 1 : b), 1);
  d[0] = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(last ? _mm512_srli_epi32(s, 16) : s));
  d[1] = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(s, 16)));
}

// The next group of rows requested while this one is computed, a share at each block: the blocks
// are visited a class at a time, sixteen rows apart, a pattern the hardware prefetcher does not
// follow (Q4_0, 2 tokens: slower than two gemv calls without this).
struct NextRows {
  const uint8_t* begin;  // the group's bytes (its rows are contiguous), or null
  size_t lines;          // cache lines in it
  int steps;             // block pairs visited while they are requested
  LOOM_INLINE void at(int step) const {
    if (begin == nullptr) return;
    const size_t from = lines * step / steps, to = lines * (step + 1) / steps;
    for (size_t l = from; l < to; ++l)
      _mm_prefetch(reinterpret_cast<const char*>(begin + 64 * l), _MM_HINT_T0);
  }
};

// NT tokens (their blocks at X[t]) against the sixteen rows at P: out[t * ldo + r] for r < n.
template <class L, int NT>
void rows_pass(const uint8_t* const p[kLanes], __m512i offsets, const uint8_t* scales0,
               const ActBlocks* x, int nb, float* out, size_t ldo, int n, const NextRows& next) {
  alignas(64) float sums[NT][kClasses][kLanes];
  int step = 0;
  // Classes in pairs (2c, 2c + 1): blocks b and b + 1 share their unpacking and scales.
  for (int cls = 0; cls < kClasses; cls += 2) {
    __m512 acc[2][NT];
    for (int t = 0; t < NT; ++t) acc[0][t] = acc[1][t] = _mm512_setzero_ps();
    for (int b = cls; b < nb; b += kClasses) {
      next.at(step++);
      __m512 dw[2];
      pair_scales(scales0, offsets, b, nb, dw);
      L::pair(
          p, b, b + 1 < nb, [&](const __m512i w[8], int i) __attribute__((always_inline)) {
            const int bi = b + i;
            for (int t = 0; t < NT; ++t) {
              const auto* xq =
                  reinterpret_cast<const int32_t*>(x[t].q + static_cast<size_t>(bi) * kBlock);
              // Integer sums are exact: two chains for the latency, added in any order.
              __m512i s0 =
                  _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[0], _mm512_set1_epi32(xq[0]));
              __m512i s1 =
                  _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[1], _mm512_set1_epi32(xq[1]));
              for (int k = 2; k < 8; k += 2) {
                s0 = _mm512_dpbusd_epi32(s0, w[k], _mm512_set1_epi32(xq[k]));
                s1 = _mm512_dpbusd_epi32(s1, w[k + 1], _mm512_set1_epi32(xq[k + 1]));
              }
              const __m512i prod = L::correct(_mm512_add_epi32(s0, s1), x[t].s8[bi]);
              const __m512 s = _mm512_mul_ps(dw[i], _mm512_set1_ps(x[t].d[bi]));
              acc[i][t] = _mm512_add_ps(acc[i][t], _mm512_mul_ps(s, _mm512_cvtepi32_ps(prod)));
            }
          });
    }
    for (int t = 0; t < NT; ++t) {
      _mm512_store_ps(sums[t][cls], acc[0][t]);
      _mm512_store_ps(sums[t][cls + 1], acc[1][t]);
    }
  }
  // The tree: classes (l, l + 4), then (l, l + 2), then (0, 1).
  const __mmask16 keep = static_cast<__mmask16>((1u << n) - 1);
  for (int t = 0; t < NT; ++t) {
    __m512 a[kClasses];
    for (int l = 0; l < kClasses; ++l) a[l] = _mm512_load_ps(sums[t][l]);
    for (int l = 0; l < 4; ++l) a[l] = _mm512_add_ps(a[l], a[l + 4]);
    for (int l = 0; l < 2; ++l) a[l] = _mm512_add_ps(a[l], a[l + 2]);
    _mm512_mask_storeu_ps(out + t * ldo, keep, _mm512_add_ps(a[0], a[1]));
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
void gemv_rows(const void* w, size_t ldw, const ActSpace* x, int nb, int m, float* out, size_t ldo,
               int rows) {
  const auto* base = static_cast<const uint8_t*>(w);
  const size_t row_bytes = quant::quant_row_bytes(L::kType, ldw);
  for (int r0 = 0; r0 < rows; r0 += kLanes) {
    // Past ROWS, the last row again (read, never stored).
    const int n = std::min(kLanes, rows - r0);
    const uint8_t* p[kLanes];
    alignas(64) int32_t offsets[kLanes];
    for (int i = 0; i < kLanes; ++i) {
      offsets[i] = static_cast<int32_t>(std::min(i, n - 1) * row_bytes);
      p[i] = base + (r0 * row_bytes + offsets[i]);
    }
    const auto* scales0 = reinterpret_cast<const uint8_t*>(quant::row_scales(L::kType, p[0], ldw));
    const __m512i offs = _mm512_load_si512(offsets);
    const int next_rows = std::min(kLanes, rows - r0 - kLanes);
    const NextRows next{next_rows > 0 ? base + (r0 + kLanes) * row_bytes : nullptr,
                        (next_rows * row_bytes + 63) / 64, (nb + 1) / 2};
    for (int t0 = 0; t0 < m; t0 += kTokens) {
      ActBlocks xt[kTokens];
      const int nt = std::min(kTokens, m - t0);
      for (int t = 0; t < nt; ++t) {
        xt[t] = quant::act_blocks(const_cast<ActSpace*>(x + static_cast<size_t>(t0 + t) * nb), nb);
      }
      float* o = out + t0 * ldo + r0;
      kPasses<L>[nt - 1](p, offs, scales0, xt, nb, o, ldo, n, t0 == 0 ? next : NextRows{});
    }
  }
}

}  // namespace

QuantKernels::GemvRows quant_avx512_gemv_rows(DType t) {
  if (t == DType::Q8_0) return gemv_rows<Q8>;
  if (t == DType::Q4_0) return gemv_rows<Q4>;
  return nullptr;
}

}  // namespace loom::simd
