#include "loom/model.h"

#include <omp.h>
#include <sentencepiece_processor.h>

#include <cmath>
#include <cstring>
#include <deque>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "loom/chat.h"
#include "loom/error.h"
#include "model/arch.h"
#include "model/gguf_export.h"
#include "model/gguf_mix.h"
#include "model/gguf_model.h"
#include "model/loaded_model.h"
#include "model/rope_freq.h"
#include "quant/blocks.h"
#include "quant/dtype_traits.h"
#include "quant/ggml_quantize.h"
#include "quant/ggml_repack.h"
#include "quant/quantize.h"
#include "simd/half.h"
#include "simd/kernels.h"
#include "simd/quant_kernels.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer/tokenizer_config.h"

namespace loom::model {
namespace fs = std::filesystem;
namespace {

using namespace detail::gguf_vocab;

struct Vocab {
  std::string model;  // "llama" or "gpt2"
  std::string pre;    // gpt2 only
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  std::vector<std::string> merges;
  bool add_bos = false;
};

// The pieces of a sentencepiece tokenizer.model, as llama.cpp's converter lists them.
Vocab sentencepiece_vocab(const fs::path& file, int vocab_size) {
  sentencepiece::SentencePieceProcessor sp;
  if (const auto status = sp.Load(file.string()); !status.ok()) {
    throw Error(file.string() + ": not a sentencepiece model (" + status.ToString() + ")");
  }
  Vocab v;
  v.model = "llama";
  v.add_bos = true;
  for (int i = 0; i < sp.GetPieceSize(); ++i) {
    v.tokens.push_back(sp.IdToPiece(i));
    v.scores.push_back(sp.GetScore(i));
    v.types.push_back(sp.IsUnknown(i)   ? Unknown
                      : sp.IsControl(i) ? Control
                      : sp.IsByte(i)    ? Byte
                      : sp.IsUnused(i)  ? Unused
                                        : Normal);
  }
  for (int i = sp.GetPieceSize(); i < vocab_size; ++i) {
    v.tokens.push_back("[PAD" + std::to_string(i) + "]");
    v.scores.push_back(-1000.0f);
    v.types.push_back(Unused);
  }
  return v;
}

// A byte-level BPE tokenizer.json (Llama 3, Qwen2/3, GPT-2), as llama.cpp's converter lists it.
Vocab json_vocab(const fs::path& file, int vocab_size) {
  std::ifstream in(file);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw Error(file.string() + ": " + e.what());
  }
  const nlohmann::json& m = j["model"];
  if (m.value("type", "BPE") != "BPE") {
    throw Error(file.string() + ": loom writes BPE tokenizer.json files to GGUF");
  }
  Vocab v;
  if (m.value("byte_fallback", false)) {
    // A sentencepiece model converted to tokenizer.json (TinyLlama, Mistral): its pieces, as
    // llama.cpp's converter lists them; a reader derives the merges from the pieces again, as
    // transformers did when it made this file.
    v.model = "llama";
    v.add_bos = true;
    v.tokens.assign(static_cast<size_t>(vocab_size), "");
    v.types.assign(static_cast<size_t>(vocab_size), Unused);
    for (const auto& [tok, id] : m["vocab"].items()) {
      const int i = id.get<int>();
      if (i < 0 || i >= vocab_size) throw Error(file.string() + ": token id " + std::to_string(i));
      v.tokens[i] = tok;
      const bool byte = tok.size() == 6 && tok.rfind("<0x", 0) == 0 && tok[5] == '>';
      v.types[i] = byte ? Byte : Normal;
    }
    for (const auto& a : j["added_tokens"]) {
      const int i = a["id"].get<int>();
      if (i < 0 || i >= vocab_size) throw Error(file.string() + ": token id " + std::to_string(i));
      v.tokens[i] = a["content"].get<std::string>();
      const bool unk =
          m.contains("unk_token") && m["unk_token"].is_string() && a["content"] == m["unk_token"];
      v.types[i] = unk ? Unknown : a.value("special", false) ? Control : UserDefined;
    }
    for (int i = 0; i < vocab_size; ++i) {
      if (v.types[i] == Unused) v.tokens[i] = "[PAD" + std::to_string(i) + "]";
      v.scores.push_back(-static_cast<float>(i));
    }
    return v;
  }
  v.model = "gpt2";
  const nlohmann::json& pre = j["pre_tokenizer"];
  std::string regex;
  if (pre.is_object() && pre.value("type", "") == "Sequence") {
    for (const auto& p : pre["pretokenizers"]) {
      if (p.value("type", "") == "Split") regex = p["pattern"].value("Regex", "");
    }
  }
  if (regex == kLlama3Regex) {
    v.pre = "llama-bpe";
  } else if (regex == kQwen2Regex) {
    v.pre = "qwen2";
  } else if (pre.is_object() && pre.value("type", "") == "ByteLevel" &&
             pre.value("use_regex", true)) {
    v.pre = "default";
  } else {
    throw Error(file.string() + ": a pre-tokenizer loom cannot name in GGUF (" + pre.dump() + ")");
  }
  v.tokens.assign(static_cast<size_t>(vocab_size), "");
  v.types.assign(static_cast<size_t>(vocab_size), Unused);
  for (const auto& [tok, id] : m["vocab"].items()) {
    const int i = id.get<int>();
    if (i < 0 || i >= vocab_size) throw Error(file.string() + ": token id " + std::to_string(i));
    v.tokens[i] = tok;
    v.types[i] = Normal;
  }
  for (const auto& a : j["added_tokens"]) {
    const int i = a["id"].get<int>();
    if (i < 0 || i >= vocab_size) throw Error(file.string() + ": token id " + std::to_string(i));
    v.tokens[i] = a["content"].get<std::string>();
    v.types[i] = a.value("special", false) ? Control : UserDefined;
  }
  for (int i = 0; i < vocab_size; ++i) {
    if (v.types[i] == Unused) v.tokens[i] = "[PAD" + std::to_string(i) + "]";
  }
  for (const auto& mg : m["merges"]) {
    v.merges.push_back(mg.is_string() ? mg.get<std::string>()
                                      : mg[0].get<std::string>() + " " + mg[1].get<std::string>());
  }
  const nlohmann::json& post = j["post_processor"];
  v.add_bos = post.is_object() && post.value("type", "") == "TemplateProcessing" &&
              !post["single"].empty() && post["single"][0].contains("SpecialToken");
  return v;
}

io::GgmlType ggml_type(DType t) {
  return static_cast<io::GgmlType>(quant::traits(t).ggml);
}

class Exporter {
 public:
  Exporter(const ModelConfig& c, std::optional<GgufFileType> type, bool tied, int threads)
      : c_(c),
        type_(type),
        tied_(tied),
        threads_(threads > 0 ? threads : omp_get_num_procs()),
        permute_(gguf_permutes_qk(gguf_arch_name(c.arch))) {}

