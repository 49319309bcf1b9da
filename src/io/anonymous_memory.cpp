#include "io/anonymous_memory.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "loom/error.h"

namespace loom::io {

AnonymousMemory::AnonymousMemory(size_t bytes) : size_(bytes) {
  if (bytes == 0) return;
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    throw Error("cannot allocate " + std::to_string(bytes >> 20) + " MiB: " + std::strerror(errno));
  }
  // Huge pages: fewer TLB misses when weights stream through at memory bandwidth.
  ::madvise(p, bytes, MADV_HUGEPAGE);
  data_ = static_cast<uint8_t*>(p);
}

AnonymousMemory::~AnonymousMemory() {
  if (data_) ::munmap(data_, size_);
}

}  // namespace loom::io
