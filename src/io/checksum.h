// A fast 64-bit checksum of bytes, for telling a file loom wrote from one damaged since (a
// flipped bit, a truncation, another program's bytes). Not cryptographic: it guards against
// accidents, not against someone forging a file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace loom::io {

// The hash of N bytes at P: little-endian 8-byte words (a last partial one zero-padded) mixed
// into four independent lanes by multiply-xor-rotate (about a word a cycle), the lanes and N
// combined and finalized by murmur3's fmix64. Changing any one word always changes the result.
uint64_t hash64(const void* p, size_t n, uint64_t seed = 0);

struct ByteRange {
  const uint8_t* data;
  size_t size;
};

// The checksum of each range: the hash64 of its 1 MiB chunks (seeded with the chunk's index),
// then the hash64 of those chunk hashes (seeded with its size). The chunks of all ranges are
// spread across THREADS (0: all); the result does not depend on THREADS.
std::vector<uint64_t> checksums(std::span<const ByteRange> ranges, int threads);

}  // namespace loom::io
