// Keys and values of every evaluated position, per layer and KV head.
#pragma once

#include <cstddef>
#include <memory>

namespace loom::model {

struct KvCache {
  int n_layers = 0, n_kv_heads = 0, ctx = 0, head_dim = 0;
  // [n_layers][n_kv_heads][ctx][head_dim] each: a head's positions are contiguous, so attention
  // reads one stream per head. Left uninitialized: only written positions are ever read.
  std::unique_ptr<float[]> k, v;

  KvCache(int layers, int kv_heads, int ctx_size, int hd)
      : n_layers(layers),
        n_kv_heads(kv_heads),
        ctx(ctx_size),
        head_dim(hd),
        k(new float[elements()]),
        v(new float[elements()]) {}

  size_t elements() const { return static_cast<size_t>(n_layers) * n_kv_heads * ctx * head_dim; }
  size_t layer_offset(int layer) const {
    return static_cast<size_t>(layer) * n_kv_heads * ctx * head_dim;
  }
  float* k_at(int layer, int head, int pos) {
    return k.get() + layer_offset(layer) + (static_cast<size_t>(head) * ctx + pos) * head_dim;
  }
  float* v_at(int layer, int head, int pos) {
    return v.get() + layer_offset(layer) + (static_cast<size_t>(head) * ctx + pos) * head_dim;
  }
};

}  // namespace loom::model
