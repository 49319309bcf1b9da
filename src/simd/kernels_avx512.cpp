// AVX-512 kernels (Skylake-SP, Ice Lake, Sapphire Rapids, Zen 4 and later). Compiled with
// -mavx512f -mavx2 -mfma -mf16c; called only when cpuid reports all of them.
//
// Only the prompt gemm differs from the AVX2 set: compute-bound, it gains from 16-lane FMAs and
// 32 vector registers. Decode steps are bound by memory bandwidth, where wider vectors buy
// nothing, so gemv, dot, axpy and the conversions are the AVX2 set's own functions, and decode
// results are the same bits on both sets. gemm keeps the AVX2 set's contract too (every output
// one FMA chain in k order), so prompts give the same bits as well: the two sets differ in speed
// only, and every golden result holds for both.
//
// The table also carries gemm_bf16_acts (gemm_bf16_avx512.cpp, a separate unit compiled for
// AVX-512 BF16) where the CPU has it; that product rounds the activations and is used only when
// a session asks for it.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "simd/avx2_loaders.h"
#include "simd/kernels.h"

namespace loom::simd {
namespace {

// W packed into fp32 panels of kPanel rows ([k][kPanel]); a micro-tile of kMr tokens x kPanel
// rows keeps 2 * kMr accumulators in registers, fed by two panel loads per k and, per token, one
// broadcast of x that the FMA reads straight from memory.
constexpr int kPanel = 32;  // W rows per panel: two 16-lane vectors
constexpr int kMr = 12;     // tokens per micro-tile: 24 accumulators + 2 panel vectors of 32
// A packed block of 512 k x 64 rows is 128 KiB (in L2); a micro-tile's x, 12 x 512 floats,
// 24 KiB (in L1).
constexpr int kKc = 512;  // k per packed block
constexpr int kNc = 64;   // W rows packed at once, reused by every token

// out[t][0..nr) (+)= sum over kk of x[t][kk] * panel[kk][0..nr), for t < MR. Named accumulators:
// GCC spills an array of them.
template <int MR>
void micro(const float* panel, const float* x, size_t ldx, int kc, float* out, size_t ldo, int nr,
           bool accumulate) {
  const __mmask16 m0 = nr >= 16 ? 0xffff : static_cast<__mmask16>((1u << nr) - 1);
  const __mmask16 m1 = nr >= 32   ? 0xffff
                       : nr <= 16 ? 0
                                  : static_cast<__mmask16>((1u << (nr - 16)) - 1);
#define LOOM_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define LOOM_DECL(i) [[maybe_unused]] __m512 c##i##a = _mm512_setzero_ps(), c##i##b = c##i##a;
#define LOOM_LOAD(i)                                         \
  if constexpr (MR > i) {                                    \
    c##i##a = _mm512_maskz_loadu_ps(m0, out + i * ldo);      \
    c##i##b = _mm512_maskz_loadu_ps(m1, out + i * ldo + 16); \
  }
#define LOOM_STEP(i)                                  \
  if constexpr (MR > i) {                             \
    const __m512 a = _mm512_set1_ps(x[i * ldx + kk]); \
    c##i##a = _mm512_fmadd_ps(a, b0, c##i##a);        \
    c##i##b = _mm512_fmadd_ps(a, b1, c##i##b);        \
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
  for (int kk = 0; kk < kc; ++kk) {
    const __m512 b0 = _mm512_load_ps(panel + kk * kPanel);
    const __m512 b1 = _mm512_load_ps(panel + kk * kPanel + 16);
    LOOM_ROWS(LOOM_STEP)
  }
  LOOM_ROWS(LOOM_STORE)
#undef LOOM_ROWS
#undef LOOM_DECL
#undef LOOM_LOAD
#undef LOOM_STEP
#undef LOOM_STORE
}

struct Tile {
  static constexpr int kPanel = loom::simd::kPanel, kMr = loom::simd::kMr;
  static constexpr int kKc = loom::simd::kKc, kNc = loom::simd::kNc;
  static constexpr MicroFn micro[kMr] = {micro<1>, micro<2>,  micro<3>,  micro<4>,
                                         micro<5>, micro<6>,  micro<7>,  micro<8>,
                                         micro<9>, micro<10>, micro<11>, micro<12>};
};

template <class L>
void gemm(const void* w, size_t ldw, const float* x, size_t ldx, int m, int k, float* out,
          size_t ldo, int rows) {
  packed_gemm<L, Tile>(w, ldw, x, ldx, m, k, out, ldo, rows);
}

}  // namespace

const Kernels& avx512_kernels() {
  static const Kernels k = [] {
    Kernels s = avx2_kernels();
    s.gemm[static_cast<int>(DType::F32)] = gemm<F32>;
    s.gemm[static_cast<int>(DType::F16)] = gemm<F16>;
    s.gemm[static_cast<int>(DType::BF16)] = gemm<BF16>;
    s.gemm[static_cast<int>(DType::Q8_0)] = gemm<Q8>;
    s.gemm[static_cast<int>(DType::Q4_0)] = gemm<Q4>;
    s.gemm[static_cast<int>(DType::Q4_K)] = gemm<Q4K>;
    avx512_gemv_rows(s);
    const CpuFeatures& f = cpu_features();
    if (f.avx512bf16 && f.avx512bw && f.avx512vl) {
      s.gemm_bf16_acts = avx512_bf16_gemm();
      s.to_bf16 = avx512_to_bf16();
    }
    return s;
  }();
  return k;
}

}  // namespace loom::simd
