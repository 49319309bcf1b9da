// A loaded model: config, tokenizer and weights mapped from a Hugging Face folder. Immutable once
// loaded; any number of Sessions may share one Model.
#pragma once

#include <filesystem>
#include <memory>

#include "loom/config.h"
#include "loom/tokenizer.h"

namespace loom {

namespace detail {
struct LoadedModel;
}

class Model {
 public:
  // Loads a Hugging Face Llama folder: config.json, model.safetensors (or a sharded
  // model.safetensors.index.json), tokenizer.model. Weights are mmap'd, not copied.
  // Throws loom::Error naming the file, tensor or key at fault.
  static Model load(const std::filesystem::path& dir);

  const ModelConfig& config() const;
  const Tokenizer& tokenizer() const;
  const std::filesystem::path& dir() const;
  // Bytes of weights in the mapped files that the model uses.
  size_t weight_bytes() const;
  // Number of weights (parameters) the model uses.
  size_t n_params() const;

  // For the layers below the public API.
  const detail::LoadedModel& internal() const { return *impl_; }

 private:
  std::shared_ptr<const detail::LoadedModel> impl_;
};

}  // namespace loom
