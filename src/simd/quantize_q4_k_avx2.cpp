// Q4_K rows from F32, F16 or BF16 weights with AVX2, bit for bit the bytes of the scalar
// reference (quant/quantize_q4_k.cpp) on the weights converted to fp32. Compiled with -mavx2
// -mfma -mf16c -ffp-contract=off: every operation is one of the reference's, rounded on its own.
//
// A super-block's eight blocks are searched together, block j in lane j: the 256 weights are
// transposed so that vector i holds weight i of each block, and each of the reference's loops
// over a block's weights becomes the same loop over 32 vectors. Every lane then performs exactly
// the reference's sequence of fp32 operations on its block, sums included, in the same order, so
// the chosen scales and minimums are the reference's, and no order had to change. Comparisons
// and selections follow the reference's operand order: vminps / vmaxps (x, acc) give acc where x
// is NaN, as std::min / std::max (acc, x) do, and vcvttps2dq gives 0x80000000 where cvttss2si,
// which the reference's int conversion compiles to, does. The rest (rounding the eight scales
// and minimums to 6 bits, the header) is a few scalar operations a super-block, the reference's.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "quant/blocks.h"
#include "simd/half.h"
#include "simd/quant_kernels.h"
#include "simd/quantize_avx2.h"

namespace loom::simd {
namespace {

using quant::kBlock;
using quant::kSuper;
using quant::set_six_bits;

constexpr int kLevels = 15;  // as the reference: nibbles 0..15, candidates i = 0..20
constexpr int kSteps = 20;
constexpr int kTogether = 3;  // candidates searched in one pass (kSteps + 1 = 21 of them)
static_assert((kSteps + 1) % kTogether == 0);

#define LOOM_INLINE inline __attribute__((always_inline))

// The 8x8 floats at ROWS[0..7] (each 8 apart by STRIDE) transposed into OUT[0..7].
LOOM_INLINE void transpose8(const float* rows, int stride, __m256* out) {
  __m256 r[8], t[8];
  for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(rows + k * stride);
  for (int k = 0; k < 8; k += 2) {
    t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
    t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
  }
  for (int k = 0; k < 8; k += 4) {
    r[k] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int k = 0; k < 4; ++k) {
    out[k] = _mm256_permute2f128_ps(r[k], r[k + 4], 0x20);
    out[k + 4] = _mm256_permute2f128_ps(r[k], r[k + 4], 0x31);
  }
}

// min(15, int(v + 0.5f)) as fp32: the reference's nibble of v = inv * (x - lo).
LOOM_INLINE __m256 nibble(__m256 inv, __m256 xs) {
  const __m256 v = _mm256_add_ps(_mm256_mul_ps(inv, xs), _mm256_set1_ps(0.5f));
  const __m256i n = _mm256_min_epi32(_mm256_cvttps_epi32(v), _mm256_set1_epi32(kLevels));
  return _mm256_cvtepi32_ps(n);
}

// The candidate sums over a block's nibbles, in one of two ways that give the same bits. Exact:
// the reference's fp32 sums. Small: sum n and sum n^2 in int32, converted once; in fp32 every
// partial sum of these (at most 32 * 15^2 < 2^24) is an exact integer, so the order is free and
// the result is the same, provided every nibble is one of 0..15 (fit_blocks checks that a
// super-block cannot make the conversion overflow before choosing Small).
template <bool Small>
struct NibbleSums;

template <>
struct NibbleSums<false> {
  __m256 n = _mm256_setzero_ps(), n2 = n;
  LOOM_INLINE __m256 add(__m256 inv, __m256 xs) {
    const __m256 f = nibble(inv, xs);
    n = _mm256_add_ps(n, f);
    n2 = _mm256_add_ps(n2, _mm256_mul_ps(f, f));
    return f;
  }
  __m256 sum_n() const { return n; }
  __m256 sum_n2() const { return n2; }
};

template <>
struct NibbleSums<true> {
  __m256i n = _mm256_setzero_si256(), n2 = n;
  LOOM_INLINE __m256 add(__m256 inv, __m256 xs) {
    const __m256 v = _mm256_add_ps(_mm256_mul_ps(inv, xs), _mm256_set1_ps(0.5f));
    const __m256i k = _mm256_min_epi32(_mm256_cvttps_epi32(v), _mm256_set1_epi32(kLevels));
    // k^2 by a byte lookup: k's upper bytes are 0, and so is the table's entry 0.
    const __m256i squares = _mm256_setr_epi8(
        0, 1, 4, 9, 16, 25, 36, 49, 64, 81, 100, 121, char(144), char(169), char(196), char(225), 0,
        1, 4, 9, 16, 25, 36, 49, 64, 81, 100, 121, char(144), char(169), char(196), char(225));
    n = _mm256_add_epi32(n, k);
    n2 = _mm256_add_epi32(n2, _mm256_shuffle_epi8(squares, k));
    return _mm256_cvtepi32_ps(k);
  }
  __m256 sum_n() const { return _mm256_cvtepi32_ps(n); }
  __m256 sum_n2() const { return _mm256_cvtepi32_ps(n2); }
};

LOOM_INLINE __m256 select(__m256 mask, __m256 yes, __m256 no) {
  return _mm256_blendv_ps(no, yes, mask);
}

// The search of the reference's fit_block for the eight blocks of X, transposed (X[i] lane j:
// weight i of block j), from their LO, RANGE and SUM_X: their scales and minimums (lanes of FLAT
// blocks excepted).
template <bool Small>
void search(const __m256* x, __m256 lo, __m256 range, __m256 sum_x, __m256* scale_out,
            __m256* min_out) {
  const __m256 zero = _mm256_setzero_ps(), sign = _mm256_set1_ps(-0.0f);

  __m256 xs[kBlock];  // x - lo
  for (int i = 0; i < kBlock; ++i) xs[i] = _mm256_sub_ps(x[i], lo);

  __m256 best_scale = _mm256_div_ps(range, _mm256_set1_ps(kLevels));
  __m256 best_min = _mm256_xor_ps(lo, sign);
  __m256 best_err = zero;
  {
    const __m256 inv = _mm256_div_ps(_mm256_set1_ps(kLevels), range);
    for (int i = 0; i < kBlock; ++i) {
      const __m256 f = nibble(inv, xs[i]);
      const __m256 e = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(best_scale, f), lo), x[i]);
      best_err = _mm256_add_ps(best_err, _mm256_mul_ps(e, e));
    }
  }
  // Three candidates at a time, for three times the independent sums in flight (each sum is
  // still its lane's own chain, in the reference's order); picked in the reference's order.
  const __m256 n_block = _mm256_set1_ps(kBlock);
  for (int step0 = 0; step0 <= kSteps; step0 += kTogether) {
    __m256 inv[kTogether], n[kTogether][kBlock];
    NibbleSums<Small> sums[kTogether];
    __m256 sum_xn[kTogether];
    for (int c = 0; c < kTogether; ++c) {
      const float k = kLevels - 1 + 0.1f * static_cast<float>(step0 + c);
      inv[c] = _mm256_div_ps(_mm256_set1_ps(k), range);
      sum_xn[c] = zero;
    }
    for (int i = 0; i < kBlock; ++i) {
      for (int c = 0; c < kTogether; ++c) {
        const __m256 f = n[c][i] = sums[c].add(inv[c], xs[i]);
        sum_xn[c] = _mm256_add_ps(sum_xn[c], _mm256_mul_ps(f, x[i]));
      }
    }
    __m256 line[kTogether], scale[kTogether], offset[kTogether], err[kTogether];
    __m256 sum_n[kTogether], sum_n2[kTogether];
    for (int c = 0; c < kTogether; ++c) {
      sum_n[c] = sums[c].sum_n(), sum_n2[c] = sums[c].sum_n2();
      const __m256 det =
          _mm256_sub_ps(_mm256_mul_ps(n_block, sum_n2[c]), _mm256_mul_ps(sum_n[c], sum_n[c]));
      line[c] = _mm256_cmp_ps(det, zero, _CMP_GT_OQ);
      const __m256 sc = _mm256_div_ps(
          _mm256_sub_ps(_mm256_mul_ps(n_block, sum_xn[c]), _mm256_mul_ps(sum_x, sum_n[c])), det);
      const __m256 off = _mm256_div_ps(
          _mm256_sub_ps(_mm256_mul_ps(sum_n2[c], sum_x), _mm256_mul_ps(sum_n[c], sum_xn[c])), det);
      const __m256 above = _mm256_cmp_ps(off, zero, _CMP_GT_OQ);
      offset[c] = select(above, zero, off);
      scale[c] = select(above, _mm256_div_ps(sum_xn[c], sum_n2[c]), sc);
      err[c] = zero;
    }
    for (int i = 0; i < kBlock; ++i) {
      for (int c = 0; c < kTogether; ++c) {
        const __m256 e =
            _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(scale[c], n[c][i]), offset[c]), x[i]);
        err[c] = _mm256_add_ps(err[c], _mm256_mul_ps(e, e));
      }
    }
    for (int c = 0; c < kTogether; ++c) {
      const __m256 better = _mm256_and_ps(line[c], _mm256_cmp_ps(err[c], best_err, _CMP_LT_OQ));
      best_err = select(better, err[c], best_err);
      best_scale = select(better, scale[c], best_scale);
      best_min = select(better, _mm256_xor_ps(offset[c], sign), best_min);
    }
  }
  *scale_out = best_scale;
  *min_out = best_min;
}

