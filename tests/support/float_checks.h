// Helpers for tests that sweep many shapes and compare floats bit for bit.
#pragma once

#include <bit>
#include <cstdint>
#include <limits>

namespace loom::test {

inline constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

inline uint32_t bits_of(float f) {
  return std::bit_cast<uint32_t>(f);
}

// Reports the first few failures of a sweep in full and the rest only as a count, so that one
// broken kernel does not bury the log under thousands of lines.
class Failures {
 public:
  bool add() { return ++count_ <= 8; }
  int count() const { return count_; }

 private:
  int count_ = 0;
};

}  // namespace loom::test
