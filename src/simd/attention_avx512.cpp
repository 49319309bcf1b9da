// Attention loops for AVX-512 (F): query heads along the rows of a tile, keys along the lanes.
//
// Scores: each block of keys is widened to fp32 and transposed (16 x 16 tiles) into kt[d][key]
// once, for every query head that shares the KV head: a group, times up to kAttentionQueries
// consecutive queries of a prompt. A row's scores for 16 keys are then one chain of FMAs over d,
// acc = fma(q_r[d], kt[d][16 keys], acc), with q_r[d] broadcast from memory: no horizontal sums,
// and four rows by four key vectors share each load. Values: tiles of 4 rows by 64 dimensions,
// each value row loaded once for the 4 rows' weights. The softmax runs along the block's keys.
//
// A row's arithmetic is the same whichever rows share its call: its score is its own chain over
// d, and the keys of the block beyond its query's count score -inf (exp 0: they add +0 to its sum
// and 0 * v to its output), so a query gets the same bits in a prompt and decoded alone.
// GCC 12 reads the undefined upper halves its AVX-512 intrinsics start from as uninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "simd/attention_kernels.h"
#include "simd/avx512_transpose.h"
#include "simd/exp_poly.h"

namespace loom::simd {
namespace {

constexpr int kB = kAttentionBlock;
constexpr int kRows = 4;                    // query heads per score and value tile
constexpr int kMinGroup = 4;                // fewer query heads per KV head: AVX2's loops
constexpr int kPrefetch = kAttentionBlock;  // keys ahead of a block that it prefetches

struct F32 {
  using Elem = float;
  static constexpr DType kType = DType::F32;
  static __m512 load16(const Elem* p) { return _mm512_loadu_ps(p); }
};
struct F16 {
  using Elem = uint16_t;
  static constexpr DType kType = DType::F16;
  static __m512 load16(const Elem* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
};
struct BF16 {
  using Elem = uint16_t;
  static constexpr DType kType = DType::BF16;
  static __m512 load16(const Elem* p) {
    const __m512i w =
        _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
  }
};

inline __m512 exp16(__m512 x) {
  using namespace exp_poly;
  const __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(kLo), _CMP_NLT_UQ);  // or NaN
  const __m512 xc = _mm512_min_ps(_mm512_set1_ps(kHi), x);                         // NaN stays
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(kLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kP0);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP1));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP2));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP3));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP4));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP5));
  p = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
  const __m512i e =
      _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_maskz_mul_ps(keep, p, _mm512_castsi512_ps(e));
}

// The next block's rows, so they stream in while this block computes.
template <class E>
void prefetch_rows(const E* p, int n) {
  const char* c = reinterpret_cast<const char*>(p);
  for (size_t b = 0; b < n * sizeof(E); b += 64) _mm_prefetch(c + b, _MM_HINT_T0);
}

// kt[d * kB + j] = k_j[d] for the block's NB keys, zero for j up to the next multiple of 16.
template <class T>
void transpose_keys(const typename T::Elem* k, int nb, int hd, float* kt) {
  for (int j0 = 0; j0 < nb; j0 += 16) {
    const int rows = std::min(16, nb - j0);
    for (int d0 = 0; d0 < hd; d0 += 16) {
      __m512 r[16];
      for (int i = 0; i < 16; ++i) {
        r[i] =
            i < rows ? T::load16(k + static_cast<size_t>(j0 + i) * hd + d0) : _mm512_setzero_ps();
      }
      transpose16(r);
      for (int i = 0; i < 16; ++i)
        _mm512_storeu_ps(kt + static_cast<size_t>(d0 + i) * kB + j0, r[i]);
    }
  }
}

// s[r * kB + 16c ..] = scale * q_r . k for RT rows and KG vectors of 16 keys.
template <int RT, int KG>
void score_tile(const float* const* q, int hd, const float* kt, float scale, float* s) {
  __m512 acc[RT][KG];
  for (int r = 0; r < RT; ++r)
    for (int c = 0; c < KG; ++c) acc[r][c] = _mm512_setzero_ps();
  for (int d = 0; d < hd; ++d) {
    __m512 kv[KG];
    for (int c = 0; c < KG; ++c) kv[c] = _mm512_loadu_ps(kt + static_cast<size_t>(d) * kB + 16 * c);
    for (int r = 0; r < RT; ++r) {
      const __m512 qv = _mm512_set1_ps(q[r][d]);
      for (int c = 0; c < KG; ++c) acc[r][c] = _mm512_fmadd_ps(qv, kv[c], acc[r][c]);
    }
  }
  const __m512 sc = _mm512_set1_ps(scale);
  for (int r = 0; r < RT; ++r)
    for (int c = 0; c < KG; ++c)
      _mm512_storeu_ps(s + r * kB + 16 * c, _mm512_mul_ps(acc[r][c], sc));
}