// The reference's fit_block for the eight blocks of X, transposed (X[i] lane j: weight i of
// block j): their scales and minimums.
void fit_blocks(const __m256* x, float* scale_out, float* min_out) {
  __m256 lo = x[0], hi = x[0], sum_x = _mm256_setzero_ps(), nan = _mm256_setzero_ps();
  for (int i = 0; i < kBlock; ++i) {
    lo = _mm256_min_ps(x[i], lo);
    hi = _mm256_max_ps(x[i], hi);
    sum_x = _mm256_add_ps(sum_x, x[i]);
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(x[i], x[i], _CMP_UNORD_Q));
  }
  const __m256 zero = _mm256_setzero_ps(), sign = _mm256_set1_ps(-0.0f);
  lo = _mm256_min_ps(zero, lo);
  const __m256 flat = _mm256_cmp_ps(hi, lo, _CMP_EQ_OQ);
  const __m256 range = _mm256_sub_ps(hi, lo);
  // Every nibble in 0..15 (NibbleSums<true>) where no weight is NaN and the range and the
  // largest candidate's inverse step, 16 / range, are finite: then inv * (x - lo) <= 16.1.
  // Flat blocks' lanes are not used.
  const __m256 big = _mm256_set1_ps(std::numeric_limits<float>::max());
  const __m256 finite =
      _mm256_and_ps(_mm256_cmp_ps(range, big, _CMP_LE_OQ),
                    _mm256_cmp_ps(_mm256_div_ps(_mm256_set1_ps(16.0f), range), big, _CMP_LE_OQ));
  const __m256 small = _mm256_or_ps(flat, _mm256_andnot_ps(nan, finite));
  __m256 scale, min;
  if (_mm256_movemask_ps(small) == 0xff) {
    search<true>(x, lo, range, sum_x, &scale, &min);
  } else {
    search<false>(x, lo, range, sum_x, &scale, &min);
  }
  // A constant block: the minimum alone.
  _mm256_storeu_ps(scale_out, select(flat, zero, scale));
  _mm256_storeu_ps(min_out, select(flat, _mm256_xor_ps(lo, sign), min));
}

