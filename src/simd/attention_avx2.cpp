// Attention loops for AVX2 + FMA + F16C. Keys and values are widened to fp32 as they are loaded
// (F16C for f16, a 16-bit shift for bf16), never copied.
//
// Scores: a tile of 4 keys by 2 query heads, 8 accumulators, each key row loaded once for both
// heads and the four dot products reduced together (3 hadds for 4 sums, not a horizontal sum
// each). Values: a tile of 4 heads by 16 dimensions, each value row loaded once for the 4 heads'
// weights. The softmax is vectorized over the block's keys with exp_poly's polynomial.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "simd/attention_kernels.h"
#include "simd/exp_poly.h"
#include "simd/half.h"

namespace loom::simd {
namespace {

constexpr int kB = kAttentionBlock;

struct F32 {
  using Elem = float;
  static constexpr DType kType = DType::F32;
  static __m256 load8(const Elem* p) { return _mm256_loadu_ps(p); }
};
struct F16 {
  using Elem = uint16_t;
  static constexpr DType kType = DType::F16;
  static __m256 load8(const Elem* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
};
struct BF16 {
  using Elem = uint16_t;
  static constexpr DType kType = DType::BF16;
  static __m256 load8(const Elem* p) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  }
};

// The lanes summed as ((0+1)+(2+3))+((4+5)+(6+7)): the order of the four-key reduction below,
// so a key's score does not depend on whether it fell in a tile of four.
inline float hsum(__m256 a) {
  const __m256 t = _mm256_hadd_ps(a, a);
  const __m256 u = _mm256_hadd_ps(t, t);
  return _mm_cvtss_f32(_mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1)));
}

inline float hmax(__m256 a) {
  const __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  const __m128 m2 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  return _mm_cvtss_f32(_mm_max_ss(m2, _mm_shuffle_ps(m2, m2, 1)));
}

inline __m256 exp8(__m256 x) {
  using namespace exp_poly;
  const __m256 keep = _mm256_cmp_ps(x, _mm256_set1_ps(kLo), _CMP_NLT_UQ);  // x >= kLo, or NaN
  const __m256 xc = _mm256_min_ps(_mm256_set1_ps(kHi), x);                 // NaN stays in x
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(kLog2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kP0);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP1));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP5));
  p = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
  const __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), keep);
}

// The rows a block ahead, so they stream in from memory while this block computes. Prefetches
// never fault, so reading past the cache's written part (or its end) is harmless.
template <class T>
inline void prefetch_rows(const typename T::Elem* p, int n) {
  const char* c = reinterpret_cast<const char*>(p);
  for (size_t b = 0; b < n * sizeof(typename T::Elem); b += 64) _mm_prefetch(c + b, _MM_HINT_T0);
}

// s[h * kB + j] = scale * q_h . k_j for H heads and J keys (J = 4, or 1 for a block's tail).
template <class T, int H, int J>
[[gnu::always_inline]] inline void score_tile(const float* q, int hd, const typename T::Elem* k,
                                              float scale, float* s) {
  __m256 acc[H][J];
#pragma GCC unroll 8
  for (int h = 0; h < H; ++h)
#pragma GCC unroll 8
    for (int j = 0; j < J; ++j) acc[h][j] = _mm256_setzero_ps();
  for (int d = 0; d < hd; d += 8) {
    __m256 kv[J];
#pragma GCC unroll 8
    for (int j = 0; j < J; ++j) {
      kv[j] = T::load8(k + static_cast<size_t>(j) * hd + d);
      // Held in a register: else GCC folds an f32 row's load into each head's FMA, loading it
      // H times.
      asm("" : "+x"(kv[j]));
    }
#pragma GCC unroll 8
    for (int h = 0; h < H; ++h) {
      const __m256 qv = _mm256_loadu_ps(q + h * hd + d);
#pragma GCC unroll 8
      for (int j = 0; j < J; ++j) acc[h][j] = _mm256_fmadd_ps(qv, kv[j], acc[h][j]);
    }
  }
#pragma GCC unroll 8
  for (int h = 0; h < H; ++h) {
    if constexpr (J == 4) {
      const __m256 t0 = _mm256_hadd_ps(acc[h][0], acc[h][1]);
      const __m256 t1 = _mm256_hadd_ps(acc[h][2], acc[h][3]);
      const __m256 t2 = _mm256_hadd_ps(t0, t1);
      const __m128 r = _mm_add_ps(_mm256_castps256_ps128(t2), _mm256_extractf128_ps(t2, 1));
      _mm_storeu_ps(s + h * kB, _mm_mul_ps(r, _mm_set1_ps(scale)));
    } else {
      s[h * kB] = hsum(acc[h][0]) * scale;
    }
  }
}

