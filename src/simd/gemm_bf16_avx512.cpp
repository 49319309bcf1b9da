// The prompt product of BF16 weights on AVX-512 BF16 (Cooper Lake, Sapphire Rapids, Zen 4 and
// later), with the activations rounded to bf16. Compiled with -mavx512f -mavx512bw -mavx512vl
// -mavx512bf16; the table takes it only where cpuid reports all of them.
//
// Why: gemm[BF16] widens W to fp32 panels and multiplies at the FMA rate, 16 products an
// instruction. vdpbf16ps takes its operands as pairs of bf16 and adds both products of each pair
// into one fp32 lane, 32 products an instruction, and the panels it reads are half the bytes. The
// cost is the activations' precision: rounded to bf16 (to nearest even), they keep 8 bits of
// mantissa instead of 24, a relative error of up to 2^-8 in every product. W loses nothing (it
// is bf16 already), and the products are exact in fp32; the sums are fp32 as in gemm[BF16]. So
// this set is used only when a session asks for it (SessionOptions::bf16_activations).
// Measured on Sapphire Rapids (16 cores, TinyLlama shape, pp512): 0.56x (1 thread) to 0.80x
// (16) of gemm[BF16]'s rate, more than the activations' conversion explains, so vdpbf16ps does
// not issue there as fast as the two FMAs it replaces. It is meant for CPUs that issue it at an
// FMA's rate (Zen 4: twice the products), where it is unmeasured.
//
// Numerical contract: each output is one fp32 chain over k's pairs in k order (each vdpbf16ps
// adds a pair's two products to it, in the hardware's order), whatever the batch size, the
// token's place in it or the rows around it, as for every gemm.
//
// Layout: the activations come rounded to bf16 already (to_bf16, once per product group in
// ops::matmul, so that the many calls of one product neither convert nor read fp32 rows again):
// a token's pair at k, k+1 is one 32-bit word of its row. W is packed into panels of 32 rows in
// pair order, [k / 2][32 rows][2 bf16] (one 64-byte load is 16 rows' pair), one panel at a time,
// and each panel serves every token before the next is packed: it stays in L1 while the tokens'
// rows stream from L2. Per pair of k the micro-kernel loads two panel vectors and, per token,
// broadcasts the token's pair: 2 vdpbf16ps a token.
//
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_epi32() (a self-initialized variable) as the
// unused merge source of their builtins, which its -Wmaybe-uninitialized then reports, falsely.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>

#include "simd/avx512_transpose.h"
#include "simd/half.h"
#include "simd/kernels.h"