// The reference's: nearest integer of V >= 0, halves up; V / UNIT to the nearest of 0..63.
int nearest_nonneg(float v) {
  return static_cast<int>(v + 0.5f);
}
uint8_t six_bit_multiple(float v, float unit) {
  if (!(unit > 0)) return 0;
  return static_cast<uint8_t>(std::clamp(nearest_nonneg(std::max(v, 0.0f) / unit), 0, 63));
}

// Block X's nibbles on the grid x = step * n - offset, as the reference places them: 0 below the
// grid, and where step is not positive; the low 4 bits of each int32 lane.
LOOM_INLINE void grid_nibbles(const float* x, float step, float offset, __m256i* c) {
  if (!(step > 0)) {
    for (int k = 0; k < 4; ++k) c[k] = _mm256_setzero_si256();
    return;
  }
  const __m256 sv = _mm256_set1_ps(step), ov = _mm256_set1_ps(offset);
  for (int k = 0; k < 4; ++k) {
    const __m256 v = _mm256_div_ps(_mm256_add_ps(_mm256_loadu_ps(x + 8 * k), ov), sv);
    __m256i q = _mm256_cvttps_epi32(_mm256_add_ps(v, _mm256_set1_ps(0.5f)));
    q = _mm256_min_epi32(q, _mm256_set1_epi32(kLevels));
    // 0 where !(v > 0); 0x80000000 (out of int range) keeps its low bits, 0, as the reference.
    q = _mm256_and_si256(q, _mm256_castps_si256(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ)));
    c[k] = _mm256_and_si256(q, _mm256_set1_epi32(0x0f));
  }
}

