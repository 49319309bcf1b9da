// Page-aligned anonymous memory, asking the kernel for transparent huge pages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

namespace loom::io {

class AnonymousMemory {
 public:
  AnonymousMemory() = default;
  // Throws loom::Error if the memory cannot be had.
  explicit AnonymousMemory(size_t bytes);
  AnonymousMemory(AnonymousMemory&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  AnonymousMemory& operator=(AnonymousMemory&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    return *this;
  }
  AnonymousMemory(const AnonymousMemory&) = delete;
  AnonymousMemory& operator=(const AnonymousMemory&) = delete;
  ~AnonymousMemory();

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace loom::io