  // The file row of transformers' row R (llama.cpp's converter's permutation of q and k).
  int64_t file_source(int64_t p) const {
    const int64_t hd = c_.head_dim, head = p / hd, in = p % hd;
    return head * hd + (in % 2) * (hd / 2) + in / 2;
  }

  // The type matrix HF of M is written in: as quantized at load, as stored, or by the rules.
  DType type_of(const std::string& hf, const ops::MatRef& m) const {
    if (is_quantized(m.dtype)) {
      if (m.dtype == DType::Q4_K && m.cols % 256 != 0) {
        throw Error("tensor '" + hf + "' is Q4_K with rows of " + std::to_string(m.cols) +
                    " weights; GGUF's Q4_K needs multiples of 256 (quantize it when writing)");
      }
      return m.dtype;
    }
    if (!type_) return m.dtype;
    int layer = -1;
    const MixRole role = mix_role(hf, tied_, layer);
    return mix_tensor_type(*type_, role, layer, c_.n_layers, m.cols);
  }

  void matrix(const std::string& hf, const ops::MatRef& m) {
    const bool qk = permute_ && (hf.ends_with("q_proj.weight") || hf.ends_with("k_proj.weight"));
    const DType out = type_of(hf, m);
    const io::GgmlTraits& tr = *io::ggml_traits(static_cast<uint32_t>(ggml_type(out)));
    const size_t out_row = static_cast<size_t>(m.cols / tr.elements) * tr.bytes;
    // Made when the writer reaches it, so that only one tensor's bytes are held at a time.
    w_.add_tensor(gguf_tensor_name(hf), ggml_type(out), {m.cols, m.rows}, out_row * m.rows,
                  [this, m, qk, out, out_row](uint8_t* dst) { rows(m, qk, out, out_row, dst); });
  }

