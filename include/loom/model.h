// A loaded model: config, tokenizer and weights mapped from a Hugging Face folder. Immutable once
// loaded; any number of Sessions may share one Model.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loom/config.h"
#include "loom/tokenizer.h"

namespace loom {

namespace detail {
struct LoadedModel;
}

struct LoadOptions {
  // DType::Q8_0, Q4_0 or Q4_K: quantize the matrices of the products (attention, MLP, output
  // head) at load, with all cores, into memory of their own. Left as stored: the token embedding
  // (a lookup of rows, not a product; a tied output head gets its own quantized copy) and any
  // matrix whose rows are not whole blocks of 32 weights. Empty: every weight as stored.
  std::optional<DType> quantize;

  // From a --quantize value: "" (nothing), "q8_0", "q4_0" or "q4_k"; throws loom::Error naming the
  // flag and the value otherwise. Checked before any model is read, so a typo costs no load.
  static LoadOptions from_quantize_flag(std::string_view value);
};

// What loading quantized.
struct Quantization {
  std::optional<DType> type;  // empty: nothing was
  int quantized = 0;          // matrices quantized
  // The matrices left as stored, one line each ("name (dtype): why"); a layer's matrix stands for
  // that matrix of every layer, as "model.layers.*.mlp.down_proj.weight".
  std::vector<std::string> kept;
};

class Model {
 public:
  // Loads a Hugging Face Llama folder: config.json, model.safetensors (or a sharded
  // model.safetensors.index.json), tokenizer.model. Weights are mmap'd, not copied, unless
  // OPTIONS asks for them quantized. Throws loom::Error naming the file, tensor or key at fault.
  static Model load(const std::filesystem::path& dir, const LoadOptions& options = {});

  // A model of CONFIG's shape with random weights of DTYPE, made in memory (anonymous pages,
  // transparent huge pages where the kernel allows), quantized as OPTIONS asks (each matrix made
  // and quantized a piece at a time: the unquantized model never exists). No tokenizer: for speed
  // measurements, which do not depend on the weights' values.
  static Model synthetic(const ModelConfig& config, DType dtype, uint64_t seed = 1,
                         const LoadOptions& options = {});
  // The shapes of well-known models: "tinyllama-1.1b", "llama2-7b", "llama3-8b".
  static ModelConfig known_shape(const std::string& name);
  // A config.json file's architecture (throws loom::Error naming the file and key at fault).
  static ModelConfig read_config(const std::filesystem::path& config_json);

  const ModelConfig& config() const;
  const Tokenizer& tokenizer() const;  // throws for a synthetic model
  bool has_tokenizer() const;
  const std::filesystem::path& dir() const;
  const Quantization& quantization() const;
  // Bytes of the weights the model uses, quantized ones as quantized (an output head quantized
  // from tied embeddings counts apart from them).
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
