#include "bench/peaks.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "simd/cpu.h"

namespace loom::bench {
namespace {

constexpr int kChains = 12;
constexpr long kIters = 200000;  // x 12 instructions: ~20 ms at 1 instruction a cycle per core

// Each kernel runs kIters rounds of kChains independent instructions and returns a value built
// from every chain, so the compiler cannot drop them; the operands vary by chain only.
__attribute__((target("avx2,fma"))) float fma_ymm() {
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(static_cast<float>(c));
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-3f);
  for (long i = 0; i < kIters; ++i) {
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  }
  __m256 s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm256_add_ps(s, acc[c]);
  return _mm256_cvtss_f32(s);
}

__attribute__((target("avx512f"))) float fma_zmm() {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(static_cast<float>(c));
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f);
  for (long i = 0; i < kIters; ++i) {
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  }
  __m512 s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm512_add_ps(s, acc[c]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, s);
  return lanes[0] + lanes[15];
}

__attribute__((target("avx512f,avx512bf16"))) float dpbf16_zmm() {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(static_cast<float>(c));
  const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3a83);
  for (long i = 0; i < kIters; ++i) {
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_dpbf16_ps(acc[c], a, b);
  }
  __m512 s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm512_add_ps(s, acc[c]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, s);
  return lanes[0] + lanes[15];
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) float dpbusd_zmm() {
  __m512i acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_epi32(c);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
  for (long i = 0; i < kIters; ++i) {
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_dpbusd_epi32(acc[c], a, b);
  }
  __m512i s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm512_add_epi32(s, acc[c]);
  alignas(64) int32_t lanes[16];
  _mm512_store_si512(lanes, s);
  return static_cast<float>(lanes[0] + lanes[15]);
}

// vpmaddubsw and the int16 add that takes its pairs into an accumulator: the AVX2 int8 gemm's
// step for 32 multiply-accumulates (quant_gemm_avx2.cpp).
__attribute__((target("avx2"))) float maddubs_ymm() {
  __m256i acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_epi16(static_cast<int16_t>(c));
  const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-2);
  for (long i = 0; i < kIters; ++i) {
    for (int c = 0; c < kChains; ++c) {
      acc[c] = _mm256_add_epi16(acc[c], _mm256_maddubs_epi16(a, b));
      // (the product does not depend on the chain: keep the compiler from hoisting it)
      __asm__ volatile("" : "+x"(acc[c]));
    }
  }
  __m256i s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm256_add_epi16(s, acc[c]);
  return static_cast<float>(_mm256_extract_epi16(s, 0));
}

// KERNEL on THREADS threads, best of kPasses passes: GFLOP/s for FLOPS_PER_INSN a
// lane-instruction. Five passes: with three, a probe on a many-core machine could still read a
// third low, its passes on cores still waking up (docs/performance.md, the Sapphire Rapids table).
constexpr int kPasses = 5;
double rate(float (*kernel)(), double flops_per_insn, int threads) {
  double best = 0;
  volatile float sink = 0;
  for (int pass = 0; pass < kPasses; ++pass) {
    float sum = 0;
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : sum)
    sum += kernel();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sink = sink + sum;
    best = std::max(best, flops_per_insn * kChains * kIters * threads / s / 1e9);
  }
  return best;
}

}  // namespace

Peaks probe_peaks(int threads) {
  using simd::Isa;
  threads = std::max(threads, 1);
  Peaks p;
  p.threads = threads;
  // The kernel set loom runs here (LOOM_ISA may cap it), so that shares are of what it can use.
  const Isa isa = simd::best_isa();
  if (isa == Isa::Avx512) {
    p.fp32 = {rate(fma_zmm, 2 * 16, threads), "vfmadd231ps zmm"};
  } else if (isa == Isa::Avx2) {
    p.fp32 = {rate(fma_ymm, 2 * 8, threads), "vfmadd231ps ymm"};
  }
  if (isa == Isa::Avx512 && simd::cpu_features().avx512bf16) {
    p.bf16 = {rate(dpbf16_zmm, 2 * 32, threads), "vdpbf16ps zmm"};
  }
  if (isa == Isa::Avx512 && simd::avx512_vnni_supported()) {
    p.int8 = {rate(dpbusd_zmm, 2 * 64, threads), "vpdpbusd zmm"};
  } else if (isa != Isa::Scalar) {
    p.int8 = {rate(maddubs_ymm, 2 * 32, threads), "vpmaddubsw ymm"};
  }
  return p;
}

}  // namespace loom::bench
