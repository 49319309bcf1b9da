// The scalar sets' sum of eight partial accumulators, in the tree every vector set's horizontal
// sum follows (avx2_sums.h's hsum8), so that the sets give the same bits.
//
// Internal linkage, as in avx2_sums.h: the scalar units are compiled without vector flags, and
// their copy must not be replaced at link time by one a vector unit compiled.
#pragma once

namespace loom::simd {
namespace {

inline float reduce8(const float* a) {
  float s[4], t[2];
  for (int i = 0; i < 4; ++i) s[i] = a[i] + a[i + 4];
  for (int i = 0; i < 2; ++i) t[i] = s[i] + s[i + 2];
  return t[0] + t[1];
}

}  // namespace
}  // namespace loom::simd
