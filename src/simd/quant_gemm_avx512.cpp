// The prompt product with Q8_0, Q4_0 and Q4_K weights on AVX-512 VNNI: int8 x int8 dot products,
// the activations quantized per block as a decode step quantizes them. Compiled with -mavx512f
// -mavx512bw -mavx512vl -mavx512vnni (and -ffp-contract=off, as every quantized set).
//
// Why: without it a quantized prompt runs through the float gemm, dequantizing W into fp32
// panels, at the fp32 FMA rate (16 multiply-adds an instruction). vpdpbusd does 64 (16 lanes of
// four u8 x s8 products summed into int32), so the same tile takes a quarter of the multiply
// instructions plus a per-block epilogue that scales the block's integer sums.
//
// Layout: W is packed into panels of 16 rows in VNNI order, [k / 4][16 rows][4 bytes], as
// unsigned bytes u = w + o (Q8_0: o = 128, so u = q ^ 0x80; Q4_0: the nibble, o = 8; Q4_K: the
// nibble, o = 0), and each block's 16 fp32 scales after them (Q4_K: d * sc, then its 16 dmin * m).
// sum u x = sum w x + o sum x, and o sum x = (o / 8) s8 with the activations' s8 = 8 sum x: each
// block's int32 sums start at -(o / 8) s8 (one broadcast per token and block, shared by the
// panels), so a block's product is exact in int32, as in gemv. Numerical contract: for each output,
// the blocks' terms float(p_b) * (d_w,b * d_x,b) are added in block order with FMAs into one fp32
// sum (Q4_K: after each block's FMA a second adds float(sum x) * -(dmin * m * d_x)), as in
// quant_gemm_avx2.cpp: the two sets' prompts are bit-identical. GCC 12's AVX-512 intrinsics pass
// _mm512_undefined_epi32() (a self-initialized variable) as the unused merge source of their
// builtins, which its -Wmaybe-uninitialized then reports, falsely.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

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

constexpr int kRows = 16;  // rows of a panel: one vector of int32 lanes
constexpr int kMr = 6;     // tokens of a micro-tile: 2 x 6 int and 2 x 6 float accumulators
constexpr int kKb = 16;    // blocks (512 k) packed at once
constexpr int kNc = 64;    // rows packed at once: four panels
constexpr int kGroups = kBlock / 4;  // vpdpbusd steps a block

constexpr size_t panel_quant_bytes(int nb) {
  return simd::panel_quant_bytes(kRows, nb);
}
constexpr size_t panel_bytes(int nb) {
  return simd::panel_bytes(kRows, nb);
}

template <DType T>
struct Weights {
  static constexpr int kOffsetOver8 = T == DType::Q8_0 ? 16 : T == DType::Q4_0 ? 1 : 0;  // o / 8
  // Block b of a row as 32 unsigned bytes u = w + o.
  static __m256i unsigned_block(const uint8_t* row, int b) {
    const __m256i v = block_bytes<T>(row, b);
    if constexpr (T == DType::Q8_0) {
      return _mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80)));
    }
    return v;
  }
};

// Rows R .. R + NR (NR <= 16; the rest of the panel zero) of W, blocks B0 .. B0 + NB.
template <DType T>
void pack(const void* w, size_t ldw, int r, int nr, int b0, int nb, uint8_t* dst) {
  auto* scales = reinterpret_cast<float*>(dst + panel_quant_bytes(nb));
  float* mins = scales + nb * kRows;
  const size_t row_bytes = quant::quant_row_bytes(T, ldw);
  for (int j = 0; j < kRows; ++j) {
    if (j >= nr) {
      for (int b = 0; b < nb; ++b) {
        for (int g = 0; g < kGroups; ++g) std::memset(dst + (b * kGroups + g) * 64 + j * 4, 0, 4);
        scales[b * kRows + j] = mins[b * kRows + j] = 0.0f;
      }
      continue;
    }
    const auto* row = static_cast<const uint8_t*>(w) + (r + j) * row_bytes;
    for (int b = 0; b < nb; ++b) {
      alignas(32) uint8_t u[kBlock];
      _mm256_store_si256(reinterpret_cast<__m256i*>(u), Weights<T>::unsigned_block(row, b0 + b));
      for (int g = 0; g < kGroups; ++g)
        std::memcpy(dst + (b * kGroups + g) * 64 + j * 4, u + 4 * g, 4);
      block_scale<T>(row, ldw, b0 + b, scales[b * kRows + j], mins[b * kRows + j]);
    }
  }
}

