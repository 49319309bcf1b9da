// quant/ggml_dequant.cpp's dequantizers in AVX2: the same float operations on each weight, in the
// same order, each rounded on its own (compiled with -ffp-contract=off, and the products and
// differences written as separate _mm256_mul_ps and _mm256_sub_ps), so every weight has the
// scalar code's bits, non-finite scales included. The scales are converted from fp16 and
// multiplied by the sub-block scales in scalar code, exactly as the scalar code does.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "quant/ggml_blocks.h"
#include "quant/ggml_dequant.h"
#include "simd/half.h"

namespace loom::quant {
namespace {

using namespace ggml;

// The 8 signed bytes of Q (low 8 of the 128-bit lane) as floats (exact).
inline __m256 i8_to_ps(__m128i q) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
}

// y[0..31] = (float)q[i] * d for the 32 signed bytes of Q.
inline void store_scaled(__m256i q, __m256 d, float* y) {
  const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
  _mm256_storeu_ps(y, _mm256_mul_ps(i8_to_ps(lo), d));
  _mm256_storeu_ps(y + 8, _mm256_mul_ps(i8_to_ps(_mm_srli_si128(lo, 8)), d));
  _mm256_storeu_ps(y + 16, _mm256_mul_ps(i8_to_ps(hi), d));
  _mm256_storeu_ps(y + 24, _mm256_mul_ps(i8_to_ps(_mm_srli_si128(hi, 8)), d));
}

// The 32 5-bit quants of a Q5_0 or Q5_1 block (0..31): QS's nibbles (weights 0..15 in the low
// ones, 16..31 in the high), bit j of QH above weight j's.
inline __m256i five_bits(const uint8_t* qs_bytes, const uint8_t* qh_bytes) {
  const __m256i m4 = _mm256_set1_epi8(15);
  const __m256i sixteen = _mm256_set1_epi8(16);
  // Byte j of the 32 takes byte j / 8 of qh (each 128-bit lane holds all four), then bit j % 8.
  const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,  //
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  const __m128i qs = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs_bytes));
  const __m256i nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(qs, 4), qs), m4);
  __m256i h = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(qh)), spread);
  h = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, bit), bit), sixteen);
  return _mm256_or_si256(nib, h);
}

void q5_0(const block_q5_0* x, float* y, int nb) {
  for (int b = 0; b < nb; ++b, ++x, y += QK) {
    const __m256 d = _mm256_set1_ps(simd::f16_to_f32(x->d));
    store_scaled(_mm256_sub_epi8(five_bits(x->qs, x->qh), _mm256_set1_epi8(16)), d, y);
  }
}

// y[i] = (float)q[i] * d + m, product and sum each rounded.
void q5_1(const block_q5_1* x, float* y, int nb) {
  for (int b = 0; b < nb; ++b, ++x, y += QK) {
    const __m256 d = _mm256_set1_ps(simd::f16_to_f32(x->d));
    const __m256 m = _mm256_set1_ps(simd::f16_to_f32(x->m));
    const __m256i q = five_bits(x->qs, x->qh);
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int k = 0; k < 4; ++k) {
      _mm256_storeu_ps(y + 8 * k, _mm256_add_ps(_mm256_mul_ps(i8_to_ps(parts[k]), d), m));
    }
  }
}

// y[0..31] = d1 * (float)q[i] - m1, product and difference each rounded.
inline void store_affine(__m256i q, __m256 d1, __m256 m1, float* y) {
  const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
  _mm256_storeu_ps(y, _mm256_sub_ps(_mm256_mul_ps(d1, i8_to_ps(lo)), m1));
  _mm256_storeu_ps(y + 8, _mm256_sub_ps(_mm256_mul_ps(d1, i8_to_ps(_mm_srli_si128(lo, 8))), m1));
  _mm256_storeu_ps(y + 16, _mm256_sub_ps(_mm256_mul_ps(d1, i8_to_ps(hi)), m1));
  _mm256_storeu_ps(y + 24, _mm256_sub_ps(_mm256_mul_ps(d1, i8_to_ps(_mm_srli_si128(hi, 8))), m1));
}

