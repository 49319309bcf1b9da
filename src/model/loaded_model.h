// What Model::load produces: immutable, shared by every Session of the model.
#pragma once

#include <filesystem>
#include <optional>
#include <vector>

#include "io/anonymous_memory.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "loom/config.h"
#include "loom/model.h"
#include "loom/tokenizer.h"
#include "model/weights.h"

namespace loom::detail {

struct LoadedModel {
  std::filesystem::path dir;
  ModelConfig config;
  std::optional<Tokenizer> tokenizer;  // absent for synthetic models
  io::TensorStore store;               // owns the file mappings the weights view...
  io::AnonymousMemory synthetic;       // ...or the memory of synthetic weights
  model::LlamaWeights weights;
  std::vector<float> inv_freq;    // [head_dim / 2], scaling applied
  io::AnonymousMemory quantized;  // the matrices quantized at load, if any...
  Quantization quantization;
  // ...or the cache file they were mapped from (LoadOptions::quant_cache); the views point into
  // it, so it lives as long as the model.
  std::optional<io::MappedFile> quant_cache;
};

// The insides of a Model, for the layers below the public API (Model befriends this class).
class ModelAccess {
 public:
  static const LoadedModel& loaded(const Model& m) { return *m.impl_; }
  static Model wrap(std::shared_ptr<const LoadedModel> impl) {
    Model m;
    m.impl_ = std::move(impl);
    return m;
  }
};

inline const LoadedModel& loaded(const Model& m) {
  return ModelAccess::loaded(m);
}

}  // namespace loom::detail
