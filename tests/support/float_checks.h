// Helpers for tests that sweep many shapes and compare floats bit for bit.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

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

// OUT holds M rows of ROWS outputs, LDO apart (the last row ends the vector), filled with
// SENTINEL before the kernel ran: the number of padding places (columns ROWS .. LDO) that no
// longer hold it, i.e. writes past a kernel's rows.
inline int padding_writes(const std::vector<float>& out, int m, int rows, size_t ldo,
                          float sentinel) {
  int written = 0;
  for (size_t t = 0; t + 1 < static_cast<size_t>(m); ++t) {
    for (size_t r = rows; r < ldo; ++r) written += bits_of(out[t * ldo + r]) != bits_of(sentinel);
  }
  return written;
}

}  // namespace loom::test