void q5_k(const block_q5_K* x, float* y, int nb) {
  const __m256i m4 = _mm256_set1_epi8(15);
  const __m256i one = _mm256_set1_epi8(1), two = _mm256_set1_epi8(2);
  for (int b = 0; b < nb; ++b, ++x) {
    const float d = simd::f16_to_f32(x->d), dmin = simd::f16_to_f32(x->dmin);
    const uint8_t* ql = x->qs;
    // Bits 2c and 2c + 1 of each qh byte, shifted down to bits 0 and 1 (the 16-bit shifts
    // bring the high byte's bits only into the low byte's top bits).
    __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x->qh));
    for (int c = 0; c < 4; ++c, ql += 32, y += 64, h = _mm256_srli_epi16(h, 2)) {
      int sc, m;
      scale_min_k(x->scales, 2 * c, sc, m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      scale_min_k(x->scales, 2 * c + 1, sc, m);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      const __m256i q1 =
          _mm256_or_si256(_mm256_and_si256(q, m4), _mm256_slli_epi16(_mm256_and_si256(h, one), 4));
      const __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4),
                                         _mm256_slli_epi16(_mm256_and_si256(h, two), 3));
      store_affine(q1, _mm256_set1_ps(d1), _mm256_set1_ps(m1), y);
      store_affine(q2, _mm256_set1_ps(d2), _mm256_set1_ps(m2), y + 32);
    }
  }
}

// y[0..15] = ds[0] * (float)q[i], y[16..31] = ds[1] * (float)q[i].
inline void store_two_scales(__m256i q, const float* ds, float* y) {
  const __m256 d0 = _mm256_broadcast_ss(ds), d1 = _mm256_broadcast_ss(ds + 1);
  const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
  _mm256_storeu_ps(y, _mm256_mul_ps(d0, i8_to_ps(lo)));
  _mm256_storeu_ps(y + 8, _mm256_mul_ps(d0, i8_to_ps(_mm_srli_si128(lo, 8))));
  _mm256_storeu_ps(y + 16, _mm256_mul_ps(d1, i8_to_ps(hi)));
  _mm256_storeu_ps(y + 24, _mm256_mul_ps(d1, i8_to_ps(_mm_srli_si128(hi, 8))));
}

void q6_k(const block_q6_K* x, float* y, int nb) {
  const __m256i m4 = _mm256_set1_epi8(15), m3 = _mm256_set1_epi8(3);
  const __m256i m30 = _mm256_set1_epi8(0x30), m32 = _mm256_set1_epi8(32);
  for (int b = 0; b < nb; ++b, ++x) {
    const float d = simd::f16_to_f32(x->d);
    // d * scale of each sub-block of 16, rounded as the scalar code rounds it.
    alignas(32) float ds[QK_K / 16];
    for (int i = 0; i < QK_K / 16; ++i) ds[i] = d * static_cast<float>(x->scales[i]);
    const uint8_t* ql = x->ql;
    const uint8_t* qh = x->qh;
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32, y += 128) {
      const float* dh = ds + 8 * half;
      const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
      const __m256i q1 =
          _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(h, m3), 4));
      const __m256i q2 =
          _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(h, 2), m30));
      const __m256i q3 =
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(h, m30));
      const __m256i q4 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                         _mm256_and_si256(_mm256_srli_epi16(h, 2), m30));
      store_two_scales(_mm256_sub_epi8(q1, m32), dh + 0, y);
      store_two_scales(_mm256_sub_epi8(q2, m32), dh + 2, y + 32);
      store_two_scales(_mm256_sub_epi8(q3, m32), dh + 4, y + 64);
      store_two_scales(_mm256_sub_epi8(q4, m32), dh + 6, y + 96);
    }
  }
}

}  // namespace

void dequantize_row_ggml_avx2(DType type, const void* row, float* out, int n) {
  switch (type) {
    case DType::Q5_0:
      q5_0(static_cast<const block_q5_0*>(row), out, n / QK);
      break;
    case DType::Q5_1:
      q5_1(static_cast<const block_q5_1*>(row), out, n / QK);
      break;
    case DType::Q5_K:
      q5_k(static_cast<const block_q5_K*>(row), out, n / QK_K);
      break;
    case DType::Q6_K:
      q6_k(static_cast<const block_q6_K*>(row), out, n / QK_K);
      break;
    default:
      break;
  }
}

}  // namespace loom::quant