template <class T>
void score_block(const float* q, int group, int hd, const typename T::Elem* k, int nb, float scale,
                 float* s) {
  int j = 0;
  for (; j + 4 <= nb; j += 4) {
    const typename T::Elem* kj = k + static_cast<size_t>(j) * hd;
    prefetch_rows<T>(kj + static_cast<size_t>(kB) * hd, 4 * hd);
    int h = 0;
    for (; h + 2 <= group; h += 2) score_tile<T, 2, 4>(q + h * hd, hd, kj, scale, s + h * kB + j);
    if (h < group) score_tile<T, 1, 4>(q + h * hd, hd, kj, scale, s + h * kB + j);
  }
  for (; j < nb; ++j) {
    const typename T::Elem* kj = k + static_cast<size_t>(j) * hd;
    for (int h = 0; h < group; ++h) score_tile<T, 1, 1>(q + h * hd, hd, kj, scale, s + h * kB + j);
  }
}

// o[h][0 .. 8*DV) += sum_j p[h * kB + j] * v_j[0 .. 8*DV) for H heads; v rows HD apart.
template <class T, int H, int DV>
inline void value_tile(const float* p, int nb, const typename T::Elem* v, int hd, float* o) {
  __m256 acc[H][DV];
#pragma GCC unroll 8
  for (int h = 0; h < H; ++h)
#pragma GCC unroll 8
    for (int c = 0; c < DV; ++c) acc[h][c] = _mm256_loadu_ps(o + h * hd + 8 * c);
  for (int j = 0; j < nb; ++j) {
    __m256 vv[DV];
#pragma GCC unroll 8
    for (int c = 0; c < DV; ++c) vv[c] = T::load8(v + static_cast<size_t>(j) * hd + 8 * c);
#pragma GCC unroll 8
    for (int h = 0; h < H; ++h) {
      const __m256 w = _mm256_broadcast_ss(p + h * kB + j);
#pragma GCC unroll 8
      for (int c = 0; c < DV; ++c) acc[h][c] = _mm256_fmadd_ps(w, vv[c], acc[h][c]);
    }
  }
#pragma GCC unroll 8
  for (int h = 0; h < H; ++h)
#pragma GCC unroll 8
    for (int c = 0; c < DV; ++c) _mm256_storeu_ps(o + h * hd + 8 * c, acc[h][c]);
}

template <class T, int DV>
void value_heads(const float* p, int group, int nb, const typename T::Elem* v, int hd, float* o) {
  int h = 0;
  for (; h + 4 <= group; h += 4) value_tile<T, 4, DV>(p + h * kB, nb, v, hd, o + h * hd);
  switch (group - h) {
    case 3:
      value_tile<T, 3, DV>(p + h * kB, nb, v, hd, o + h * hd);
      break;
    case 2:
      value_tile<T, 2, DV>(p + h * kB, nb, v, hd, o + h * hd);
      break;
    case 1:
      value_tile<T, 1, DV>(p + h * kB, nb, v, hd, o + h * hd);
      break;
  }
}

template <class T>
void value_block(const float* p, int group, int nb, const typename T::Elem* v, int hd, float* o) {
  prefetch_rows<T>(v + static_cast<size_t>(kB) * hd, kB * hd);
  int d = 0;
  for (; d + 16 <= hd; d += 16) value_heads<T, 2>(p, group, nb, v + d, hd, o + d);
  if (d < hd) value_heads<T, 1>(p, group, nb, v + d, hd, o + d);
}

