#include "io/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "loom/error.h"

namespace loom::io {
namespace fs = std::filesystem;

FileStamp file_stamp(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw Error("cannot stat " + path.string() + ": " + std::strerror(errno));
  }
  return {static_cast<uint64_t>(st.st_size),
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

std::string read_file(const fs::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error("cannot read " + path.string() + ": " + std::strerror(errno));
  std::string out;
  char buf[65536];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  const bool bad = std::ferror(f);
  std::fclose(f);
  if (bad) throw Error("cannot read " + path.string());
  return out;
}

AtomicFileWriter::AtomicFileWriter(const fs::path& path) : path_(path) {
  // The pid and a counter keep writers of the same file (two processes, two threads) apart.
  static std::atomic<unsigned> counter{0};
  tmp_ = path;
  tmp_ += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    const int err = errno;
    throw Error("cannot create " + tmp_.string() + ": " + std::strerror(err));
  }
}

AtomicFileWriter::~AtomicFileWriter() {
  discard();
}

void AtomicFileWriter::discard() {
  if (fd_ < 0) return;
  ::close(fd_);
  ::unlink(tmp_.c_str());
  fd_ = -1;
}

void AtomicFileWriter::fail(const std::string& what, int err) {
  discard();
  throw Error("cannot " + what + " " + tmp_.string() + " (for " + path_.string() +
              "): " + std::strerror(err));
}

void AtomicFileWriter::write(const void* data, size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    // Pieces of at most 1 GiB: Linux writes at most about 2 GiB a call anyway.
    const ssize_t w = ::write(fd_, p, std::min<size_t>(n, size_t{1} << 30));
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("write", errno);  // ENOSPC, EFBIG, EIO, ...
    }
    if (w == 0) fail("write", EIO);
    p += w;
    n -= static_cast<size_t>(w);
    written_ += static_cast<uint64_t>(w);
  }
}

void AtomicFileWriter::pad_to(uint64_t offset) {
  static const std::vector<char> zeros(4096, 0);
  while (written_ < offset)
    write(zeros.data(), std::min<uint64_t>(zeros.size(), offset - written_));
}

void AtomicFileWriter::commit() {
  // Data on disk before the name: after a crash the final name holds the old file or the new
  // one, whole.
  if (::fsync(fd_) != 0) fail("flush", errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp_.c_str());
    throw Error("cannot close " + tmp_.string() + ": " + std::strerror(err));
  }
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp_.c_str());
    throw Error("cannot rename " + tmp_.string() + " to " + path_.string() + ": " +
                std::strerror(err));
  }
}

}  // namespace loom::io
