// The Llama weights as views into the mapped checkpoint (norm vectors copied to fp32).
#pragma once

#include <vector>

#include "io/safetensors.h"
#include "loom/config.h"
#include "ops/matmul.h"

namespace loom::model {

struct LayerWeights {
  std::vector<float> attn_norm;  // [hidden]
  ops::MatRef wq;                // [n_heads * head_dim, hidden]
  ops::MatRef wk;                // [n_kv_heads * head_dim, hidden]
  ops::MatRef wv;                // [n_kv_heads * head_dim, hidden]
  ops::MatRef wo;                // [hidden, n_heads * head_dim]
  std::vector<float> mlp_norm;   // [hidden]
  ops::MatRef w_gate;            // [intermediate, hidden]
  ops::MatRef w_up;              // [intermediate, hidden]
  ops::MatRef w_down;            // [hidden, intermediate]
};

struct LlamaWeights {
  ops::MatRef embed;  // [vocab, hidden]
  std::vector<LayerWeights> layers;
  std::vector<float> final_norm;  // [hidden]
  ops::MatRef lm_head;            // [vocab, hidden]; the embedding itself when tied
};

// Finds every tensor the config implies and checks its dtype and shape; throws loom::Error
// naming the tensor (and its file) when one is missing or wrong.
LlamaWeights bind_weights(const io::TensorStore& store, const ModelConfig& config);

}  // namespace loom::model