// The block's scores of head h become exponentials: the running maximum moves up to the
// block's, rescaling the sums so far, and l gains the block's sum (in lane order, then hsum).
inline void softmax_block(float* s, int nb, int hd, float* o, float* m, float* l) {
  const int padded = (nb + 7) & ~7;
  std::fill(s + nb, s + padded, -INFINITY);  // exp gives 0 there: the sum is the block's
  __m256 mx = _mm256_set1_ps(-INFINITY);
  for (int j = 0; j < padded; j += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(s + j));
  const float new_max = std::max(*m, hmax(mx));
  if (new_max > *m) {
    const __m256 c = exp8(_mm256_set1_ps(*m - new_max));
    *l *= _mm256_cvtss_f32(c);
    for (int d = 0; d < hd; d += 8)
      _mm256_storeu_ps(o + d, _mm256_mul_ps(c, _mm256_loadu_ps(o + d)));
    *m = new_max;
  }
  const __m256 mv = _mm256_set1_ps(new_max);
  __m256 sum = _mm256_setzero_ps();
  for (int j = 0; j < padded; j += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j), mv));
    _mm256_storeu_ps(s + j, e);
    sum = _mm256_add_ps(sum, e);
  }
  *l += hsum(sum);
}

template <class T>
void partial(const float* q, int group, int hd, const void* kp, const void* vp, int n, float scale,
             float* scores, float* o, float* m, float* l) {
  if (hd % 8 != 0) {
    scalar_attention_kernels().partial[static_cast<int>(T::kType)](q, 0, 1, group, hd, kp, vp, &n,
                                                                   scale, scores, o, m, l);
    return;
  }
  const auto* k = static_cast<const typename T::Elem*>(kp);
  const auto* v = static_cast<const typename T::Elem*>(vp);
  std::fill(o, o + static_cast<size_t>(group) * hd, 0.0f);
  std::fill(m, m + group, -INFINITY);
  std::fill(l, l + group, 0.0f);
  for (int j0 = 0; j0 < n; j0 += kB) {
    const int nb = std::min(kB, n - j0);
    const size_t at = static_cast<size_t>(j0) * hd;
    score_block<T>(q, group, hd, k + at, nb, scale, scores);
    for (int h = 0; h < group; ++h) {
      softmax_block(scores + h * kB, nb, hd, o + static_cast<size_t>(h) * hd, m + h, l + h);
    }
    value_block<T>(scores, group, nb, v + at, hd, o);
  }
}

void store_f32(const float* src, void* dst, size_t n) {
  std::memcpy(dst, src, n * sizeof(float));
}

void store_f16(const float* src, void* dst, size_t n) {
  auto* out = static_cast<uint16_t*>(dst);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
  }
  for (; i < n; ++i) out[i] = f32_to_f16(src[i]);
}

// As f32_to_bf16, eight at a time: add 0x7fff plus the kept part's lowest bit, keep the top half.
void store_bf16(const float* src, void* dst, size_t n) {
  auto* out = static_cast<uint16_t*>(dst);
  const __m256i one = _mm256_set1_epi32(1), half = _mm256_set1_epi32(0x7fff);
  const __m256i quiet = _mm256_set1_epi32(0x40);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(src + i);
    const __m256i b = _mm256_castps_si256(x);
    const __m256i top = _mm256_srli_epi32(b, 16);
    const __m256i rounded = _mm256_srli_epi32(
        _mm256_add_epi32(_mm256_add_epi32(b, half), _mm256_and_si256(top, one)), 16);
    const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    const __m256i r = _mm256_castps_si256(_mm256_blendv_ps(
        _mm256_castsi256_ps(rounded), _mm256_castsi256_ps(_mm256_or_si256(top, quiet)), nan));
    const __m128i packed =
        _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), packed);
  }
  for (; i < n; ++i) out[i] = f32_to_bf16(src[i]);
}

void exp_array(const float* x, float* y, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, exp8(_mm256_loadu_ps(x + i)));
  if (i < n) {
    float in[8] = {}, out[8];
    std::copy(x + i, x + n, in);
    _mm256_storeu_ps(out, exp8(_mm256_loadu_ps(in)));
    std::copy(out, out + (n - i), y + i);
  }
}

}  // namespace

const AttentionKernels& avx2_attention_kernels() {
  static const AttentionKernels k = {
      {query_by_query<partial<F32>>, query_by_query<partial<F16>>, query_by_query<partial<BF16>>},
      {store_f32, store_f16, store_bf16},
      exp_array,
  };
  return k;
}

}  // namespace loom::simd
