// A model's weights as views into the mapped checkpoint (norms and biases copied to fp32).
#pragma once

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
LlamaWeights bind_weights(const io::TensorStore& store, const ModelConfig& config);

}  // namespace loom::model
