#include "io/checksum.h"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace loom::io {
namespace {

constexpr uint64_t kMul = 0x9e3779b97f4a7c15ull;  // 2^64 / golden ratio, odd
constexpr size_t kChunk = size_t{1} << 20;

uint64_t load_word(const uint8_t* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);  // little-endian on every host loom runs on
  return w;
}

// A bijection of ACC for a given W, and of W for a given ACC: one changed word changes its lane.
uint64_t mix(uint64_t acc, uint64_t w) {
  return std::rotl((acc ^ w) * kMul, 31);
}

uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}

}  // namespace

uint64_t hash64(const void* data, size_t n, uint64_t seed) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t a = seed ^ 0x243f6a8885a308d3ull, b = seed ^ 0x13198a2e03707344ull;
  uint64_t c = seed ^ 0xa4093822299f31d0ull, d = seed ^ 0x082efa98ec4e6c89ull;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a = mix(a, load_word(p + i));
    b = mix(b, load_word(p + i + 8));
    c = mix(c, load_word(p + i + 16));
    d = mix(d, load_word(p + i + 24));
  }
  for (; i + 8 <= n; i += 8) a = mix(a, load_word(p + i));
  if (i < n) {
    uint8_t tail[8] = {};
    std::memcpy(tail, p + i, n - i);
    b = mix(b, load_word(tail));
  }
  return fmix64(a ^ std::rotl(b, 17) ^ std::rotl(c, 31) ^ std::rotl(d, 47) ^ (n * kMul));
}

std::vector<uint64_t> checksums(std::span<const ByteRange> ranges, int threads) {
  struct Chunk {
    size_t range, index;
  };
  std::vector<Chunk> chunks;
  std::vector<std::vector<uint64_t>> hashes(ranges.size());
  for (size_t r = 0; r < ranges.size(); ++r) {
    const size_t n = (ranges[r].size + kChunk - 1) / kChunk;
    hashes[r].resize(n);
    for (size_t i = 0; i < n; ++i) chunks.push_back({r, i});
  }
  if (threads <= 0) threads = omp_get_max_threads();
  const long n_chunks = static_cast<long>(chunks.size());
#pragma omp parallel for num_threads(threads) schedule(dynamic, 4)
  for (long k = 0; k < n_chunks; ++k) {
    const Chunk& c = chunks[k];
    const ByteRange& r = ranges[c.range];
    const size_t begin = c.index * kChunk;
    hashes[c.range][c.index] = hash64(r.data + begin, std::min(kChunk, r.size - begin), c.index);
  }
  std::vector<uint64_t> out(ranges.size());
  for (size_t r = 0; r < ranges.size(); ++r) {
    out[r] = hash64(hashes[r].data(), hashes[r].size() * sizeof(uint64_t), ranges[r].size);
  }
  return out;
}

}  // namespace loom::io
