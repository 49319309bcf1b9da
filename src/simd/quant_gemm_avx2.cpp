// The prompt product with Q8_0, Q4_0 and Q4_K weights on AVX2: int8 x int8 dot products with
// vpmaddubsw, the activations quantized per block as a decode step quantizes them. Compiled with
// -mavx2 -mfma -mf16c -ffp-contract=off (the FMAs below are written out, as the contract says).
//
// Why: without it a quantized prompt runs through the float gemm, dequantizing W into fp32
// panels, at the fp32 FMA rate (8 multiply-adds an instruction). vpmaddubsw does 32 (u8 x s8
// pairs summed to int16); for 4-bit weights eight of them can be added in int16 before one vpmaddwd
// widens them (|pair| <= 2 * 15 * 127, eight pairs <= 30480), so a block of 32 k costs a tile
// of 8 rows x 1 token eight vpmaddubsw and eight int16 adds instead of 32 FMAs.
//
// Layout: W is packed into panels of 8 rows, [k / 4][8 rows][4 bytes]: one vector holds four
// consecutive weights of each of the 8 rows, and a token's four activations, broadcast, meet all
// eight rows in one instruction, whose int16 lanes 2r and 2r + 1 belong to row r (vpmaddwd by
// ones then makes lane r row r's sum). Q4_0 is packed as its nibbles n = w + 8 (unsigned, as
// vpmaddubsw wants its first operand) and the block's 8 sum x = s8 subtracted once; Q4_K as its
// nibbles, with each block's d * sc and dmin * m (exact in fp32) beside the panel; Q8_0 as its
// signed q, made |q| and x * sign(q) in the kernel (the products' signs move to x), whose pairs
// (up to 2 * 127 * 127) are widened to int32 at each step. Each block's product is then exact in
// int32, as in gemv.
//
// Numerical contract, the VNNI gemm's (quant_gemm_avx512.cpp): for each output, the blocks'
// terms float(p_b) * (d_w,b * d_x,b) are added in block order with FMAs into one fp32 sum (Q4_K:
// p_b = sum n x, d_w,b = d * sc, and after each block's FMA a second one adds
// float(sum x) * -(dmin * m * d_x)). The two sets' prompts are therefore bit-identical.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "simd/half.h"
#include "simd/quant_gemm_blocking.h"
#include "simd/quant_kernels.h"

