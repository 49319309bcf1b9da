// Software prefetch of a decode product's weight stream, shared by the quantized gemv of the AVX2
// and AVX-512 sets. Decode streams through the whole matrix, each row a few KiB: the hardware
// prefetcher, restarting on every row, leaves a core well short of the memory's bandwidth. So the
// stream is asked for kAhead bytes ahead, one cache line per 64 bytes consumed (one call's rows
// are contiguous). Measured on Zen 3, one core, 16384 x 2048: Q8_0 7.5 GB/s without, 8.5 at
// 1 KiB, 11-12 at 4-16 KiB; Q4_0 5-6.5, 6-8, 8-9.5 (best 4-8 KiB).
//
// Internal linkage on purpose, as in avx2_loaders.h: each kernel unit compiles it for its own
// instruction set.
#pragma once

#include <xmmintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace loom::simd {
namespace {

struct StreamPrefetch {
  static constexpr size_t kAhead = 8192;
  static constexpr size_t kLine = 64;

  // ROWS rows of ROW_BYTES from BASE, each read in STEPS steps (groups of blocks, the tail one).
  StreamPrefetch(const uint8_t* base, size_t row_bytes, int rows, int steps)
      : base_(base),
        row_bytes_(row_bytes),
        total_(static_cast<size_t>(rows) * row_bytes),
        share_((row_bytes + std::max(1, steps) - 1) / std::max(1, steps)) {}

  // Before step S of row R: requests the lines up to kAhead past the end of that step.
  void before(int r, int s) {
    const size_t until =
        std::min(total_, r * row_bytes_ + kAhead + std::min(row_bytes_, (s + 1) * share_));
    for (; next_ < until; next_ += kLine) {
      _mm_prefetch(reinterpret_cast<const char*>(base_ + next_), _MM_HINT_T0);
    }
  }

 private:
  const uint8_t* base_;
  size_t row_bytes_, total_, share_;
  size_t next_ = kAhead;  // the next byte to request, from BASE
};

}  // namespace
}  // namespace loom::simd
