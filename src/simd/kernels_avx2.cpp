// AVX2 + FMA + F16C kernels (Haswell, Zen and later). Compiled with -mavx2 -mfma -mf16c; called
// only when cpuid reports all three.
//
// gemv and dot: every output is one 8-lane FMA accumulator over k, reduced by hsum8, then the
// k % 8 tail added with scalar FMAs. gemm: every output is one FMA chain in k order.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <utility>

#include "simd/avx2_loaders.h"
#include "simd/kernels.h"

namespace loom::simd {
namespace {

// R rows of W times T rows of X: R*T accumulators live in registers (R*T + R + 1 <= 16).
template <class L, int R, int T>
void tile(const void* w, size_t ldw, const float* x, size_t ldx, int k, float* out, size_t ldo) {
  __m256 acc[R][T];
  const void* row[R];
  for (int r = 0; r < R; ++r) {
    row[r] = L::row(w, ldw, r);
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  }
  int i = 0;
  for (; i + 8 <= k; i += 8) {
    __m256 wv[R];
    for (int r = 0; r < R; ++r) wv[r] = L::load8(row[r], ldw, i);
    for (int t = 0; t < T; ++t) {
      const __m256 xv = _mm256_loadu_ps(x + t * ldx + i);
      for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) {
      float s = hsum8(acc[r][t]);
      for (int j = i; j < k; ++j) s = std::fma(L::load1(row[r], ldw, j), x[t * ldx + j], s);
      out[t * ldo + r] = s;
    }
  }
}

// Prompt products, BLIS-style: W is packed, a block of rows at a time, into fp32 panels of
// kPanel rows interleaved along k ([k][kPanel], converted once and reused by every token), and a
// micro-tile of kMr tokens x kPanel rows keeps 2 * kMr accumulators in registers, fed by one
// broadcast of x and two panel loads per k. Each output is one FMA chain in k order, carried
// across k-blocks through the output itself, so tiling, batch size and threads never change it.
constexpr int kPanel = 16;  // W rows per panel: two 8-lane vectors
constexpr int kMr = 6;      // tokens per micro-tile: 12 accumulators + 2 panel vectors + x
// Measured on Zen 3 (512 tokens, k 2048..5632): blocks of 1024 k x 32 rows (128 KiB, in L2) ran
// at ~90% of the FMA peak, 256 x 64 at ~78%: fewer trips through the outputs between k-blocks.
constexpr int kKc = 1024;  // k per packed block
constexpr int kNc = 32;    // W rows packed at once, reused by every token

// Masked moves are slow on Zen: only for a last, partial panel.
inline __m256 load_part(const float* p, bool full, __m256i mask) {
  return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask);
}
inline void store_part(float* p, bool full, __m256i mask, __m256 v) {
  if (full) {
    _mm256_storeu_ps(p, v);
  } else {
    _mm256_maskstore_ps(p, mask, v);
  }
}

// out[t][0..nr) (+)= sum over kk of x[t][kk] * panel[kk][0..nr), for t < MR. Named accumulators:
// GCC spills an array of them.
template <int MR>
void micro(const float* panel, const float* x, size_t ldx, int kc, float* out, size_t ldo, int nr,
           bool accumulate) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr), lane);
  const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr - 8), lane);
  const bool full = nr == kPanel;
#define LOOM_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define LOOM_DECL(i) [[maybe_unused]] __m256 c##i##a = _mm256_setzero_ps(), c##i##b = c##i##a;
#define LOOM_LOAD(i)                                  \
  if constexpr (MR > i) {                             \
    c##i##a = load_part(out + i * ldo, full, m0);     \
    c##i##b = load_part(out + i * ldo + 8, full, m1); \
  }
#define LOOM_STEP(i)                                        \
  if constexpr (MR > i) {                                   \
    const __m256 a = _mm256_broadcast_ss(x + i * ldx + kk); \
    c##i##a = _mm256_fmadd_ps(a, b0, c##i##a);              \
    c##i##b = _mm256_fmadd_ps(a, b1, c##i##b);              \
  }
