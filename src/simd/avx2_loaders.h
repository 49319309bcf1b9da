// What the AVX2 and AVX-512 kernel sets share: loaders that read a weight row of any stored dtype
// as fp32 vectors of 8, the packing of rows into fp32 panels, and the prompt gemm's blocking
// around each set's own micro-kernel.
//
// Everything here has internal linkage (an unnamed namespace), on purpose: each kernel
// translation unit is compiled for its own instruction set, and a shared inline function with
// external linkage could be resolved by the linker to the AVX-512 unit's copy and then run on a
// CPU without AVX-512.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "loom/config.h"
#include "quant/blocks.h"
#include "simd/avx2_sums.h"
#include "simd/half.h"

namespace loom::simd {
namespace {

// A loader reads W's rows of LDW weights: row(w, ldw, r) is where row r starts, load8(row, ldw,
// c) its weights c..c+7 (c % 8 == 0) and load1(row, ldw, c) weight c, as fp32.
struct F32 {
  static const void* row(const void* w, size_t ldw, size_t r) {
    return static_cast<const float*>(w) + r * ldw;
  }
  static __m256 load8(const void* p, size_t /*ldw*/, size_t i) {
    return _mm256_loadu_ps(static_cast<const float*>(p) + i);
  }
  static float load1(const void* p, size_t /*ldw*/, size_t i) {
    return static_cast<const float*>(p)[i];
  }
};
struct F16 {
  static const void* row(const void* w, size_t ldw, size_t r) {
    return static_cast<const uint16_t*>(w) + r * ldw;
  }
  static __m256 load8(const void* p, size_t /*ldw*/, size_t i) {
    return _mm256_cvtph_ps(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + i)));
  }
  static float load1(const void* p, size_t /*ldw*/, size_t i) {
    return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
  }
};
struct BF16 {
  static const void* row(const void* w, size_t ldw, size_t r) {
    return static_cast<const uint16_t*>(w) + r * ldw;
  }
  static __m256 load8(const void* p, size_t /*ldw*/, size_t i) {
    __m128i h =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(p) + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static float load1(const void* p, size_t /*ldw*/, size_t i) {
    return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
  }
};

// Quantized rows (quant/blocks.h), for the prompt path only: weight c of a row is in block
// c / 32, whose scale is in the array after the row's LDW quants; d * q is exact in fp32 (an
// 11-bit scale times a small integer).
template <DType T>
struct Quant {
  static const void* row(const void* w, size_t ldw, size_t r) {
    return static_cast<const char*>(w) + r * quant::quant_row_bytes(T, ldw / quant::kBlock);
  }
  static float scale(const void* row, size_t ldw, size_t c) {
    return f16_to_f32(quant::row_scales(T, row, ldw / quant::kBlock)[c / quant::kBlock]);
  }
  // Where weight c's quant is: its byte (Q8_0), or the byte whose low (even block) or high (odd
  // block) nibble it is (Q4_0).
  static const uint8_t* at(const void* row, size_t c) {
    const auto* p = static_cast<const uint8_t*>(row);
    if constexpr (T == DType::Q8_0) return p + c;
    const size_t b = c / quant::kBlock;
    return p + b / 2 * quant::kBlock + c % quant::kBlock;
  }
  static __m256 load8(const void* row, size_t ldw, size_t c) {  // c % 8 == 0
    const __m128i raw = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(at(row, c)));
    __m256i q;
    if constexpr (T == DType::Q8_0) {
      q = _mm256_cvtepi8_epi32(raw);
    } else {
      const __m256i n = _mm256_cvtepu8_epi32(raw);
      q = c / quant::kBlock % 2 ? _mm256_srli_epi32(n, 4)
                                : _mm256_and_si256(n, _mm256_set1_epi32(0x0f));
      q = _mm256_sub_epi32(q, _mm256_set1_epi32(8));
    }
    return _mm256_mul_ps(_mm256_set1_ps(scale(row, ldw, c)), _mm256_cvtepi32_ps(q));
  }
  static float load1(const void* row, size_t ldw, size_t c) {
    int q;
    if constexpr (T == DType::Q8_0) {
      q = static_cast<int8_t>(*at(row, c));
    } else {
      q = ((*at(row, c) >> (c / quant::kBlock % 2 * 4)) & 0x0f) - 8;
    }
    return scale(row, ldw, c) * static_cast<float>(q);
  }
};
using Q8 = Quant<DType::Q8_0>;
using Q4 = Quant<DType::Q4_0>;