  // M's rows as OUT, OUT_ROW bytes each, at DST (Q and K in the file's order when QK). Rows in
  // chunks across the threads; each row's bytes are a function of the row alone.
  void rows(const ops::MatRef& m, bool qk, DType out, size_t out_row, uint8_t* dst) const {
#pragma omp parallel num_threads(threads_)
    {
      std::vector<float> f32(m.cols);
      std::vector<uint8_t> q(is_quantized(out) ? row_bytes(out, m.cols) : 0);
#pragma omp for schedule(dynamic, 16)
      for (int r = 0; r < m.rows; ++r) {
        const uint8_t* src = static_cast<const uint8_t*>(m.row(qk ? file_source(r) : r));
        write_row(m.dtype, out, m.cols, src, dst + out_row * r, f32.data(), q.data());
      }
    }
  }

  // A row of COLS weights of FROM at SRC as OUT at DST (F32 and Q scratch rows given).
  static void write_row(DType from, DType out, int cols, const uint8_t* src, uint8_t* dst,
                        float* f32, uint8_t* q) {
    if (out == from && !is_quantized(out)) {
      std::memcpy(dst, src, row_bytes(out, cols));
      return;
    }
    if (out == from) {
      quant::to_ggml_row(out, src, static_cast<size_t>(cols) / quant::kBlock, dst);
      return;
    }
    simd::kernels().to_f32[static_cast<int>(from)](src, f32, cols);
    if (is_ggml_only(out)) {
      quant::quantize_row_ggml(out, f32, dst, cols);
    } else if (is_quantized(out)) {
      quant::quantize_row_fast(out, f32, q, cols);
      quant::to_ggml_row(out, q, static_cast<size_t>(cols) / quant::kBlock, dst);
    } else {
      for (int i = 0; i < cols; ++i) {
        if (out == DType::F32) {
          std::memcpy(dst + 4 * i, &f32[i], 4);
        } else {
          const uint16_t h =
              out == DType::F16 ? simd::f32_to_f16(f32[i]) : simd::f32_to_bf16(f32[i]);
          std::memcpy(dst + 2 * i, &h, 2);
        }
      }
    }
  }

  void vector(const std::string& hf, const std::vector<float>& v) {
    const bool qk = permute_ && (hf.ends_with("q_proj.bias") || hf.ends_with("k_proj.bias"));
    std::vector<uint8_t>& buf = bufs_.emplace_back(v.size() * 4);
    for (size_t i = 0; i < v.size(); ++i) {
      std::memcpy(buf.data() + 4 * i, &v[qk ? file_source(static_cast<int64_t>(i)) : i], 4);
    }
    w_.add_tensor(name_of(hf), io::GgmlType::F32, {static_cast<int64_t>(v.size())}, buf.data(),
                  buf.size());
  }

  std::string name_of(const std::string& hf) const {
    return gguf_tensor_name(hf);
  }

  io::GgufWriter w_;

 private:
  const ModelConfig& c_;
  std::optional<GgufFileType> type_;
  bool tied_;
  int threads_;
  bool permute_;
  std::deque<std::vector<uint8_t>> bufs_;  // the tensors' bytes until write()
};

}  // namespace

