// Causal multi-head attention of a batch of queries over a KV cache, with grouped-query heads.
#pragma once

#include <cstddef>

#include "loom/config.h"

namespace loom::ops {

struct AttentionShape {
  int n_heads = 0;     // query heads
  int n_kv_heads = 0;  // key/value heads; n_heads is a multiple (GQA, MQA when 1)
  int head_dim = 0;
  int ctx = 0;                 // positions the cache holds per head (the stride between heads)
  DType kv_type = DType::F32;  // the cache's element type: F32, F16 or BF16
};

// Keys a query's span holds: a query's keys are cut into spans of this many, each attended to
// apart and the spans merged in order, whatever the thread count. Spans of one query run on
// several threads when there are fewer (query, KV head) jobs than threads (a decode step).
constexpr int kAttentionSpan = 256;

// Q: [m, n_heads * head_dim], the queries of positions pos0 .. pos0+m-1 (RoPE applied).
// K, V: [n_kv_heads, ctx, head_dim] of s.kv_type, already holding positions 0 .. pos0+m-1.
// OUT: [m, n_heads * head_dim]. SCRATCH: attention_scratch_floats(s, threads) floats.
// Query i attends to positions 0 .. pos0+i, with scores scaled by 1/sqrt(head_dim).
size_t attention_scratch_floats(const AttentionShape& s, int threads);

void attention(const float* q, int m, int pos0, const void* k, const void* v,
               const AttentionShape& s, float* out, float* scratch, int threads);

// Writes N floats into a cache row of type T (F32, F16 or BF16), rounded to nearest even.
void kv_store(DType t, const float* src, void* dst, size_t n);

}  // namespace loom::ops
