#include "ops/attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "simd/kernels.h"

namespace loom::ops {

size_t attention_scratch_floats(const AttentionShape& s, int threads) {
  const size_t group = s.n_heads / s.n_kv_heads;
  return static_cast<size_t>(threads) * group * (s.ctx + 1);
}

// One job is a query position and a KV head with all the query heads that share it (GQA): each
// key and value row is read once for the whole group and reused from L1. Per (query, head) the
// arithmetic is the plain one, in key order.
void attention(const float* q, int m, int pos0, const float* k, const float* v,
               const AttentionShape& s, float* out, float* scratch, int threads) {
  const simd::Kernels& kern = simd::kernels();
  const int hd = s.head_dim;
  const int group = s.n_heads / s.n_kv_heads;
  const size_t ctx = s.ctx;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int work = m * s.n_kv_heads;
  threads = std::max(1, std::min(threads, work));
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int job = 0; job < work; ++job) {
    const int i = job / s.n_kv_heads, g = job % s.n_kv_heads;
    const int n_keys = pos0 + i + 1;
    const float* kg = k + static_cast<size_t>(g) * ctx * hd;
    const float* vg = v + static_cast<size_t>(g) * ctx * hd;
    const size_t first_head = static_cast<size_t>(i) * s.n_heads + static_cast<size_t>(g) * group;
    const float* qg = q + first_head * hd;
    float* scores = scratch + static_cast<size_t>(omp_get_thread_num()) * group * (ctx + 1);
    float* inv_sum = scores + group * ctx;  // [group]

    for (int j = 0; j < n_keys; ++j) {
      const float* kj = kg + static_cast<size_t>(j) * hd;
      for (int h = 0; h < group; ++h) scores[h * ctx + j] = kern.dot(qg + h * hd, kj, hd) * scale;
    }
    for (int h = 0; h < group; ++h) {
      float* sh = scores + h * ctx;
      float max_score = -INFINITY;
      for (int j = 0; j < n_keys; ++j) max_score = std::max(max_score, sh[j]);
      float sum = 0;
      for (int j = 0; j < n_keys; ++j) {
        sh[j] = std::exp(sh[j] - max_score);
        sum += sh[j];
      }
      inv_sum[h] = 1.0f / sum;
    }
    float* og = out + first_head * hd;
    std::memset(og, 0, sizeof(float) * hd * group);
    for (int j = 0; j < n_keys; ++j) {
      const float* vj = vg + static_cast<size_t>(j) * hd;
      for (int h = 0; h < group; ++h)
        kern.axpy(scores[h * ctx + j] * inv_sum[h], vj, og + h * hd, hd);
    }
  }
}

}  // namespace loom::ops
