// A 16 x 16 transpose of 32-bit elements in AVX-512 registers, for the units compiled with
// -mavx512f: attention's key blocks (fp32 keys) and the bf16 gemm's panels (pairs of bf16).
#pragma once

// GCC 12 reads the undefined upper halves its AVX-512 intrinsics start from as uninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

namespace loom::simd {
namespace {

// The 16 rows R become their 16 columns.
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // u[4i + w], 128-bit lane L: rows 4i .. 4i+3 of column 4L + w.
  __m512 u[16];
  for (int i = 0; i < 4; ++i) {
    const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
    u[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  // Column 4L + w, lane g: u[4g + w]'s lane L.
  for (int w = 0; w < 4; ++w) {
    const __m512 a = _mm512_shuffle_f32x4(u[w], u[4 + w], 0x44);
    const __m512 b = _mm512_shuffle_f32x4(u[w], u[4 + w], 0xEE);
    const __m512 c = _mm512_shuffle_f32x4(u[8 + w], u[12 + w], 0x44);
    const __m512 d = _mm512_shuffle_f32x4(u[8 + w], u[12 + w], 0xEE);
    r[w] = _mm512_shuffle_f32x4(a, c, 0x88);
    r[4 + w] = _mm512_shuffle_f32x4(a, c, 0xDD);
    r[8 + w] = _mm512_shuffle_f32x4(b, d, 0x88);
    r[12 + w] = _mm512_shuffle_f32x4(b, d, 0xDD);
  }
}

}  // namespace
}  // namespace loom::simd