void write_gguf_tokenizer(io::GgufWriter& w, const fs::path& dir, int vocab_size, int bos,
                          int eos) {
  Vocab v = fs::exists(dir / "tokenizer.json")
                ? json_vocab(dir / "tokenizer.json", vocab_size)
                : sentencepiece_vocab(dir / "tokenizer.model", vocab_size);
  if (v.model == "llama") {
    // LlamaTokenizer's BOS follows tokenizer_config.json (default: add it).
    const detail::TokenizerConfig cfg = detail::read_tokenizer_config(dir);
    v.add_bos = cfg.add_bos_token.value_or(true);
    // Where transformers puts its "▁" (legacy: after special tokens too, as llama.cpp always
    // does). GGUF has no key for it; readers other than loom ignore this one.
    const detail::PrependScheme scheme = detail::llama_prepend_scheme(cfg);
    w.set_string("loom.tokenizer.prepend_scheme", scheme == detail::PrependScheme::Always ? "always"
                                                  : scheme == detail::PrependScheme::First
                                                      ? "first"
                                                      : "never");
  }
  w.set_string("tokenizer.ggml.model", v.model);
  if (!v.pre.empty()) w.set_string("tokenizer.ggml.pre", v.pre);
  w.set_string_array("tokenizer.ggml.tokens", v.tokens);
  if (!v.scores.empty()) w.set_f32_array("tokenizer.ggml.scores", v.scores);
  w.set_i32_array("tokenizer.ggml.token_type", v.types);
  if (!v.merges.empty()) w.set_string_array("tokenizer.ggml.merges", v.merges);
  if (bos >= 0) w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(bos));
  if (eos >= 0) w.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(eos));
  w.set_bool("tokenizer.ggml.add_bos_token", v.add_bos);
}

}  // namespace loom::model

