#include "loom/model.h"

#include "io/hf_config.h"
#include "loom/error.h"
#include "model/loaded_model.h"
#include "model/rope_freq.h"

namespace loom {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "f32";
    case DType::F16:
      return "f16";
    case DType::BF16:
      return "bf16";
  }
  return "?";
}

size_t dtype_size(DType t) {
  return t == DType::F32 ? 4 : 2;
}

ModelConfig Model::read_config(const std::filesystem::path& config_json) {
  return io::read_hf_config_file(config_json);
}

Model Model::load(const std::filesystem::path& dir) {
  ModelConfig config = io::read_hf_config(dir);
  Tokenizer tokenizer = Tokenizer::load(dir, config.bos_token_id);
  if (tokenizer.vocab_size() > config.vocab_size) {
    throw Error((dir / "tokenizer.model").string() + " has " +
                std::to_string(tokenizer.vocab_size()) + " pieces, more than config.json's " +
                "vocab_size of " + std::to_string(config.vocab_size));
  }
  io::TensorStore store = io::TensorStore::open(dir);
  model::LlamaWeights weights = model::bind_weights(store, config);
  std::vector<float> inv_freq = model::rope_inv_freq(config.rope, config.head_dim);
  Model model;
  model.impl_ =
      std::make_shared<const detail::LoadedModel>(detail::LoadedModel{dir,
                                                                      std::move(config),
                                                                      std::move(tokenizer),
                                                                      std::move(store),
                                                                      {},
                                                                      std::move(weights),
                                                                      std::move(inv_freq)});
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

namespace {
size_t mat_bytes(const ops::MatRef& m) {
  return static_cast<size_t>(m.rows) * m.cols * dtype_size(m.dtype);
}
size_t mat_params(const ops::MatRef& m) {
  return static_cast<size_t>(m.rows) * m.cols;
}
}  // namespace

size_t Model::weight_bytes() const {
  const model::LlamaWeights& w = impl_->weights;
  const size_t h = impl_->config.hidden_size;
  size_t n = mat_bytes(w.embed) + h * 4;  // norms held as fp32
  if (w.lm_head.data != w.embed.data) n += mat_bytes(w.lm_head);
  for (const auto& l : w.layers) {
    n += mat_bytes(l.wq) + mat_bytes(l.wk) + mat_bytes(l.wv) + mat_bytes(l.wo) +
         mat_bytes(l.w_gate) + mat_bytes(l.w_up) + mat_bytes(l.w_down) + 2 * h * 4;
  }
  return n;
}

size_t Model::decode_weight_bytes() const {
  const model::LlamaWeights& w = impl_->weights;
  const size_t embed_row = w.embed.cols * dtype_size(w.embed.dtype);
  // weight_bytes counts the embedding once; a step reads one row of it, plus the whole matrix
  // again when it doubles as the (tied) output head.
  size_t n = weight_bytes() - mat_bytes(w.embed) + embed_row;
  if (w.lm_head.data == w.embed.data) n += mat_bytes(w.lm_head);
  return n;
}

size_t Model::n_params() const {
  const model::LlamaWeights& w = impl_->weights;
  const size_t h = impl_->config.hidden_size;
  size_t n = mat_params(w.embed) + h;
  if (w.lm_head.data != w.embed.data) n += mat_params(w.lm_head);
  for (const auto& l : w.layers) {
    n += mat_params(l.wq) + mat_params(l.wk) + mat_params(l.wv) + mat_params(l.wo) +
         mat_params(l.w_gate) + mat_params(l.w_up) + mat_params(l.w_down) + 2 * h;
  }
  return n;
}

}  // namespace loom