template <int RT>
void score_rows(const float* const* q, int hd, const float* kt, int kg, float scale, float* s) {
  switch (kg) {
    case 1:
      return score_tile<RT, 1>(q, hd, kt, scale, s);
    case 2:
      return score_tile<RT, 2>(q, hd, kt, scale, s);
    case 3:
      return score_tile<RT, 3>(q, hd, kt, scale, s);
    default:
      return score_tile<RT, 4>(q, hd, kt, scale, s);
  }
}

// o[r][0 .. 16*DV) += sum_j p[r * kB + j] * v_j[0 .. 16*DV) for RT rows; v rows HD apart.
template <int RT, int DV>
void value_tile(const float* p, int nb, const float* v, int hd, float* o) {
  __m512 acc[RT][DV];
  for (int r = 0; r < RT; ++r)
    for (int c = 0; c < DV; ++c)
      acc[r][c] = _mm512_loadu_ps(o + static_cast<size_t>(r) * hd + 16 * c);
  for (int j = 0; j < nb; ++j) {
    __m512 vv[DV];
    for (int c = 0; c < DV; ++c) vv[c] = _mm512_loadu_ps(v + static_cast<size_t>(j) * hd + 16 * c);
    for (int r = 0; r < RT; ++r) {
      const __m512 w = _mm512_set1_ps(p[r * kB + j]);
      for (int c = 0; c < DV; ++c) acc[r][c] = _mm512_fmadd_ps(w, vv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < RT; ++r)
    for (int c = 0; c < DV; ++c)
      _mm512_storeu_ps(o + static_cast<size_t>(r) * hd + 16 * c, acc[r][c]);
}

template <int RT>
void value_rows(const float* p, int nb, const float* v, int hd, float* o) {
  int d = 0;
  for (; d + 64 <= hd; d += 64) value_tile<RT, 4>(p, nb, v + d, hd, o + d);
  switch ((hd - d) / 16) {
    case 3:
      return value_tile<RT, 3>(p, nb, v + d, hd, o + d);
    case 2:
      return value_tile<RT, 2>(p, nb, v + d, hd, o + d);
    case 1:
      return value_tile<RT, 1>(p, nb, v + d, hd, o + d);
  }
}

// Row r's block of scores (KG vectors, its first NR keys real) become exponentials: the running
// maximum moves up to the block's, rescaling the sums so far, and l gains the block's sum.
void softmax_row(float* s, int kg, int nr, int hd, float* o, float* m, float* l) {
  std::fill(s + nr, s + 16 * kg, -INFINITY);  // exp gives 0 there
  __m512 mx = _mm512_set1_ps(-INFINITY);
  for (int c = 0; c < kg; ++c) mx = _mm512_max_ps(mx, _mm512_loadu_ps(s + 16 * c));
  const float new_max = std::max(*m, _mm512_reduce_max_ps(mx));
  if (new_max > *m) {
    const __m512 c = exp16(_mm512_set1_ps(*m - new_max));
    *l *= _mm512_cvtss_f32(c);
    for (int d = 0; d < hd; d += 16)
      _mm512_storeu_ps(o + d, _mm512_mul_ps(c, _mm512_loadu_ps(o + d)));
    *m = new_max;
  }
  const __m512 mv = _mm512_set1_ps(new_max);
  __m512 sum = _mm512_setzero_ps();
  for (int c = 0; c < kg; ++c) {
    const __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(s + 16 * c), mv));
    _mm512_storeu_ps(s + 16 * c, e);
    sum = _mm512_add_ps(sum, e);
  }
  *l += _mm512_reduce_add_ps(sum);
}

