#include "bench/bandwidth.h"

#include <immintrin.h>
#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>

#include "loom/error.h"

namespace loom::bench {
namespace {

// Four independent accumulators so the adds never wait on each other: the loop is bound by the
// loads alone. Summing (rather than discarding) keeps the compiler from dropping the reads.
__attribute__((target("avx2"))) uint64_t sum_avx2(const uint8_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  const auto* v = reinterpret_cast<const __m256i*>(p);
  const size_t blocks = n / 128;
  for (size_t i = 0; i < blocks; ++i, v += 4) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256(v));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256(v + 1));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256(v + 2));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256(v + 3));
  }
  const __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

uint64_t sum_plain(const uint8_t* p, size_t n) {
  const auto* w = reinterpret_cast<const uint64_t*>(p);
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (size_t i = 0; i + 4 <= n / 8; i += 4) {
    a0 += w[i], a1 += w[i + 1], a2 += w[i + 2], a3 += w[i + 3];
  }
  return a0 + a1 + a2 + a3;
}

bool has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}

}  // namespace

const char* probe_isa() {
  return has_avx2() ? "avx2" : "scalar";
}

double probe_bandwidth(size_t bytes, int threads) {
  threads = std::max(threads, 1);
  // Every thread's slice a whole number of 128-byte blocks, so the loops need no tails.
  const size_t slice = std::max<size_t>(bytes / threads / 128, 1) * 128;
  const size_t total = slice * threads;
  void* mem = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    throw Error("cannot allocate " + std::to_string(total >> 20) +
                " MiB for the bandwidth probe (--bw-size)");
  }
  madvise(mem, total, MADV_HUGEPAGE);  // fewer TLB misses, as the synthetic weights get
  auto* buf = static_cast<uint8_t*>(mem);
  const bool avx2 = has_avx2();

  // Each thread writes the slice it will read, so the pages are real (not the shared zero page)
  // and, on NUMA hosts, local to the thread that reads them.
#pragma omp parallel num_threads(threads)
  std::memset(buf + omp_get_thread_num() * slice, 1, slice);

  double best = 0;
  volatile uint64_t sink = 0;
  for (int pass = 0; pass < 3; ++pass) {
    uint64_t sum = 0;
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : sum)
    {
      const uint8_t* p = buf + omp_get_thread_num() * slice;
      sum += avx2 ? sum_avx2(p, slice) : sum_plain(p, slice);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sink = sink + sum;
    best = std::max(best, static_cast<double>(total) / s / 1e9);
  }
  munmap(mem, total);
  return best;
}

}  // namespace loom::bench
