// What Model::load produces: immutable, shared by every Session of the model.
#pragma once

#include <filesystem>
#include <vector>

#include "io/safetensors.h"
#include "loom/config.h"
#include "loom/tokenizer.h"
#include "model/weights.h"

namespace loom::detail {

struct LoadedModel {
  std::filesystem::path dir;
  ModelConfig config;
  Tokenizer tokenizer;
  io::TensorStore store;  // owns the mappings the weights view
  model::LlamaWeights weights;
  std::vector<float> inv_freq;  // [head_dim / 2], scaling applied
};

}  // namespace loom::detail
