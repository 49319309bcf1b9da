// A loaded model: config, tokenizer and weights mapped from a Hugging Face folder. Immutable once
// loaded; any number of Sessions may share one Model.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

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

  // A model of CONFIG's shape with random weights of DTYPE, made in memory (anonymous pages,
  // transparent huge pages where the kernel allows). No tokenizer: for speed measurements, which
  // do not depend on the weights' values.
  static Model synthetic(const ModelConfig& config, DType dtype, uint64_t seed = 1);
  // The shapes of well-known models: "tinyllama-1.1b", "llama2-7b", "llama3-8b".
  static ModelConfig known_shape(const std::string& name);
  // A config.json file's architecture (throws loom::Error naming the file and key at fault).
  static ModelConfig read_config(const std::filesystem::path& config_json);

  const ModelConfig& config() const;
  const Tokenizer& tokenizer() const;  // throws for a synthetic model
  bool has_tokenizer() const;
  const std::filesystem::path& dir() const;
  // Bytes of weights in the mapped files that the model uses.
  size_t weight_bytes() const;
  // Bytes of weights one decode step reads: every matrix once, one row of the embedding.
  size_t decode_weight_bytes() const;
  // Number of weights (parameters) the model uses.
  size_t n_params() const;

  // For the layers below the public API.
  const detail::LoadedModel& internal() const { return *impl_; }

 private:
  std::shared_ptr<const detail::LoadedModel> impl_;
};

}  // namespace loom
