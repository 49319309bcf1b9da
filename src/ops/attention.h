// Causal multi-head attention of a batch of queries over a KV cache, with grouped-query heads.
#pragma once

#include <cstddef>

#include "loom/config.h"

namespace loom::ops {

struct AttentionShape {
  int n_heads = 0;     // query heads
  int n_kv_heads = 0;  // key/value heads; n_heads is a multiple (GQA, MQA when 1)
  int head_dim = 0;
  // Slots the cache holds per head (the stride between heads): position p sits in slot p % ctx.
  // Where p can reach ctx (a ring), ctx is a multiple of kAttentionSpan.
  int ctx = 0;
  DType kv_type = DType::F32;  // the cache's element type: F32, F16 or BF16
  int window = 0;              // keys a query sees, itself included; 0: every earlier one
};

// Keys a query's span holds: a query's keys are cut into spans at the multiples of this many
// positions, each attended to apart and the spans merged in order, whatever the thread count.
// The cuts are at fixed positions, so a window's spans are the same whether its keys sit in a
// ring (which wraps only at a cut) or in a whole cache. Spans of one query run on several
// threads when there are fewer (query, KV head) jobs than threads (a decode step).
constexpr int kAttentionSpan = 256;

// Q: [m, n_heads * head_dim], the queries of positions pos0 .. pos0+m-1 (RoPE applied).
// K, V: [n_kv_heads, ctx, head_dim] of s.kv_type, already holding the positions the queries
// attend to. OUT: [m, n_heads * head_dim]. SCRATCH: attention_scratch_floats(s, threads) floats.
// Query i attends to the positions j with pos0+i - window < j <= pos0+i (transformers'
// sliding_window_overlay; every j <= pos0+i without a window), scores scaled by 1/sqrt(head_dim).
size_t attention_scratch_floats(const AttentionShape& s, int threads);

void attention(const float* q, int m, int pos0, const void* k, const void* v,
               const AttentionShape& s, float* out, float* scratch, int threads);

// Writes N floats into a cache row of type T (F32, F16 or BF16), rounded to nearest even.
void kv_store(DType t, const float* src, void* dst, size_t n);

}  // namespace loom::ops
