// Small file primitives for files loom writes itself (the quantized-weights cache): a file's
// identity for fingerprints, reading a small file whole, and writing a file atomically.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace loom::io {

// What identifies a file's contents cheaply: a checkpoint rewritten in place gets a new mtime.
struct FileStamp {
  uint64_t size = 0;
  int64_t mtime_ns = 0;  // since the epoch, nanoseconds
};

// PATH's size and modification time; throws loom::Error naming the file if it cannot stat it.
FileStamp file_stamp(const std::filesystem::path& path);

// The whole of PATH (a small file: config.json); throws loom::Error naming the file.
std::string read_file(const std::filesystem::path& path);

// Writes a file under its final name only once it is whole: the bytes go to a temporary file in
// the same directory (same file system, so the rename cannot copy), which is flushed to disk and
// renamed over the final name. A crash or an error leaves the final name as it was: absent or
// the previous file, never a partial one. Every failure (cannot create, disk full, short write)
// throws loom::Error naming the file and the reason; the temporary file is removed.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(const std::filesystem::path& path);
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();  // without commit(): removes the temporary file

  void write(const void* data, size_t n);
  // Zero bytes up to file offset OFFSET (not before the bytes written so far).
  void pad_to(uint64_t offset);
  uint64_t written() const { return written_; }
  // Flushes, closes and renames the file to its final name.
  void commit();

 private:
  [[noreturn]] void fail(const std::string& what, int err);
  void discard();
  std::filesystem::path path_, tmp_;
  int fd_ = -1;
  uint64_t written_ = 0;
};

}  // namespace loom::io