namespace loom::simd {
namespace {

constexpr int kPanel = 32;  // W rows per panel: two 16-lane vectors
constexpr int kMr = 12;     // tokens per micro-tile: 24 accumulators + 2 panel vectors of 32
// A packed panel, 32 rows x 512 k of bf16, is 32 KiB (in L1); a micro-tile's activations,
// 12 x 512 bf16, 12 KiB, and all tokens' at one k block, 512 x 512 bf16, 512 KiB (in L2).
constexpr int kKc = 512;  // k per packed block; even, so that only the last block has a half pair
constexpr int kPairs = kKc / 2;

// A pair of bf16, the lower k in the low half: one 32-bit lane of vdpbf16ps's operands.
using Pair = uint32_t;

__m512bh as_bf16(__m512i v) {
  return std::bit_cast<__m512bh>(v);
}

// The lanes of a 16-lane vector below N (clamped to 0..16).
__mmask16 first_lanes(int n) {
  return n >= 16 ? 0xffff : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1);
}

// panel[p * kPanel + j] = the pair at k0 + 2p of W's row r0 + j, for p < ceil(kc / 2) and j < nr;
// the half pair past kc and the rows from nr on are zero. The panel is 64-byte aligned.
void pack(const uint16_t* w, size_t ldw, int r0, int nr, int k0, int kc, Pair* panel) {
  const int pairs = (kc + 1) / 2, whole = kc / 2;
  for (int j0 = 0; j0 < kPanel; j0 += 16) {
    const int n = std::clamp(nr - j0, 0, 16);
    int p = 0;
    if (n == 16) {
      // 16 rows x 16 pairs (a cache line of each row): a transpose of 32-bit elements.
      for (; p + 16 <= whole; p += 16) {
        __m512 v[16];
        for (int j = 0; j < 16; ++j) {
          const uint16_t* at = w + static_cast<size_t>(r0 + j0 + j) * ldw + k0 + 2 * p;
          v[j] = _mm512_castsi512_ps(_mm512_loadu_si512(at));
        }
        transpose16(v);
        for (int i = 0; i < 16; ++i) {
          _mm512_store_ps(reinterpret_cast<float*>(panel + (p + i) * kPanel + j0), v[i]);
        }
      }
    }
    for (; p < pairs; ++p) {
      for (int j = 0; j < 16; ++j) {
        Pair v = 0;
        if (j < n) {
          const uint16_t* row = w + static_cast<size_t>(r0 + j0 + j) * ldw + k0;
          v = row[2 * p];
          if (2 * p + 1 < kc) v |= static_cast<Pair>(row[2 * p + 1]) << 16;
        }
        panel[p * kPanel + j0 + j] = v;
      }
    }
  }
}

// The pair of bf16 at X (the one at X alone when LAST_HALF: an odd k's last, its partner zero).
uint32_t pair_at(const uint16_t* x, bool last_half) {
  if (last_half) return *x;
  uint32_t v;
  std::memcpy(&v, x, sizeof v);
  return v;
}

// out[t][0..nr) (+)= sum over the kc k of x[t][k] * panel[k][0..nr), for t < MR, token t's
// activations at x + t * ldx. Named accumulators: GCC spills an array of them.
template <int MR>
void micro(const Pair* panel, const uint16_t* x, size_t ldx, int kc, float* out, size_t ldo, int nr,
           bool accumulate) {
  const __mmask16 m0 = first_lanes(nr), m1 = first_lanes(nr - 16);
#define LOOM_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define LOOM_DECL(i) [[maybe_unused]] __m512 c##i##a = _mm512_setzero_ps(), c##i##b = c##i##a;
#define LOOM_LOAD(i)                                         \
  if constexpr (MR > i) {                                    \
    c##i##a = _mm512_maskz_loadu_ps(m0, out + i * ldo);      \
    c##i##b = _mm512_maskz_loadu_ps(m1, out + i * ldo + 16); \
  }
#define LOOM_STEP(i)                                                                      \
  if constexpr (MR > i) {                                                                 \
    const __m512bh a =                                                                    \
        as_bf16(_mm512_set1_epi32(static_cast<int>(pair_at(x + i * ldx + 2 * p, half)))); \
    c##i##a = _mm512_dpbf16_ps(c##i##a, b0, a);                                           \
    c##i##b = _mm512_dpbf16_ps(c##i##b, b1, a);                                           \
  }
#define LOOM_STORE(i)                                       \
  if constexpr (MR > i) {                                   \
    _mm512_mask_storeu_ps(out + i * ldo, m0, c##i##a);      \
    _mm512_mask_storeu_ps(out + i * ldo + 16, m1, c##i##b); \
  }
  LOOM_ROWS(LOOM_DECL)
  if (accumulate) {
    LOOM_ROWS(LOOM_LOAD)
  }
  const int whole = kc / 2;
  for (int p = 0; p < whole; ++p) {
    constexpr bool half = false;
    const __m512bh b0 = as_bf16(_mm512_load_si512(panel + p * kPanel));
    const __m512bh b1 = as_bf16(_mm512_load_si512(panel + p * kPanel + 16));
    LOOM_ROWS(LOOM_STEP)
  }
  if (kc % 2) {
    const int p = whole;
    constexpr bool half = true;
    const __m512bh b0 = as_bf16(_mm512_load_si512(panel + p * kPanel));
    const __m512bh b1 = as_bf16(_mm512_load_si512(panel + p * kPanel + 16));
    LOOM_ROWS(LOOM_STEP)
  }
  LOOM_ROWS(LOOM_STORE)
#undef LOOM_ROWS
#undef LOOM_DECL
#undef LOOM_LOAD
#undef LOOM_STEP
#undef LOOM_STORE
}

using Bf16Micro = void (*)(const Pair* panel, const uint16_t* x, size_t ldx, int kc, float* out,
                           size_t ldo, int nr, bool accumulate);
constexpr Bf16Micro kMicro[kMr] = {micro<1>, micro<2>, micro<3>, micro<4>,  micro<5>,  micro<6>,
                                   micro<7>, micro<8>, micro<9>, micro<10>, micro<11>, micro<12>};

// W packed one panel of 32 rows x kKc k at a time, used by every token before the next, each
// output carried across the k blocks through OUT itself (one chain in k order).
void gemm(const void* w, size_t ldw, const uint16_t* x, size_t ldx, int m, int k, float* out,
          size_t ldo, int rows) {
  if (k == 0) {
    for (int t = 0; t < m; ++t) std::fill_n(out + t * ldo, rows, 0.0f);
    return;
  }
  const auto* wb = static_cast<const uint16_t*>(w);
  alignas(64) Pair packed[kPairs * kPanel];
  for (int k0 = 0; k0 < k; k0 += kKc) {
    const int kc = std::min(kKc, k - k0);
    for (int r = 0; r < rows; r += kPanel) {
      const int nr = std::min(kPanel, rows - r);
      pack(wb, ldw, r, nr, k0, kc, packed);
      for (int t0 = 0; t0 < m; t0 += kMr) {
        kMicro[std::min(kMr, m - t0) - 1](packed, x + t0 * ldx + k0, ldx, kc, out + t0 * ldo + r,
                                          ldo, nr, k0 > 0);
      }
    }
  }
}

// N floats to bf16, rounded to nearest even (NaN stays NaN, quieted), as half.h's f32_to_bf16.
void to_bf16(const float* x, uint16_t* out, size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 lo = _mm512_loadu_ps(x + i), hi = _mm512_loadu_ps(x + i + 16);
    _mm512_storeu_si512(out + i, std::bit_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo)));
  }
  for (; i < n; ++i) out[i] = f32_to_bf16(x[i]);
}

}  // namespace

Kernels::GemmBf16 avx512_bf16_gemm() {
  return gemm;
}

Kernels::ToBf16 avx512_to_bf16() {
  return to_bf16;
}

}  // namespace loom::simd