// Q4_K rows (quant/blocks.h): weight c is step * n - offset for its block's step d * sc and
// offset dmin * m, both exact, as is step * n: one rounding, the reference's, fused or not.
struct Q4K {
  static const void* row(const void* w, size_t ldw, size_t r) {
    return static_cast<const char*>(w) +
           r * quant::quant_row_bytes(DType::Q4_K, ldw / quant::kBlock);
  }
  // Block c / 32's step and offset.
  static void grid(const void* row, size_t ldw, size_t c, float& step, float& offset) {
    const size_t b = c / quant::kBlock;
    const quant::Q4KHeader& h = quant::row_headers(row, ldw / quant::kBlock)[b / quant::kSuper];
    const int j = static_cast<int>(b % quant::kSuper);
    step = f16_to_f32(h.d) * static_cast<float>(quant::six_bits(h.scales, j));
    offset = f16_to_f32(h.dmin) * static_cast<float>(quant::six_bits(h.mins, j));
  }
  static const uint8_t* at(const void* row, size_t c) {
    const size_t b = c / quant::kBlock;
    return static_cast<const uint8_t*>(row) + b / 2 * quant::kBlock + c % quant::kBlock;
  }
  static __m256 load8(const void* row, size_t ldw, size_t c) {  // c % 8 == 0
    float step, offset;
    grid(row, ldw, c, step, offset);
    const __m256i n =
        _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(at(row, c))));
    const __m256i q = c / quant::kBlock % 2 ? _mm256_srli_epi32(n, 4)
                                            : _mm256_and_si256(n, _mm256_set1_epi32(0x0f));
    return _mm256_sub_ps(_mm256_mul_ps(_mm256_set1_ps(step), _mm256_cvtepi32_ps(q)),
                         _mm256_set1_ps(offset));
  }
  static float load1(const void* row, size_t ldw, size_t c) {
    float step, offset;
    grid(row, ldw, c, step, offset);
    const int q = (*at(row, c) >> (c / quant::kBlock % 2 * 4)) & 0x0f;
    return step * static_cast<float>(q) - offset;
  }
};

// 8 vectors of 8 rows' values at 8 consecutive k -> 8 vectors of one k's values for the 8 rows.
inline void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xee);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xee);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xee);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xee);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// panel[kk * kPanel + j] = weight k0 + kk of W's row r0 + j for j < nr, 0 for nr <= j < kPanel
// (a multiple of 8); the panel is 32-byte aligned.
template <class L, int kPanel>
void pack(const void* w, size_t ldw, int r0, int nr, int k0, int kc, float* panel) {
  for (int j0 = 0; j0 < kPanel; j0 += 8) {
    const int n = std::clamp(nr - j0, 0, 8);
    const void* row[8] = {};
    for (int j = 0; j < n; ++j) row[j] = L::row(w, ldw, r0 + j0 + j);
    int kk = 0;
    if (n == 8) {
      for (; kk + 8 <= kc; kk += 8) {
        __m256 r[8];
        for (int j = 0; j < 8; ++j) r[j] = L::load8(row[j], ldw, k0 + kk);
        transpose8(r);
        for (int i = 0; i < 8; ++i) _mm256_store_ps(panel + (kk + i) * kPanel + j0, r[i]);
      }
    }
    for (; kk < kc; ++kk) {
      for (int j = 0; j < 8; ++j) {
        panel[kk * kPanel + j0 + j] = j < n ? L::load1(row[j], ldw, k0 + kk) : 0.0f;
      }
    }
  }
}

// The prompt product, BLIS-style, for a set's Tile: kPanel rows a panel, kMr tokens a micro-tile,
// kKc k a packed block, kNc rows packed at once (a multiple of kPanel), and micro[i] the micro-
// kernel for i + 1 tokens. W is packed once per block and reused by every token; each output is
// carried across k-blocks through OUT itself, so its sum is one chain in k order whatever the
// blocking.
using MicroFn = void (*)(const float* panel, const float* x, size_t ldx, int kc, float* out,
                         size_t ldo, int nr, bool accumulate);

template <class L, class Tile>
void packed_gemm(const void* w, size_t ldw, const float* x, size_t ldx, int m, int k, float* out,
                 size_t ldo, int rows) {
  constexpr int kPanel = Tile::kPanel, kMr = Tile::kMr, kKc = Tile::kKc, kNc = Tile::kNc;
  if (k == 0) {
    for (int t = 0; t < m; ++t) std::fill_n(out + t * ldo, rows, 0.0f);
    return;
  }
  alignas(64) float packed[kNc / kPanel][kKc * kPanel];
  for (int r0 = 0; r0 < rows; r0 += kNc) {
    const int np = (std::min(kNc, rows - r0) + kPanel - 1) / kPanel;
    for (int k0 = 0; k0 < k; k0 += kKc) {
      const int kc = std::min(kKc, k - k0);
      for (int p = 0; p < np; ++p) {
        const int r = r0 + p * kPanel;
        pack<L, kPanel>(w, ldw, r, std::min(kPanel, rows - r), k0, kc, packed[p]);
      }
      for (int t0 = 0; t0 < m; t0 += kMr) {
        const MicroFn micro_tile = Tile::micro[std::min(kMr, m - t0) - 1];
        for (int p = 0; p < np; ++p) {
          const int r = r0 + p * kPanel;
          micro_tile(packed[p], x + t0 * ldx + k0, ldx, kc, out + t0 * ldo + r, ldo,
                     std::min(kPanel, rows - r), k0 > 0);
        }
      }
    }
  }
}

}  // namespace
}  // namespace loom::simd
