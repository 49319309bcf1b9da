#include "loom/model.h"

#include "io/gguf.h"
#include "io/hf_config.h"
#include "loom/error.h"
#include "model/gguf_model.h"
#include "model/load_quantized.h"
#include "model/loaded_model.h"
#include "model/quantize_weights.h"
#include "model/rope_freq.h"
#include "quant/blocks.h"

namespace loom {

ModelConfig Model::read_config(const std::filesystem::path& config_json) {
  return io::read_hf_config_file(config_json);
}

Model Model::load(const std::filesystem::path& dir, const LoadOptions& options) {
  const bool quantize = model::quant_choice(options).has_value();  // (checks the options)
  const bool gguf = dir.extension() == ".gguf" && std::filesystem::is_regular_file(dir);
  ModelConfig config;
  io::TensorStore store;
  std::vector<float> inv_freq;
  if (gguf) {
    model::GgufCheckpoint c =
        model::read_gguf_checkpoint(std::make_shared<const io::GgufFile>(io::GgufFile::open(dir)));
    config = std::move(c.config);
    store = std::move(c.store);
    inv_freq = std::move(c.inv_freq);
  } else {
    config = io::read_hf_config(dir);
  }
  Tokenizer tokenizer = Tokenizer::load(dir, config.bos_token_id, options.tokenizer);
  if (tokenizer.vocab_size() > config.vocab_size) {
    throw Error(dir.string() + ": the " + tokenizer.describe() + " has " +
                std::to_string(tokenizer.vocab_size()) + " tokens, more than " +
                (gguf ? "token_embd.weight's " : "config.json's vocab_size of ") +
                std::to_string(config.vocab_size));
  }
  if (!gguf) store = io::TensorStore::open(dir);
  const model::TensorNaming naming =
      gguf ? model::TensorNaming{model::gguf_tensor_name, "the GGUF metadata"}
           : model::TensorNaming{};
  model::LlamaWeights weights = model::bind_weights(store, config, naming);
  model::QuantizedMemory quantized;
  Quantization quantization;
  if (quantize) {
    quantized = model::load_quantized(weights, store, dir, options, quantization);
  }
  if (inv_freq.empty()) inv_freq = model::rope_inv_freq(config.rope, config.head_dim);
  Model model;
  model.impl_ = std::make_shared<const detail::LoadedModel>(
      detail::LoadedModel{dir,
                          std::move(config),
                          std::move(tokenizer),
                          std::move(store),
                          {},
                          std::move(weights),
                          std::move(inv_freq),
                          std::move(quantized.quantized),
                          std::move(quantization),
                          std::move(quantized.cache)});
  return model;
}

const ModelConfig& Model::config() const {
  return impl_->config;
}
const Tokenizer& Model::tokenizer() const {
  if (!impl_->tokenizer) throw Error("this model has no tokenizer (a synthetic model)");
  return *impl_->tokenizer;
}
bool Model::has_tokenizer() const {
  return impl_->tokenizer.has_value();
}
const std::filesystem::path& Model::dir() const {
  return impl_->dir;
}
const Quantization& Model::quantization() const {
  return impl_->quantization;
}

namespace {
size_t mat_bytes(const ops::MatRef& m) {
  return static_cast<size_t>(m.rows) * row_bytes(m.dtype, m.cols);
}
size_t mat_params(const ops::MatRef& m) {
  return static_cast<size_t>(m.rows) * m.cols;
}

// Bytes (or, with PARAMS, weights) of a layer's tensors: matrices as held, vectors in fp32.
size_t layer_size(const model::LlamaWeights& w, const model::LayerWeights& l, bool params) {
  size_t n = 0;
  for (const model::LayerTensor& t : model::layer_tensors(w.arch)) {
    if (t.kind == model::TensorKind::Matrix) {
      n += params ? mat_params(l.*t.matrix) : mat_bytes(l.*t.matrix);
    } else {
      n += (l.*t.vector).size() * (params ? 1 : sizeof(float));
    }
  }
  return n;
}
}  // namespace

size_t Model::weight_bytes() const {
  const model::LlamaWeights& w = impl_->weights;
  size_t n = mat_bytes(w.embed) + w.final_norm.size() * sizeof(float);
  if (w.lm_head.data != w.embed.data) n += mat_bytes(w.lm_head);
  for (const auto& l : w.layers) n += layer_size(w, l, false);
  return n;
}

size_t Model::decode_weight_bytes() const {
  const model::LlamaWeights& w = impl_->weights;
  const size_t embed_row = row_bytes(w.embed.dtype, w.embed.cols);
  // weight_bytes counts the embedding once; a step reads one row of it, plus the whole matrix
  // again when it doubles as the (tied) output head.
  size_t n = weight_bytes() - mat_bytes(w.embed) + embed_row;
  if (w.lm_head.data == w.embed.data) n += mat_bytes(w.lm_head);
  return n;
}

size_t Model::n_params() const {
  const model::LlamaWeights& w = impl_->weights;
  size_t n = mat_params(w.embed) + w.final_norm.size();
  // By the config, not the pointers: a quantized copy of tied embeddings adds no parameters.
  if (!impl_->config.tie_word_embeddings) n += mat_params(w.lm_head);
  for (const auto& l : w.layers) n += layer_size(w, l, true);
  return n;
}

}  // namespace loom