template <class L>
void quantize_row(const void* src, void* row, int n) {
  const int nb = n / kBlock;
  auto* pairs = static_cast<uint8_t*>(row);
  quant::Q4KHeader* headers = quant::row_headers(row, nb);
  alignas(32) float x[kSuper * kBlock];
  for (int s = 0; s * kSuper < nb; ++s) {
    const int b0 = s * kSuper, blocks = std::min(kSuper, nb - b0);
    load_stretch<L>(src, static_cast<size_t>(b0) * kBlock, blocks * kBlock, x);
    std::fill(x + blocks * kBlock, x + kSuper * kBlock, 0.0f);  // a short last super-block
    __m256 xt[kBlock];
    for (int k = 0; k < kBlock / 8; ++k) transpose8(x + 8 * k, kBlock, xt + 8 * k);
    float scale[kSuper], min[kSuper];
    fit_blocks(xt, scale, min);

    float max_scale = 0, max_min = 0;
    for (int j = 0; j < blocks; ++j) {
      max_scale = std::max(max_scale, scale[j]);
      max_min = std::max(max_min, min[j]);
    }
    quant::Q4KHeader h{};
    h.d = f32_to_f16(max_scale / 63);
    h.dmin = f32_to_f16(max_min / 63);
    const float d = f16_to_f32(h.d), dmin = f16_to_f32(h.dmin);
    __m256i c[2][4];
    for (int j = 0; j < kSuper; ++j) {
      if (j < blocks) {
        const uint8_t sc = six_bit_multiple(scale[j], d), m = six_bit_multiple(min[j], dmin);
        set_six_bits(h.scales, j, sc);
        set_six_bits(h.mins, j, m);
        grid_nibbles(x + j * kBlock, d * static_cast<float>(sc), dmin * static_cast<float>(m),
                     c[j % 2]);
      } else {
        for (int k = 0; k < 4; ++k) c[j % 2][k] = _mm256_setzero_si256();
      }
      if (j % 2 == 1 && j - 1 < blocks) {  // a pair: the even block low, the odd one high
        __m256i p[4];
        for (int k = 0; k < 4; ++k) p[k] = _mm256_or_si256(c[0][k], _mm256_slli_epi32(c[1][k], 4));
        store_bytes<false>(pairs + static_cast<size_t>(b0 + j) / 2 * kBlock, p[0], p[1], p[2],
                           p[3]);
      }
    }
    std::memcpy(headers + s, &h, sizeof h);
  }
}

}  // namespace

void quantize_q4_k_avx2(const void* src, DType src_type, void* row, int n) {
  on_source(src_type, [&](auto l) { quantize_row<decltype(l)>(src, row, n); });
}

}  // namespace loom::simd
