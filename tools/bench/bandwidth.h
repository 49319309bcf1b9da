// A STREAM-like probe of the memory bandwidth a read-only kernel can reach, so decode speed can
// be read as a fraction of what the memory system delivers right now.
#pragma once

#include <cstddef>

namespace loom::bench {

// Reads a BYTES-sized buffer (far larger than the caches) with THREADS OpenMP threads, each its
// own contiguous slice, and returns the best of three passes in GB/s (1e9 bytes per second).
// Throws loom::Error when the buffer cannot be allocated.
double probe_bandwidth(size_t bytes, int threads);

// "avx2" or "scalar": the loop the probe reads with on this CPU.
const char* probe_isa();

}  // namespace loom::bench
