// Causal multi-head attention of a batch of queries over a KV cache, with grouped-query heads.
#pragma once

#include <cstddef>

namespace loom::ops {

struct AttentionShape {
  int n_heads = 0;     // query heads
  int n_kv_heads = 0;  // key/value heads; n_heads is a multiple (GQA, MQA when 1)
  int head_dim = 0;
  int ctx = 0;  // positions the cache holds per head (the stride between heads)
};

// Q: [m, n_heads * head_dim], the queries of positions pos0 .. pos0+m-1 (RoPE applied).
// K, V: [n_kv_heads, ctx, head_dim], already holding positions 0 .. pos0+m-1.
// OUT: [m, n_heads * head_dim]. SCRATCH: attention_scratch_floats(s, threads) floats.
// Query i attends to positions 0 .. pos0+i, with scores scaled by 1/sqrt(head_dim).
size_t attention_scratch_floats(const AttentionShape& s, int threads);

void attention(const float* q, int m, int pos0, const float* k, const float* v,
               const AttentionShape& s, float* out, float* scratch, int threads);

}  // namespace loom::ops