namespace loom {
namespace fs = std::filesystem;
using namespace model;

std::vector<fs::path> write_gguf(const Model& model, const fs::path& out,
                                 std::optional<GgufFileType> type, int threads,
                                 uint64_t split_max_bytes) {
  const detail::LoadedModel& m = detail::loaded(model);
  const ModelConfig& c = m.config;
  if (m.dir.extension() == ".gguf") throw Error(m.dir.string() + " is a GGUF file already");
  const LlamaWeights& lw = m.weights;
  Exporter e(c, type, lw.lm_head.data == lw.embed.data, threads);
  io::GgufWriter& w = e.w_;
  const std::string a = gguf_arch_name(c.arch);
  w.set_string("general.architecture", a);
  w.set_string("general.name", m.dir.filename().string());
  // llama.cpp's llama_ftype: TYPE's, or that of the matrices' type.
  const DType main = lw.layers[0].wq.dtype;
  const uint32_t ftype = type && !is_quantized(main) ? gguf_ftype_number(*type)
                         : main == DType::F32        ? 0
                         : main == DType::F16        ? 1
                         : main == DType::Q4_0       ? 2
                         : main == DType::Q8_0       ? 7
                         : main == DType::Q4_K       ? 15
                                                     : 32;
  w.set_u32("general.file_type", ftype);
  w.set_u32(a + ".context_length", static_cast<uint32_t>(c.max_position_embeddings));
  w.set_u32(a + ".embedding_length", static_cast<uint32_t>(c.hidden_size));
  w.set_u32(a + ".block_count", static_cast<uint32_t>(c.n_layers));
  w.set_u32(a + ".feed_forward_length", static_cast<uint32_t>(c.intermediate_size));
  w.set_u32(a + ".attention.head_count", static_cast<uint32_t>(c.n_heads));
  w.set_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(c.n_kv_heads));
  w.set_u32(a + ".attention.key_length", static_cast<uint32_t>(c.head_dim));
  w.set_u32(a + ".attention.value_length", static_cast<uint32_t>(c.head_dim));
  w.set_f32(a + ".attention.layer_norm_rms_epsilon", c.rms_norm_eps);
  w.set_f32(a + ".rope.freq_base", c.rope.theta);
  w.set_u32(a + ".rope.dimension_count", static_cast<uint32_t>(c.head_dim));
  if (c.sliding_window > 0 && c.sliding_layers.empty()) {
    w.set_u32(a + ".attention.sliding_window", static_cast<uint32_t>(c.sliding_window));
  } else if (c.sliding_window > 0) {
    throw Error(m.dir.string() + ": sliding windows on some layers only cannot be written to GGUF");
  }
  std::vector<float> rope_freqs;
  switch (c.rope.scaling) {
    case RopeScalingType::None:
      break;
    case RopeScalingType::Linear:
      w.set_string(a + ".rope.scaling.type", "linear");
      w.set_f32(a + ".rope.scaling.factor", c.rope.factor);
      break;
    case RopeScalingType::Llama3: {
      // As llama.cpp's converter: the factor each base frequency is divided by.
      RopeConfig base = c.rope;
      base.scaling = RopeScalingType::None;
      const std::vector<float> plain = rope_inv_freq(base, c.head_dim);
      for (size_t i = 0; i < plain.size(); ++i) rope_freqs.push_back(plain[i] / m.inv_freq[i]);
      break;
    }
    case RopeScalingType::Yarn:
      w.set_string(a + ".rope.scaling.type", "yarn");
      w.set_f32(a + ".rope.scaling.factor", c.rope.factor);
      w.set_u32(a + ".rope.scaling.original_context_length",
                static_cast<uint32_t>(c.rope.original_max_position));
      w.set_f32(a + ".rope.scaling.attn_factor", c.rope.attention_factor);
      w.set_f32(a + ".rope.scaling.yarn_beta_fast", static_cast<float>(c.rope.beta_fast));
      w.set_f32(a + ".rope.scaling.yarn_beta_slow", static_cast<float>(c.rope.beta_slow));
      break;
    case RopeScalingType::Dynamic:
      throw Error(m.dir.string() +
                  ": dynamic NTK RoPE scaling has no GGUF form (llama.cpp does not run it)");
  }

  // The tokenizer and the chat template.
  model::write_gguf_tokenizer(w, m.dir, c.vocab_size, c.bos_token_id,
                              c.eos_token_ids.empty() ? -1 : c.eos_token_ids[0]);
  try {
    w.set_string("tokenizer.chat_template", ChatTemplate::load(m.dir).source());
  } catch (const Error&) {
    // No template: the file has none either.
  }

  // The tensors, in llama.cpp's order: embedding, layers, final norm, output.
  e.matrix("model.embed_tokens.weight", lw.embed);
  if (!rope_freqs.empty()) {
    w.add_tensor("rope_freqs.weight", io::GgmlType::F32, {static_cast<int64_t>(rope_freqs.size())},
                 rope_freqs.data(), rope_freqs.size() * 4);
  }
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (const LayerTensor& t : layer_tensors(c.arch)) {
      if (!present(t, c)) continue;
      if (t.kind == TensorKind::Matrix) {
        e.matrix(p + t.name, lw.layers[l].*t.matrix);
      } else {
        e.vector(p + t.name, lw.layers[l].*t.vector);
      }
    }
  }
  e.vector("model.norm.weight", lw.final_norm);
  // Tied embeddings quantized at load have a quantized copy for the head: written as
  // output.weight, as llama-quantize does when it quantizes the output differently.
  if (lw.lm_head.data != lw.embed.data) e.matrix("lm_head.weight", lw.lm_head);
  if (split_max_bytes == 0) {
    w.write(out);
    return {out};
  }
  // llama-gguf-split's names: OUT less its .gguf, then -0000i-of-0000N.gguf.
  const fs::path prefix = out.extension() == ".gguf" ? fs::path(out).replace_extension() : out;
  return w.write_split(prefix.string(), split_max_bytes);
}

}  // namespace loom
