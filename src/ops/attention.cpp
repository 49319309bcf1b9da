#include "ops/attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "simd/kernels.h"

namespace loom::ops {

void attention(const float* q, int m, int pos0, const float* k, const float* v,
               const AttentionShape& s, float* out, float* scratch, int threads) {
  const simd::Kernels& kern = simd::kernels();
  const int hd = s.head_dim;
  const int group = s.n_heads / s.n_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int work = m * s.n_heads;
  threads = std::max(1, std::min(threads, work));
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int job = 0; job < work; ++job) {
    const int i = job / s.n_heads, h = job % s.n_heads;
    const int n_keys = pos0 + i + 1;
    const size_t kv_off = static_cast<size_t>(h / group) * s.ctx * hd;
    const float* qi = q + (static_cast<size_t>(i) * s.n_heads + h) * hd;
    float* scores = scratch + static_cast<size_t>(omp_get_thread_num()) * s.ctx;

    float max_score = -INFINITY;
    for (int j = 0; j < n_keys; ++j) {
      scores[j] = kern.dot(qi, k + kv_off + static_cast<size_t>(j) * hd, hd) * scale;
      max_score = std::max(max_score, scores[j]);
    }
    float sum = 0;
    for (int j = 0; j < n_keys; ++j) {
      scores[j] = std::exp(scores[j] - max_score);
      sum += scores[j];
    }
    const float inv_sum = 1.0f / sum;
    float* o = out + (static_cast<size_t>(i) * s.n_heads + h) * hd;
    std::memset(o, 0, sizeof(float) * hd);
    for (int j = 0; j < n_keys; ++j) {
      kern.axpy(scores[j] * inv_sum, v + kv_off + static_cast<size_t>(j) * hd, o, hd);
    }
  }
}

}  // namespace loom::ops