// out[t][0..nr) (+)= the blocks' terms for the P panels (16 rows each) and MR tokens.
template <int P, int MR, int kO8, bool kMin>
void micro(const uint8_t* const* panels, int nb, const Token* tok, int b0, float* out, size_t ldo,
           int nr, bool accumulate) {
  const __mmask16 m0 = nr >= 16 ? 0xffff : static_cast<__mmask16>((1u << nr) - 1);
  const __mmask16 m1 = nr >= 32   ? 0xffff
                       : nr <= 16 ? 0
                                  : static_cast<__mmask16>((1u << (nr - 16)) - 1);
  const float* sc0 = reinterpret_cast<const float*>(panels[0] + panel_quant_bytes(nb));
  const float* sc1 =
      P > 1 ? reinterpret_cast<const float*>(panels[1] + panel_quant_bytes(nb)) : sc0;
#define LOOM_TOKENS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define LOOM_DECL(i) [[maybe_unused]] __m512 f##i##a = _mm512_setzero_ps(), f##i##b = f##i##a;
#define LOOM_LOAD(i)                                                              \
  if constexpr (MR > i) {                                                         \
    f##i##a = _mm512_maskz_loadu_ps(m0, out + i * ldo);                           \
    if constexpr (P > 1) f##i##b = _mm512_maskz_loadu_ps(m1, out + i * ldo + 16); \
  }
// Each block's integer sums start at -o sum x (o sum x = kO8 * s8), so that they end as the
// block's exact product: no subtraction per panel in the epilogue.
#define LOOM_ZERO(i)                                                                             \
  [[maybe_unused]] __m512i s##i##a =                                                             \
      MR > i && kO8 != 0 ? _mm512_set1_epi32(-kO8 * tok[i].s8[b0 + b]) : _mm512_setzero_si512(); \
  [[maybe_unused]] __m512i s##i##b = s##i##a;
#define LOOM_DOT(i)                                                                        \
  if constexpr (MR > i) {                                                                  \
    const __m512i x = _mm512_set1_epi32(*reinterpret_cast<const int32_t*>(xq##i + 4 * g)); \
    s##i##a = _mm512_dpbusd_epi32(s##i##a, w0, x);                                         \
    if constexpr (P > 1) s##i##b = _mm512_dpbusd_epi32(s##i##b, w1, x);                    \
  }
#define LOOM_SCALE(i)                                                                          \
  if constexpr (MR > i) {                                                                      \
    const __m512 dx = _mm512_set1_ps(tok[i].d[b0 + b]);                                        \
    f##i##a = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s##i##a), _mm512_mul_ps(dw0, dx), f##i##a);   \
    if constexpr (P > 1) {                                                                     \
      f##i##b = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s##i##b), _mm512_mul_ps(dw1, dx), f##i##b); \
    }                                                                                          \
    if constexpr (kMin) {                                                                      \
      const __m512 sx = _mm512_set1_ps(static_cast<float>(tok[i].s8[b0 + b] / 8));             \
      f##i##a = _mm512_fnmadd_ps(_mm512_mul_ps(mw0, dx), sx, f##i##a);                         \
      if constexpr (P > 1) f##i##b = _mm512_fnmadd_ps(_mm512_mul_ps(mw1, dx), sx, f##i##b);    \
    }                                                                                          \
  }
#define LOOM_XQ(i) \
  [[maybe_unused]] const int8_t* xq##i = MR > i ? tok[i].q + (b0 + b) * kBlock : nullptr;
#define LOOM_STORE(i)                                                            \
  if constexpr (MR > i) {                                                        \
    _mm512_mask_storeu_ps(out + i * ldo, m0, f##i##a);                           \
    if constexpr (P > 1) _mm512_mask_storeu_ps(out + i * ldo + 16, m1, f##i##b); \
  }
  LOOM_TOKENS(LOOM_DECL)
  if (accumulate) {
    LOOM_TOKENS(LOOM_LOAD)
  }
  for (int b = 0; b < nb; ++b) {
    LOOM_TOKENS(LOOM_ZERO)
    LOOM_TOKENS(LOOM_XQ)
    const uint8_t* q0 = panels[0] + static_cast<size_t>(b) * kBlock * kRows;
    const uint8_t* q1 = P > 1 ? panels[1] + static_cast<size_t>(b) * kBlock * kRows : q0;
    for (int g = 0; g < kGroups; ++g) {
      const __m512i w0 = _mm512_load_si512(q0 + g * 64);
      [[maybe_unused]] const __m512i w1 = P > 1 ? _mm512_load_si512(q1 + g * 64) : w0;
      LOOM_TOKENS(LOOM_DOT)
    }
    const __m512 dw0 = _mm512_loadu_ps(sc0 + b * kRows);
    [[maybe_unused]] const __m512 dw1 = _mm512_loadu_ps(sc1 + b * kRows);
    [[maybe_unused]] const __m512 mw0 = _mm512_loadu_ps(sc0 + (nb + b) * kRows);
    [[maybe_unused]] const __m512 mw1 = _mm512_loadu_ps(sc1 + (nb + b) * kRows);
    LOOM_TOKENS(LOOM_SCALE)
  }
  LOOM_TOKENS(LOOM_STORE)
#undef LOOM_TOKENS
#undef LOOM_DECL
#undef LOOM_LOAD
#undef LOOM_ZERO
#undef LOOM_DOT
#undef LOOM_SCALE
#undef LOOM_XQ
#undef LOOM_STORE
}

template <int P, int kO8, bool kMin>
void micro_tokens(int mr, const uint8_t* const* panels, int nb, const Token* tok, int b0,
                  float* out, size_t ldo, int nr, bool accumulate) {
  switch (mr) {
    case 1:
      return micro<P, 1, kO8, kMin>(panels, nb, tok, b0, out, ldo, nr, accumulate);
    case 2:
      return micro<P, 2, kO8, kMin>(panels, nb, tok, b0, out, ldo, nr, accumulate);
    case 3:
      return micro<P, 3, kO8, kMin>(panels, nb, tok, b0, out, ldo, nr, accumulate);
    case 4:
      return micro<P, 4, kO8, kMin>(panels, nb, tok, b0, out, ldo, nr, accumulate);
    case 5:
      return micro<P, 5, kO8, kMin>(panels, nb, tok, b0, out, ldo, nr, accumulate);
    default:
      return micro<P, 6, kO8, kMin>(panels, nb, tok, b0, out, ldo, nr, accumulate);
  }
}

// out[t][r] = row r of W . token t of X for t < m, r < rows.
template <DType T>
void gemm(const void* w, size_t ldw, const ActSpace* x, int nb, int m, float* out, size_t ldo,
          int rows) {
  constexpr int kO8 = Weights<T>::kOffsetOver8;
  constexpr bool kMin = T == DType::Q4_K;
  alignas(64) uint8_t packed[kNc / kRows][panel_bytes(kKb)];
  blocked_gemm<kRows, kNc, kKb, kMr, 2>(
      x, nb, m, out, ldo, rows, packed[0], panel_bytes(kKb),
      [&](int r, int nr, int b0, int nbk, uint8_t* dst) { pack<T>(w, ldw, r, nr, b0, nbk, dst); },
      [&](int mr, const uint8_t* const* panels, int np, int nbk, const Token* tok, int b0, float* o,
          int nr, bool accumulate) {
        if (np == 2) {
          micro_tokens<2, kO8, kMin>(mr, panels, nbk, tok, b0, o, ldo, nr, accumulate);
        } else {
          micro_tokens<1, kO8, kMin>(mr, panels, nbk, tok, b0, o, ldo, nr, accumulate);
        }
      });
}

}  // namespace

QuantKernels::Gemm quant_avx512_gemm(DType t) {
  return t == DType::Q8_0   ? gemm<DType::Q8_0>
         : t == DType::Q4_0 ? gemm<DType::Q4_0>
                            : gemm<DType::Q4_K>;
}

}  // namespace loom::simd
