// A read-only memory mapping of a whole file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>

namespace loom::io {

class MappedFile {
 public:
  // Maps PATH read-only; throws loom::Error naming the file if it cannot.
  explicit MappedFile(const std::filesystem::path& path);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void release();
  std::filesystem::path path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Drops the whole pages inside [P, P + N) of a read-only file mapping from the process's resident
// set; touching them again reads them back from the page cache or the file. For weights that were
// copied elsewhere (quantized at load), so that resident memory is the copy, not both.
void release_mapped_pages(const void* p, size_t n);

// Asks the kernel to start reading the pages of [P, P + N) of a file mapping now, ahead of the
// accesses: for a file about to be read whole (a cache checked by its checksums), so that the
// reads overlap instead of waiting one page fault at a time.
void prefetch_mapped_pages(const void* p, size_t n);

}  // namespace loom::io
