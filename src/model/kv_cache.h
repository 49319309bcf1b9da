// Keys and values of the evaluated positions, per layer and KV head, in f32, f16 or bf16.
//
// A layer without a sliding window holds every position of the context. A layer with a window W
// holds a ring of fewer slots (kv_slots): position p sits in slot p % slots, so memory stays
// bounded at any context length. A batch of B queries at positions p0 .. p0+B-1 reads keys
// p0-W+1 .. p0+B-1 once its own B keys are written: W + B - 1 positions, which a ring of that
// many slots holds without overwriting one still needed.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <vector>

#include "loom/config.h"
#include "ops/attention.h"

namespace loom::model {

// Slots of a layer with WINDOW (0: none) in a context of CTX positions evaluated in batches of up
// to BATCH: the whole context, or W + B - 1 rounded up to a multiple of ops::kAttentionSpan (so
// the ring's wrap falls on a span boundary and no kernel call straddles it), if that is less.
inline int kv_slots(int ctx, int window, int batch) {
  if (window <= 0) return ctx;
  const long need = static_cast<long>(window) + batch - 1;
  const long span = ops::kAttentionSpan;
  return static_cast<int>(std::min<long>(ctx, (need + span - 1) / span * span));
}

struct KvCache {
  int n_layers = 0, n_kv_heads = 0, ctx = 0, head_dim = 0;
  DType type = DType::F32;  // F32, F16 or BF16: rows are rounded to it as they are written
  std::vector<int> slots;   // per layer: positions it holds (ctx, or a ring's slots)
  // Per layer [n_kv_heads][slots][head_dim] each, layers one after another: a head's positions
  // are contiguous, so attention reads one stream per head. Left uninitialized: only written
  // positions are ever read.
  std::vector<size_t> layer_offset;  // bytes
  std::unique_ptr<std::byte[]> k, v;

  KvCache(int kv_heads, int ctx_size, int hd, DType t, std::vector<int> layer_slots)
      : n_layers(static_cast<int>(layer_slots.size())),
        n_kv_heads(kv_heads),
        ctx(ctx_size),
        head_dim(hd),
        type(t),
        slots(std::move(layer_slots)) {
    size_t at = 0;
    for (int s : slots) {
      layer_offset.push_back(at);
      at += static_cast<size_t>(n_kv_heads) * s * row_bytes();
    }
    k.reset(new std::byte[at]);
    v.reset(new std::byte[at]);
  }

  // Slots per layer for a model's config: see kv_slots.
  static std::vector<int> layer_slots(const ModelConfig& c, int ctx_size, int batch) {
    std::vector<int> s(c.n_layers);
    for (int l = 0; l < c.n_layers; ++l) s[l] = kv_slots(ctx_size, c.window_of(l), batch);
    return s;
  }
  // Bytes of K (and of V) for these slots.
  static size_t bytes(const std::vector<int>& layer_slots, int kv_heads, int hd, DType t) {
    size_t n = 0;
    for (int s : layer_slots) n += static_cast<size_t>(kv_heads) * s * hd * dtype_size(t);
    return n;
  }
  size_t bytes() const { return bytes(slots, n_kv_heads, head_dim, type); }
  size_t row_bytes() const { return static_cast<size_t>(head_dim) * dtype_size(type); }
  int max_slots() const {
    return slots.empty() ? 0 : *std::max_element(slots.begin(), slots.end());
  }
  // Where position POS of a head sits: its slot in the layer's ring.
  size_t offset(int layer, int head, int pos) const {
    const int s = slots[layer];
    return layer_offset[layer] + (static_cast<size_t>(head) * s + pos % s) * row_bytes();
  }
  std::byte* k_at(int layer, int head, int pos) { return k.get() + offset(layer, head, pos); }
  std::byte* v_at(int layer, int head, int pos) { return v.get() + offset(layer, head, pos); }
  const std::byte* layer_k(int layer) const { return k.get() + layer_offset[layer]; }
  const std::byte* layer_v(int layer) const { return v.get() + layer_offset[layer]; }
};

}  // namespace loom::model
