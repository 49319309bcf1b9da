// A model's weights as views into the mapped checkpoint (norms and biases copied to fp32).
#pragma once

#include <string>
#include <vector>

#include "io/safetensors.h"
#include "loom/config.h"
#include "model/arch.h"
#include "ops/matmul.h"

namespace loom::model {

struct LlamaWeights {
  Arch arch = Arch::Llama;  // whose layer_tensors the layers hold
  ops::MatRef embed;        // [vocab, hidden]
  std::vector<LayerWeights> layers;
  std::vector<float> final_norm;  // [hidden]
  ops::MatRef lm_head;            // [vocab, hidden]; the embedding itself when tied
};

// Finds every tensor the config implies (layer_tensors of its architecture) and checks its dtype
// and shape; throws loom::Error naming the tensor (and its file) when one is missing or wrong,
// or when the checkpoint holds a tensor the config does not imply.
// How messages name tensors and the config: a checkpoint's own names (a GGUF file's
// "blk.0.attn_q.weight" for transformers' "model.layers.0.self_attn.q_proj.weight").
struct TensorNaming {
  std::string (*file_name)(const std::string& hf_name) = nullptr;  // null: transformers' names
  const char* config = "config.json";
};

LlamaWeights bind_weights(const io::TensorStore& store, const ModelConfig& config,
                          const TensorNaming& naming = {});

}  // namespace loom::model