namespace loom::simd {
namespace {

using quant::ActSpace;
using quant::kBlock;

constexpr int kRows = 8;            // rows of a panel: one vector of int32 or fp32 lanes
constexpr int kKb = 16;             // blocks (512 k) packed at once
constexpr int kNc = 64;             // rows packed at once: eight panels
constexpr int kSteps = kBlock / 4;  // four k a step
constexpr int kStepBytes = 4 * kRows;

constexpr size_t panel_quant_bytes(int nb) {
  return simd::panel_quant_bytes(kRows, nb);
}
constexpr size_t panel_bytes(int nb) {
  return simd::panel_bytes(kRows, nb);
}

// Rows R .. R + NR (NR <= 8; the rest of the panel zero) of W, blocks B0 .. B0 + NB: the blocks of
// eight rows, as eight vectors of eight int32 (four k each), transposed.
template <DType T>
void pack(const void* w, size_t ldw, int r, int nr, int b0, int nb, uint8_t* dst) {
  auto* scales = reinterpret_cast<float*>(dst + panel_quant_bytes(nb));
  float* mins = scales + nb * kRows;
  const size_t row_bytes = quant::quant_row_bytes(T, ldw);
  const auto* base = static_cast<const uint8_t*>(w) + r * row_bytes;
  for (int b = 0; b < nb; ++b) {
    __m256i v[kRows];
    for (int j = 0; j < kRows; ++j) {
      v[j] = j < nr ? block_bytes<T>(base + j * row_bytes, b0 + b) : _mm256_setzero_si256();
      scales[b * kRows + j] = mins[b * kRows + j] = 0.0f;
      if (j < nr) {
        block_scale<T>(base + j * row_bytes, ldw, b0 + b, scales[b * kRows + j],
                       mins[b * kRows + j]);
      }
    }
    // 8 x 8 int32 transpose: 32-bit, then 64-bit interleaves, then the 128-bit halves.
    __m256i t[8], u[8];
    for (int i = 0; i < 4; ++i) {
      t[2 * i] = _mm256_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
      t[2 * i + 1] = _mm256_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
    }
    for (int i = 0; i < 2; ++i) {
      u[4 * i] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
      u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
      u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
      u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    // u[i] (i < 4) holds rows 0..3 of steps i and i + 4 (low, high half); u[i + 4] rows 4..7.
    auto* out = reinterpret_cast<__m256i*>(dst + static_cast<size_t>(b) * kBlock * kRows);
    for (int i = 0; i < 4; ++i) {
      _mm256_store_si256(out + i, _mm256_permute2x128_si256(u[i], u[i + 4], 0x20));
      _mm256_store_si256(out + i + 4, _mm256_permute2x128_si256(u[i], u[i + 4], 0x31));
    }
  }
}

inline __m256i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm256_set1_epi32(v);
}

// An empty asm that says V is read and written here: GCC otherwise regroups a block's eight
// integer additions into a tree, which needs all 48 products of the tile alive at once and
// spills them to the stack (measured: the tile ran at half its rate).
inline void keep_in_register(__m256i& v) {
  asm("" : "+x"(v));
}

// out[t][0..nr) (+)= the blocks' terms for P panels (8 rows each) and MR tokens.
template <DType T, int P, int MR>
void micro(const uint8_t* const* panels, int nb, const Token* tok, int b0, float* out, size_t ldo,
           int nr, bool accumulate) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 f[MR][P];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      const int n = std::clamp(nr - p * kRows, 0, kRows);
      if (accumulate && n == kRows) {
        f[i][p] = _mm256_loadu_ps(out + i * ldo + p * kRows);
      } else {
        alignas(32) float tmp[kRows] = {};
        if (accumulate) std::copy_n(out + i * ldo + p * kRows, n, tmp);
        f[i][p] = _mm256_load_ps(tmp);
      }
    }
  }
  for (int b = 0; b < nb; ++b) {
    __m256i s[MR][P];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 8
      for (int p = 0; p < P; ++p) s[i][p] = _mm256_setzero_si256();
    }
    const int8_t* xq[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) xq[i] = tok[i].q + (b0 + b) * kBlock;