template <class T>
void partial(const float* q, size_t q_stride, int nq, int group, int hd, const void* kp,
             const void* vp, const int* n, float scale, float* scratch, float* o, float* m,
             float* l) {
  // The transposed keys pay for themselves when at least kMinGroup query heads share each KV
  // head: a decode step has only the group to spread them over. (The choice depends only on the
  // model's shape, so a query's bits still do not depend on its batch.)
  if (hd % 16 != 0 || group < kMinGroup) {
    avx2_attention_kernels().partial[static_cast<int>(T::kType)](q, q_stride, nq, group, hd, kp, vp,
                                                                 n, scale, scratch, o, m, l);
    return;
  }
  const auto* k = static_cast<const typename T::Elem*>(kp);
  const auto* v = static_cast<const typename T::Elem*>(vp);
  const int rows = nq * group;
  float* scores = scratch;
  float* kt = scores + static_cast<size_t>(rows) * kB;
  float* vf = kt + static_cast<size_t>(hd) * kB;
  std::fill(o, o + static_cast<size_t>(rows) * hd, 0.0f);
  std::fill(m, m + rows, -INFINITY);
  std::fill(l, l + rows, 0.0f);
  const int n_max = *std::max_element(n, n + nq);
  auto q_row = [&](int r) {
    return q + (r / group) * q_stride + static_cast<size_t>(r % group) * hd;
  };

  for (int j0 = 0; j0 < n_max; j0 += kB) {
    const int nb = std::min(kB, n_max - j0), kg = (nb + 15) / 16;
    const size_t at = static_cast<size_t>(j0) * hd;
    // Past the keys too: the next span's (its rows follow in a whole cache). Prefetches never
    // fault, so reaching past the cache's written part, or its end, is harmless.
    prefetch_rows(k + at + static_cast<size_t>(kPrefetch) * hd, kB * hd);
    prefetch_rows(v + at + static_cast<size_t>(kPrefetch) * hd, kB * hd);
    transpose_keys<T>(k + at, nb, hd, kt);
    for (int r = 0; r < rows; r += kRows) {
      const float* qr[kRows];
      const int rt = std::min(kRows, rows - r);
      for (int i = 0; i < rt; ++i) qr[i] = q_row(r + i);
      float* s = scores + static_cast<size_t>(r) * kB;
      switch (rt) {
        case 4:
          score_rows<4>(qr, hd, kt, kg, scale, s);
          break;
        case 3:
          score_rows<3>(qr, hd, kt, kg, scale, s);
          break;
        case 2:
          score_rows<2>(qr, hd, kt, kg, scale, s);
          break;
        default:
          score_rows<1>(qr, hd, kt, kg, scale, s);
          break;
      }
    }
    for (int r = 0; r < rows; ++r) {
      const int nr = std::clamp(n[r / group] - j0, 0, nb);
      softmax_row(scores + static_cast<size_t>(r) * kB, kg, nr, hd, o + static_cast<size_t>(r) * hd,
                  m + r, l + r);
    }
    const float* vb;
    if constexpr (std::is_same_v<T, F32>) {
      vb = v + at;
    } else {
      for (size_t e = 0; e < static_cast<size_t>(nb) * hd; e += 16) {
        _mm512_storeu_ps(vf + e, T::load16(v + at + e));
      }
      vb = vf;
    }
    for (int r = 0; r < rows; r += kRows) {
      const float* p = scores + static_cast<size_t>(r) * kB;
      float* orow = o + static_cast<size_t>(r) * hd;
      switch (std::min(kRows, rows - r)) {
        case 4:
          value_rows<4>(p, nb, vb, hd, orow);
          break;
        case 3:
          value_rows<3>(p, nb, vb, hd, orow);
          break;
        case 2:
          value_rows<2>(p, nb, vb, hd, orow);
          break;
        default:
          value_rows<1>(p, nb, vb, hd, orow);
          break;
      }
    }
  }
}

void exp_array(const float* x, float* y, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, exp16(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 tail = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, tail, exp16(_mm512_maskz_loadu_ps(tail, x + i)));
  }
}

}  // namespace

const AttentionKernels& avx512_attention_kernels() {
  static const AttentionKernels k = [] {
    const AttentionKernels& avx2 = avx2_attention_kernels();
    return AttentionKernels{
        {partial<F32>, partial<F16>, partial<BF16>},
        {avx2.store[0], avx2.store[1], avx2.store[2]},  // one row at a time: AVX2's
        exp_array,
    };
  }();
  return k;
}

}  // namespace loom::simd
