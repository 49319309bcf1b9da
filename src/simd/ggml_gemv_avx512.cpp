// AVX-512 VNNI decode product with ggml's Q6_K blocks, read where they lie in a GGUF file.
// Compiled as quant_avx512.cpp is (-mavx512f -mavx512bw -mavx512vl -mavx512vnni ...
// -ffp-contract=off); called only where avx512_vnni_supported().
//
// A super-block's 256 quants are rebuilt as four 64-byte registers of two sub-blocks each: one
// load of 64 ql bytes gives runs 0 and 1 (low nibbles) or 2 and 3 (high nibbles) of a half, and
// its 32 qh bytes, broadcast to both 256-bit halves, give their high bits by one per-half
// variable shift and a mask. vpdpbusd multiplies the unsigned quants (0..63) by the activations,
// and a second one by 32 takes the offset out: q x - 32 x = (q - 32) x, four products a lane.
// Each lane then belongs to one 16-weight half of a sub-block, so one vpmulld by the scales
// (broadcast four lanes each) applies them, and quant_avx512.cpp's transposition of two
// super-blocks' eight registers leaves sub-block j's exact p (quant_kernels.h) in lane j. The
// scaling and accumulation are the contract's, lanes 0..7 then 8..15, so the bits are the
// scalar and AVX2 sets'.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>

#include "quant/ggml_blocks.h"
#include "simd/quant_kernels.h"
#include "simd/stream_prefetch.h"
#include "simd/vnni_helpers.h"

namespace loom::simd {
namespace {

using quant::ActBlocks;
using quant::kBlock;
namespace g = quant::ggml;

// Super-block S against its 256 activations XQ: P[k] = sub-blocks 2k and 2k + 1's partial sums,
// lane l scaled by S's scale 4k + l / 4.
LOOM_INLINE void q6_k_group(const g::block_q6_K& s, const int8_t* xq, __m512i* p) {
  const __m512i m4 = _mm512_set1_epi8(0x0f), hi2 = _mm512_set1_epi8(0x30);
  const __m512i thirty_two = _mm512_set1_epi8(32);
  // Runs 0 and 1 take qh's bits 0-1 and 2-3 to bits 4-5 (left by 4, 2); runs 2 and 3 bits 4-5
  // and 6-7 (right by 0, 2).
  const __m512i left = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
  const __m512i right = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
  const __m128i scales = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.scales));
  for (int h = 0; h < 2; ++h) {
    const __m512i l = load512(s.ql + 64 * h);
    const __m512i qh =
        _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.qh + 32 * h)));
    const __m512i q01 = _mm512_or_si512(_mm512_and_si512(l, m4),
                                        _mm512_and_si512(_mm512_sllv_epi16(qh, left), hi2));
    const __m512i q23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4),
                                        _mm512_and_si512(_mm512_srlv_epi16(qh, right), hi2));
    const __m512i q[2] = {q01, q23};
    for (int r = 0; r < 2; ++r) {
      const int k = 2 * h + r;  // sub-blocks 2k, 2k + 1 = runs 2r, 2r + 1 of half h
      const __m512i x = load512(xq + 64 * k);
      const __m512i sum = _mm512_dpbusd_epi32(
          _mm512_sub_epi32(_mm512_setzero_si512(), dpbusd(thirty_two, x)), q[r], x);
      // Scales 4k .. 4k + 3, each in four lanes.
      const __m512i sc = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(
          scales, _mm_setr_epi8(4 * k, 4 * k, 4 * k, 4 * k, 4 * k + 1, 4 * k + 1, 4 * k + 1,
                                4 * k + 1, 4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 2, 4 * k + 3,
                                4 * k + 3, 4 * k + 3, 4 * k + 3)));
      p[k] = _mm512_mullo_epi32(sum, sc);
    }
  }
}

// acc + (d * d_x) * float(p) for the sub-blocks of P (two super-blocks, D0's and D1's; only the
// first unless UPPER), lanes 0..7 then 8..15.
LOOM_INLINE __m256 accumulate(__m256 acc, __m512i p, float d0, float d1, __m512 dx, bool upper) {
  const __m512 t = _mm512_mul_ps(_mm512_mul_ps(halves(d0, d1), dx), _mm512_cvtepi32_ps(p));
  acc = _mm256_add_ps(acc, _mm512_castps512_ps256(t));
  if (!upper) return acc;
  return _mm256_add_ps(acc, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(t), 1)));
}

void gemv_q6_k(const void* w, size_t ldw, const ActBlocks& x, int nb, float* out, int rows) {
  const auto* base = static_cast<const uint8_t*>(w);
  const size_t stride = ldw / 8 * sizeof(g::block_q6_K);
  const int supers = nb / 8, pairs = supers / 2;
  StreamPrefetch prefetch(base, stride, rows, pairs + supers % 2);
  for (int r = 0; r < rows; ++r) {
    const auto* blk = reinterpret_cast<const g::block_q6_K*>(base + r * stride);
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < pairs; ++i) {
      prefetch.before(r, i);
      __m512i p[8];
      q6_k_group(blk[2 * i], x.q + 512 * i, p);
      q6_k_group(blk[2 * i + 1], x.q + 512 * i + 256, p + 4);
      acc = accumulate(acc, transpose_add(p), _cvtsh_ss(blk[2 * i].d), _cvtsh_ss(blk[2 * i + 1].d),
                       _mm512_loadu_ps(x.d + 16 * i), true);
    }
    if (supers % 2 != 0) {  // a last super-block alone: zeros in the upper eight lanes
      prefetch.before(r, pairs);
      __m512i p[8];
      q6_k_group(blk[2 * pairs], x.q + 512 * pairs, p);
      for (int k = 4; k < 8; ++k) p[k] = _mm512_setzero_si512();
      const __m512 dx = _mm512_castps256_ps512(_mm256_loadu_ps(x.d + 16 * pairs));
      acc = accumulate(acc, transpose_add(p), _cvtsh_ss(blk[2 * pairs].d), 0.0f, dx, false);
    }
    out[r] = hsum8(acc);
  }
}

}  // namespace

QuantKernels::Gemv ggml_gemv_avx512(DType t) {
  return t == DType::Q6_K ? gemv_q6_k : nullptr;
}

}  // namespace loom::simd