#pragma GCC unroll 8
    for (int g = 0; g < kSteps; ++g) {
      __m256i w[P], aw[P];
#pragma GCC unroll 8
      for (int p = 0; p < P; ++p) {
        w[p] = _mm256_load_si256(reinterpret_cast<const __m256i*>(
            panels[p] + static_cast<size_t>(b) * kBlock * kRows + g * kStepBytes));
        if constexpr (T == DType::Q8_0) aw[p] = _mm256_abs_epi8(w[p]);
      }
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m256i x = bcast4(xq[i] + 4 * g);
#pragma GCC unroll 8
        for (int p = 0; p < P; ++p) {
          if constexpr (T == DType::Q8_0) {
            const __m256i d = _mm256_maddubs_epi16(aw[p], _mm256_sign_epi8(x, w[p]));
            s[i][p] = _mm256_add_epi32(s[i][p], _mm256_madd_epi16(d, ones));
          } else {
            s[i][p] = _mm256_add_epi16(s[i][p], _mm256_maddubs_epi16(w[p], x));
          }
          keep_in_register(s[i][p]);
        }
      }
    }
    __m256 dw[P], mw[P];
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      if constexpr (T == DType::Q4_K) {
        mw[p] = _mm256_load_ps(reinterpret_cast<const float*>(panels[p] + panel_quant_bytes(nb)) +
                               (nb + b) * kRows);
      }
      dw[p] = _mm256_load_ps(reinterpret_cast<const float*>(panels[p] + panel_quant_bytes(nb)) +
                             b * kRows);
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m256 dx = _mm256_set1_ps(tok[i].d[b0 + b]);
#pragma GCC unroll 8
      for (int p = 0; p < P; ++p) {
        __m256i sum = s[i][p];
        if constexpr (T == DType::Q4_0) {
          sum =
              _mm256_sub_epi32(_mm256_madd_epi16(sum, ones), _mm256_set1_epi32(tok[i].s8[b0 + b]));
        } else if constexpr (T == DType::Q4_K) {
          sum = _mm256_madd_epi16(sum, ones);
        }
        f[i][p] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_mul_ps(dw[p], dx), f[i][p]);
        if constexpr (T == DType::Q4_K) {  // - (dmin m d_x) sum x, sum x = s8 / 8 exactly
          const __m256 sx = _mm256_set1_ps(static_cast<float>(tok[i].s8[b0 + b] / 8));
          f[i][p] = _mm256_fnmadd_ps(_mm256_mul_ps(mw[p], dx), sx, f[i][p]);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      const int n = std::clamp(nr - p * kRows, 0, kRows);
      if (n == kRows) {
        _mm256_storeu_ps(out + i * ldo + p * kRows, f[i][p]);
      } else if (n > 0) {
        alignas(32) float tmp[kRows];
        _mm256_store_ps(tmp, f[i][p]);
        std::copy_n(tmp, n, out + i * ldo + p * kRows);
      }
    }
  }
}

// The micro-tile: 2 panels x 4 tokens: 8 int accumulators, two weight vectors and a broadcast in
// registers through a block (the 8 float accumulators, touched once a block, may live in memory).
// 2 x 3, 1 x 4 and 1 x 6 measured up to 10% slower on Zen 3.
constexpr int kP = 2;
constexpr int kMr = 4;

template <DType T>
void micro_tokens(int mr, const uint8_t* const* panels, int nb, const Token* tok, int b0,
                  float* out, size_t ldo, int nr, bool accumulate) {
  switch (mr) {
    case 1:
      return micro<T, kP, 1>(panels, nb, tok, b0, out, ldo, nr, accumulate);
    case 2:
      return micro<T, kP, 2>(panels, nb, tok, b0, out, ldo, nr, accumulate);
    case 3:
      return micro<T, kP, 3>(panels, nb, tok, b0, out, ldo, nr, accumulate);
    default:
      return micro<T, kP, 4>(panels, nb, tok, b0, out, ldo, nr, accumulate);
  }
}

// out[t][r] = row r of W . token t of X for t < m, r < rows. A lone last panel pairs with
// itself: its second half is not stored (nr <= 8).
template <DType T>
void gemm(const void* w, size_t ldw, const ActSpace* x, int nb, int m, float* out, size_t ldo,
          int rows) {
  alignas(32) uint8_t packed[kNc / kRows][panel_bytes(kKb)];
  blocked_gemm<kRows, kNc, kKb, kMr, kP>(
      x, nb, m, out, ldo, rows, packed[0], panel_bytes(kKb),
      [&](int r, int nr, int b0, int nbk, uint8_t* dst) { pack<T>(w, ldw, r, nr, b0, nbk, dst); },
      [&](int mr, const uint8_t* const* panels, int, int nbk, const Token* tok, int b0, float* o,
          int nr,
          bool accumulate) { micro_tokens<T>(mr, panels, nbk, tok, b0, o, ldo, nr, accumulate); });
}

}  // namespace

QuantKernels::Gemm quant_avx2_gemm(DType t) {
  return t == DType::Q8_0   ? gemm<DType::Q8_0>
         : t == DType::Q4_0 ? gemm<DType::Q4_0>
                            : gemm<DType::Q4_K>;
}

}  // namespace loom::simd
