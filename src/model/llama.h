// The forward pass of the Llama family (model/arch.h) as plain calls, over a batch of consecutive
// positions.
#pragma once

#include <vector>

#include "model/kv_cache.h"
#include "model/loaded_model.h"
#include "ops/matmul.h"
#include "quant/blocks.h"

namespace loom::model {

// Buffers for one batch of up to `batch` tokens, allocated once per session.
struct Workspace {
  int batch = 0, threads = 1;
  std::vector<float> x;             // [batch, hidden]  the residual stream
  std::vector<float> xn;            // [batch, hidden]  normed input of the next product
  std::vector<float> q;             // [batch, n_heads * head_dim]
  std::vector<float> k;             // [batch, n_kv_heads * head_dim]
  std::vector<float> v;             // [batch, n_kv_heads * head_dim]
  std::vector<float> att;           // [batch, n_heads * head_dim]
  std::vector<float> gate;          // [batch, intermediate]
  std::vector<float> up;            // [batch, intermediate]
  std::vector<float> scores;        // attention scratch: ops::attention_scratch_floats
  std::vector<float> inv_freq;      // [head_dim / 2], this pass's (dynamic RoPE changes them)
  float rope_factor = 1.0f;         // cos and sin are scaled by it (yarn's attention factor)
  std::vector<float> rope_cos;      // [batch, head_dim / 2], the pass's positions
  std::vector<float> rope_sin;      // [batch, head_dim / 2]
  std::vector<quant::ActSpace> xq;  // a product's input quantized, for quantized weights

  // KV_SLOTS: the most positions a layer's cache holds (KvCache::max_slots()).
  Workspace(const detail::LoadedModel& m, int batch, int kv_slots, int threads);
};

// Evaluates M (<= ws.batch) tokens at positions pos0 .. pos0+M-1, writing their keys and values
// into the cache. LOGITS receives the logits of every row ([M, vocab]) when ALL_ROWS, else of the
// last row only ([vocab]). PASS picks the products' kernels: Decode (N == 1) for a step of
// generation, Prompt for anything else, whatever N.
void forward(const detail::LoadedModel& m, Workspace& ws, KvCache& cache, const int* ids, int n,
             int pos0, float* logits, bool all_rows, ops::Pass pass);

}  // namespace loom::model