#define LOOM_STORE(i)                                 \
  if constexpr (MR > i) {                             \
    store_part(out + i * ldo, full, m0, c##i##a);     \
    store_part(out + i * ldo + 8, full, m1, c##i##b); \
  }
  LOOM_ROWS(LOOM_DECL)
  if (accumulate) {
    LOOM_ROWS(LOOM_LOAD)
  }
  for (int kk = 0; kk < kc; ++kk) {
    const __m256 b0 = _mm256_load_ps(panel + kk * kPanel);
    const __m256 b1 = _mm256_load_ps(panel + kk * kPanel + 8);
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
  static constexpr MicroFn micro[kMr] = {micro<1>, micro<2>, micro<3>,
                                         micro<4>, micro<5>, micro<6>};
};

template <class L>
void gemm(const void* w, size_t ldw, const float* x, size_t ldx, int m, int k, float* out,
          size_t ldo, int rows) {
  packed_gemm<L, Tile>(w, ldw, x, ldx, m, k, out, ldo, rows);
}

// Decode: tile<L, 4, 1>'s sums (one accumulator a row, in k order), with each of the four rows'
// streams prefetched kAhead bytes ahead, running on into the same row of the next four at a
// row's end (the hardware prefetcher restarts on every short row; stream_prefetch.h has the
// quantized kernels' version of this, one row at a time).
constexpr size_t kAhead = 2048;

template <class L>
void gemv4_streamed(const uint8_t* w, size_t ldw, size_t row_bytes, const uint8_t* end,
                    const float* x, int k, float* out) {
  __m256 acc[4];
  for (int r = 0; r < 4; ++r) acc[r] = _mm256_setzero_ps();
  const size_t elem = row_bytes / ldw;
  const int k8 = k & ~7;
  int i = 0;
  while (i < k8) {
    for (int r = 0; r < 4; ++r) {
      size_t at = i * elem + kAhead;
      for (const size_t until = at + 32 * elem; at < until; at += 64) {
        const uint8_t* p = w + r * row_bytes + (at < row_bytes ? at : 3 * row_bytes + at);
        if (p < end) _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0);
      }
    }
    for (const int stop = std::min(k8, i + 32); i < stop; i += 8) {
      const __m256 xv = _mm256_loadu_ps(x + i);
      for (int r = 0; r < 4; ++r) {
        acc[r] = _mm256_fmadd_ps(L::load8(w + r * row_bytes, ldw, i), xv, acc[r]);
      }
    }
  }
  for (int r = 0; r < 4; ++r) {
    float s = hsum8(acc[r]);
    for (int j = i; j < k; ++j) s = std::fma(L::load1(w + r * row_bytes, ldw, j), x[j], s);
    out[r] = s;
  }
}

template <class L>
void gemv(const void* w, size_t ldw, const float* x, int k, float* out, int rows) {
  const auto* base = static_cast<const uint8_t*>(w);
  const size_t row_bytes =
      static_cast<size_t>(static_cast<const uint8_t*>(L::row(w, ldw, 1)) - base);
  const uint8_t* end = base + rows * row_bytes;
  int r = 0;
  for (; r + 4 <= rows; r += 4) {
    gemv4_streamed<L>(base + r * row_bytes, ldw, row_bytes, end, x, k, out + r);
  }
  for (; r < rows; ++r) tile<L, 1, 1>(L::row(w, ldw, r), ldw, x, 0, k, out + r, 0);
}

template <class L>
void to_f32(const void* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, L::load8(src, n, i));
  for (; i < n; ++i) dst[i] = L::load1(src, n, i);
}

float dot(const float* a, const float* b, int n) {
  float out;
  tile<F32, 1, 1>(a, 0, b, 0, n, &out, 0);
  return out;
}

void axpy(float a, const float* x, float* y, int n) {
  const __m256 av = _mm256_set1_ps(a);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] = std::fma(a, x[i], y[i]);
}

}  // namespace

const Kernels& avx2_kernels() {
  static const Kernels k = {
      {gemv<F32>, gemv<F16>, gemv<BF16>},
      {gemm<F32>, gemm<F16>, gemm<BF16>, gemm<Q8>, gemm<Q4>, gemm<Q4K>},
      {to_f32<F32>, to_f32<F16>, to_f32<BF16>},
      dot,
      axpy,
  };
  return k;
}

}  // namespace loom::simd
