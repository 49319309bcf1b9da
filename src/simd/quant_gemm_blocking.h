// What the int8 prompt gemms (quant_gemm_avx2.cpp, quant_gemm_avx512.cpp) share besides their
// contract: a block's fp32 scale and minimum as the panels hold them, and the loops that pack W a
// block of rows and blocks at a time and run the micro-kernel over the tokens. Included by one
// translation unit per instruction set (both compiled with AVX2 at least): everything here has
// internal linkage, so each set's copy keeps its own compile flags.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "loom/config.h"
#include "quant/blocks.h"
#include "simd/half.h"

namespace loom::simd {
namespace {

// One token's blocks: where its quants, scales and sums are.
struct Token {
  const int8_t* q;
  const float* d;
  const int32_t* s8;
};

// Bytes of a panel of ROWS rows and NB blocks: the quants, then each block's ROWS fp32 scales,
// then (Q4_K) its ROWS minimums.
constexpr size_t panel_quant_bytes(int rows, int nb) {
  return static_cast<size_t>(nb) * quant::kBlock * rows;
}
constexpr size_t panel_bytes(int rows, int nb) {
  return panel_quant_bytes(rows, nb) + 2 * static_cast<size_t>(nb) * rows * sizeof(float);
}

// Block B of a row as 32 bytes: Q8_0's q, Q4_0's and Q4_K's nibbles (low halves of pair b / 2
// for an even b, high halves for an odd one).
template <DType T>
inline __m256i block_bytes(const uint8_t* row, int b) {
  if constexpr (T == DType::Q8_0) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + b * quant::kBlock));
  } else {
    const __m256i pair =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + b / 2 * quant::kBlock));
    const __m256i n = b % 2 ? _mm256_srli_epi16(pair, 4) : pair;
    return _mm256_and_si256(n, _mm256_set1_epi8(0x0f));
  }
}

// Block BLK of ROW (LDW blocks) as its panel stores it: the fp32 scale and minimum (d and 0;
// Q4_K: d * sc and dmin * m, exact in fp32, 11 by 6 bits).
template <DType T>
inline void block_scale(const uint8_t* row, size_t ldw, int blk, float& scale, float& min) {
  if constexpr (T == DType::Q4_K) {
    const quant::Q4KHeader& h = quant::row_headers(row, ldw)[blk / quant::kSuper];
    scale = f16_to_f32(h.d) * static_cast<float>(quant::six_bits(h.scales, blk % quant::kSuper));
    min = f16_to_f32(h.dmin) * static_cast<float>(quant::six_bits(h.mins, blk % quant::kSuper));
  } else {
    scale = f16_to_f32(quant::row_scales(T, row, ldw)[blk]);
    min = 0.0f;
  }
}

// The blocking of both gemms: rows kNc at a time, packed kRows a panel, kKb blocks at a time,
// each pass adding to what the last stored (an fp32 store and load: the order stays the blocks');
// then tokens kMr at a time against kP panels at once. PACKED holds kNc / kRows panels,
// PANEL_BYTES apart. pack(r, nr, b0, nb, dst) packs rows r .. r + nr, blocks b0 .. b0 + nb;
// micro(mr, panels, np, nb, tok, b0, out, nr, accumulate) runs mr tokens against np (<= kP)
// panels, whose quants start at block b0 (the tokens' blocks b0 .. b0 + nb), for nr rows.
template <int kRows, int kNc, int kKb, int kMr, int kP, class Pack, class Micro>
inline void blocked_gemm(const quant::ActSpace* x, int nb, int m, float* out, size_t ldo, int rows,
                         uint8_t* packed, size_t panel_bytes, Pack pack, Micro micro) {
  Token tok[kMr];
  for (int r0 = 0; r0 < rows; r0 += kNc) {
    const int np = (std::min(kNc, rows - r0) + kRows - 1) / kRows;
    for (int b0 = 0; b0 < nb; b0 += kKb) {
      const int nbk = std::min(kKb, nb - b0);
      for (int p = 0; p < np; ++p) {
        const int r = r0 + p * kRows;
        pack(r, std::min(kRows, rows - r), b0, nbk, packed + p * panel_bytes);
      }
      for (int t0 = 0; t0 < m; t0 += kMr) {
        const int mr = std::min(kMr, m - t0);
        for (int i = 0; i < mr; ++i) {
          const quant::ActBlocks a = quant::act_blocks(
              const_cast<quant::ActSpace*>(x) + static_cast<size_t>(t0 + i) * nb, nb);
          tok[i] = {a.q, a.d, a.s8};
        }
        for (int p = 0; p < np; p += kP) {
          const int r = r0 + p * kRows;
          const int n = std::min(kP, np - p);
          const uint8_t* panels[kP];
          for (int j = 0; j < kP; ++j) panels[j] = packed + std::min(p + j, np - 1) * panel_bytes;
          micro(mr, panels, n, nbk, tok, b0, out + static_cast<size_t>(t0) * ldo + r,
                std::min(n * kRows, rows - r), b0 > 0);
        }
      }
    }
  }
}

}  // namespace
}  // namespace loom::simd
