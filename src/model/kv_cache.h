// Keys and values of every evaluated position, per layer and KV head, in f32, f16 or bf16.
#pragma once

#include <cstddef>
#include <memory>

#include "loom/config.h"

namespace loom::model {

struct KvCache {
  int n_layers = 0, n_kv_heads = 0, ctx = 0, head_dim = 0;
  DType type = DType::F32;  // F32, F16 or BF16: rows are rounded to it as they are written
  // [n_layers][n_kv_heads][ctx][head_dim] each: a head's positions are contiguous, so attention
  // reads one stream per head. Left uninitialized: only written positions are ever read.
  std::unique_ptr<std::byte[]> k, v;

  KvCache(int layers, int kv_heads, int ctx_size, int hd, DType t)
      : n_layers(layers),
        n_kv_heads(kv_heads),
        ctx(ctx_size),
        head_dim(hd),
        type(t),
        k(new std::byte[bytes()]),
        v(new std::byte[bytes()]) {}

  // Bytes of K (and of V) for a cache of this shape.
  static size_t bytes(int layers, int kv_heads, int ctx_size, int hd, DType t) {
    return static_cast<size_t>(layers) * kv_heads * ctx_size * hd * dtype_size(t);
  }
  size_t bytes() const { return bytes(n_layers, n_kv_heads, ctx, head_dim, type); }
  size_t offset(int layer, int head, int pos) const {
    return ((static_cast<size_t>(layer) * n_kv_heads + head) * ctx + pos) * head_dim *
           dtype_size(type);
  }
  std::byte* k_at(int layer, int head, int pos) { return k.get() + offset(layer, head, pos); }
  std::byte* v_at(int layer, int head, int pos) { return v.get() + offset(layer, head, pos); }
};

}  // namespace loom::model
