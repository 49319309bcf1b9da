// Causal multi-head attention of a batch of queries over a KV cache, with grouped-query heads.
#pragma once

#include <cstddef>

#include "loom/config.h"

namespace loom::ops {

struct AttentionShape {
  int n_heads = 0;     // query heads
  int n_kv_heads = 0;  // key/value heads; n_heads is a multiple (GQA, MQA when 1)
  int head_dim = 0;
  // The most positions a sequence's cache holds: the scratch is sized for queries seeing that
  // many keys. For dense_kv_view, the slots of a head (the stride between heads): position p
  // sits in slot p % ctx, and where p can reach ctx (a ring), ctx is a multiple of kAttentionSpan.
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

// Where one sequence's keys (or values) of one layer lie: in blocks of kAttentionSpan positions,
// so that every span a kernel reads is contiguous. Positions i * kAttentionSpan .. (i + 1) *
// kAttentionSpan - 1 sit in block blocks[i % n_blocks] (block i % n_blocks when BLOCKS is null: a
// whole cache, or a ring of n_blocks blocks), each block_bytes after the previous, KV head h
// head_bytes into a block, and positions row_bytes apart within a head.
struct KvView {
  std::byte* k = nullptr;       // block 0 of the layer's keys
  std::byte* v = nullptr;       // block 0 of the layer's values
  const int* blocks = nullptr;  // the sequence's block of each span of positions, or null
  int n_blocks = 1;
  size_t block_bytes = 0, head_bytes = 0, row_bytes = 0;

  size_t offset(int head, int pos) const {
    const int i = (pos / kAttentionSpan) % n_blocks;
    return static_cast<size_t>(blocks ? blocks[i] : i) * block_bytes +
           static_cast<size_t>(head) * head_bytes +
           static_cast<size_t>(pos % kAttentionSpan) * row_bytes;
  }
};

// The view of a whole cache of one sequence, K and V: [n_kv_heads, ctx, head_dim] of
// s.kv_type each (a ring when positions reach ctx, a multiple of kAttentionSpan).
KvView dense_kv_view(void* k, void* v, const AttentionShape& s);

// Q: [m, n_heads * head_dim], row i the query of position POS[i] of sequence SEQ[i] (RoPE
// applied), whose keys and values are VIEWS[SEQ[i]], already holding the positions it attends to.
// OUT: [m, n_heads * head_dim]. SCRATCH: attention_scratch_floats(s, threads) floats, s.ctx being
// the most keys a query sees. Query i attends to the positions j of its sequence with
// POS[i] - window < j <= POS[i] (transformers' sliding_window_overlay; every j <= POS[i] without a
// window), scores scaled by 1/sqrt(head_dim). Each row's result depends only on its query and
// its sequence's keys: not on the other rows, their sequences or the thread count.
size_t attention_scratch_floats(const AttentionShape& s, int threads);

void attention(const float* q, int m, const int* pos, const int* seq, const KvView* views,
               const AttentionShape& s, float* out, float* scratch, int threads);

// One sequence's queries at positions pos0 .. pos0+m-1 over a whole cache (dense_kv_view).
void attention(const float* q, int m, int pos0, const void* k, const void* v,
               const AttentionShape& s, float* out, float* scratch, int threads);

// Writes N floats into a cache row of type T (F32, F16 or BF16), rounded to nearest even.
void kv_store(DType t, const float* src, void* dst, size_t n);

}  // namespace loom::ops
