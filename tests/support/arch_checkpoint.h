// Small random-weight checkpoints of each architecture loom runs, in Hugging Face layout, written
// the same, byte for byte, on every machine: the goldens in tests/data/golden/ are transformers'
// outputs on these folders (scripts/make_arch_goldens.py), and tests write the folders again at
// test time instead of committing tens of megabytes of weights.
//
// Every weight is drawn from splitmix64, seeded by the checkpoint's and the tensor's names (so a
// tensor's values do not depend on which others exist), scaled so that the logits are O(1..10)
// and norm weights lie near 1, then rounded to the checkpoint's stored type. The tokenizer files
// are copied from ../shared/fixtures/tokenizers/.
//
// Only the standard library and nlohmann/json: tests/make_test_checkpoint.cpp builds from this
// header alone on the device machine.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/safetensors_writer.h"

namespace loom::test {

// One checkpoint: its config.json and generation_config.json, the tokenizer folder under
// fixtures/tokenizers/ whose files it takes, and the safetensors dtype of its weights.
struct ArchCheckpoint {
  std::string name;
  json config;
  json generation;
  std::string tokenizer;
  std::string dtype;  // "F32", "BF16" or "F16"
};

namespace arch_detail {

inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

inline uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

inline uint16_t to_bf16(float f) {  // round to nearest even; the values here are finite
  const uint32_t u = std::bit_cast<uint32_t>(f);
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

inline uint16_t to_f16(float f) {  // round to nearest even; |f| < 65504 here
  const uint32_t u = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const int exp = static_cast<int>((u >> 23) & 0xFFu) - 127 + 15;
  uint32_t mant = u & 0x7FFFFFu;
  if (exp >= 31) throw std::runtime_error("value out of f16 range");
  int shift = 13;
  uint32_t base = static_cast<uint32_t>(exp) << 10;
  if (exp <= 0) {  // a subnormal half: the implicit bit joins the mantissa
    if (exp < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    shift = 14 - exp;
    base = 0;
  }
  uint32_t half = base | (mant >> shift);
  const uint32_t rest = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
  if (rest > mid || (rest == mid && (half & 1u))) ++half;  // a carry moves into the exponent
  return static_cast<uint16_t>(sign | half);
}

// COUNT values CENTER + AMP * u, u uniform in [-1, 1), from the stream named SEED_NAME, stored as
// DTYPE.
inline std::string values(const std::string& seed_name, size_t count, float center, float amp,
                          const std::string& dtype) {
  uint64_t state = fnv1a(seed_name);
  const size_t esize = dtype == "F32" ? 4 : 2;
  std::string bytes(count * esize, '\0');
  for (size_t i = 0; i < count; ++i) {
    const double u = static_cast<double>(splitmix64(state) >> 40) * 0x1p-23 - 1.0;
    const float v = center + amp * static_cast<float>(u);
    if (dtype == "F32") {
      std::memcpy(&bytes[i * 4], &v, 4);
    } else {
      const uint16_t h = dtype == "BF16" ? to_bf16(v) : to_f16(v);
      std::memcpy(&bytes[i * 2], &h, 2);
    }
  }
  return bytes;
}

inline json llama_base(int vocab, int bos, const json& eos) {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"hidden_size", 64},
          {"intermediate_size", 128},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 4},
          {"num_key_value_heads", 2},
          {"head_dim", 16},
          {"vocab_size", vocab},
          {"max_position_embeddings", 2048},
          {"rms_norm_eps", 1e-5},
          {"rope_theta", 10000.0},
          {"hidden_act", "silu"},
          {"attention_bias", false},
          {"mlp_bias", false},
          {"tie_word_embeddings", false},
          {"bos_token_id", bos},
          {"eos_token_id", eos},
          {"initializer_range", 0.02},
          {"use_cache", true}};
}

inline json qwen_base(const std::string& type) {
  json c = {{"architectures", {type == "qwen3" ? "Qwen3ForCausalLM" : "Qwen2ForCausalLM"}},
            {"model_type", type},
            {"hidden_size", 64},
            {"intermediate_size", 128},
            {"num_hidden_layers", 2},
            {"num_attention_heads", 4},
            {"num_key_value_heads", 2},
            {"vocab_size", 151936},
            {"max_position_embeddings", 32768},
            {"rms_norm_eps", 1e-6},
            {"rope_theta", 1000000.0},
            {"hidden_act", "silu"},
            {"tie_word_embeddings", true},
            {"bos_token_id", 151643},
            {"eos_token_id", 151645},
            {"use_sliding_window", false},
            {"max_window_layers", 2},
            {"initializer_range", 0.02},
            {"use_cache", true}};
  return c;
}

}  // namespace arch_detail

// The names make_test_checkpoint and the goldens know, in a fixed order.
inline std::vector<std::string> arch_checkpoint_names() {
  return {"llama3", "qwen2", "qwen3", "mistral", "qwen2-yarn", "llama-dynamic", "llama-bias"};
}

inline ArchCheckpoint arch_checkpoint(const std::string& name) {
  using namespace arch_detail;
  ArchCheckpoint a{name, {}, {}, "", "BF16"};
  if (name == "llama3") {
    // Llama 3.2 in miniature: the real 128k tokenizer, tied embeddings, llama3 RoPE scaling whose
    // original context (64) is short enough that the scaled frequencies differ from the plain ones.
    a.config = llama_base(128256, 128000, 128001);
    a.config["tie_word_embeddings"] = true;
    a.config["rope_theta"] = 500000.0;
    a.config["max_position_embeddings"] = 1024;
    a.config["rope_scaling"] = {{"rope_type", "llama3"},
                                {"factor", 8.0},
                                {"low_freq_factor", 1.0},
                                {"high_freq_factor", 4.0},
                                {"original_max_position_embeddings", 64}};
    a.generation = {{"bos_token_id", 128000}, {"eos_token_id", {128001, 128008, 128009}}};
    a.tokenizer = "llama3";
  } else if (name == "qwen2" || name == "qwen2-yarn") {
    // q/k/v biases, no o bias. sliding_window is there as in real Qwen2.5 files but switched off
    // by use_sliding_window false, which transformers honours: small here, so an engine that
    // applied it would miss the goldens.
    a.config = qwen_base("qwen2");
    a.config["sliding_window"] = 8;
    if (name == "qwen2") {
      a.config["tie_word_embeddings"] = false;
    } else {
      // As Qwen2.5's long-context instructions have it: max_position_embeddings left at the
      // original context, which the yarn block repeats.
      a.config["max_position_embeddings"] = 64;
      a.config["rope_scaling"] = {
          {"type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 64}};
    }
    a.generation = {{"bos_token_id", 151643}, {"eos_token_id", {151645, 151643}}};
    a.tokenizer = "qwen3";
  } else if (name == "qwen3") {
    // Per-head q/k RMSNorm, and a head_dim (32) that is not hidden_size / heads (16).
    a.config = qwen_base("qwen3");
    a.config["num_hidden_layers"] = 3;
    a.config["max_window_layers"] = 3;
    a.config["head_dim"] = 32;
    a.config["attention_bias"] = false;
    a.config["sliding_window"] = nullptr;
    a.generation = {{"bos_token_id", 151643}, {"eos_token_id", {151645, 151643}}};
    a.tokenizer = "qwen3";
  } else if (name == "mistral") {
    // A window of 16 keys, shorter than the longer prompts; fp32 weights, untied head.
    a.config = llama_base(32000, 1, 2);
    a.config["architectures"] = {"MistralForCausalLM"};
    a.config["model_type"] = "mistral";
    a.config["sliding_window"] = 16;
    a.config["rope_theta"] = 1000000.0;
    a.config["max_position_embeddings"] = 32768;
    a.config.erase("attention_bias");
    a.config.erase("mlp_bias");
    a.generation = {{"bos_token_id", 1}, {"eos_token_id", 2}};
    a.tokenizer = "llama2-json";
    a.dtype = "F32";
  } else if (name == "llama-dynamic") {
    // Dynamic NTK scaling: prompts longer than max_position_embeddings (32) change the base.
    a.config = llama_base(32000, 1, 2);
    a.config["max_position_embeddings"] = 32;
    a.config["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}};
    a.generation = {{"bos_token_id", 1}, {"eos_token_id", 2}};
    a.tokenizer = "llama2-json";
  } else if (name == "llama-bias") {
    // Biases on q, k, v, o and on the MLP's three products; fp16 weights.
    a.config = llama_base(32000, 1, 2);
    a.config["attention_bias"] = true;
    a.config["mlp_bias"] = true;
    a.generation = {{"bos_token_id", 1}, {"eos_token_id", 2}};
    a.tokenizer = "llama2-json";
    a.dtype = "F16";
  } else if (name == "llama-mix" || name == "llama-mix-tied") {
    // Rows of 256 weights but ffn_down's 640 (whole 32-blocks, not 256-blocks: llama.cpp's
    // fallback types), and 8 layers, for loom-quantize's per-tensor rules (not in the goldens'
    // list: test_gguf_model compares its files' types with llama-quantize's).
    a.config = llama_base(32000, 1, 2);
    a.config["hidden_size"] = 256;
    a.config["intermediate_size"] = 640;
    a.config["num_hidden_layers"] = 8;
    a.config["head_dim"] = 64;
    a.config["tie_word_embeddings"] = name == "llama-mix-tied";
    a.generation = {{"bos_token_id", 1}, {"eos_token_id", 2}};
    a.tokenizer = "llama2-json";
    a.dtype = "F16";
  } else {
    throw std::runtime_error("no test checkpoint named '" + name + "'");
  }
  a.config["torch_dtype"] = a.dtype == "F32"    ? "float32"
                            : a.dtype == "BF16" ? "bfloat16"
                                                : "float16";
  return a;
}

// The checkpoint's tensors under transformers' names, with their values.
inline Tensors arch_tensors(const ArchCheckpoint& a) {
  using arch_detail::values;
  const json& c = a.config;
  const std::string type = c["model_type"];
  const int64_t h = c["hidden_size"], ff = c["intermediate_size"], vocab = c["vocab_size"];
  const int64_t heads = c["num_attention_heads"], kv_heads = c["num_key_value_heads"];
  const int64_t hd = c.contains("head_dim") ? c["head_dim"].get<int64_t>() : h / heads;
  const bool attn_bias = type == "qwen2" || c.value("attention_bias", false);
  const bool o_bias = type != "qwen2" && c.value("attention_bias", false);
  const bool mlp_bias = c.value("mlp_bias", false);

  Tensors t;
  auto add = [&](const std::string& n, std::vector<int64_t> shape, float center, float amp) {
    size_t count = 1;
    for (int64_t d : shape) count *= static_cast<size_t>(d);
    t[n] = Tensor{a.dtype, shape, values(a.name + "/" + n, count, center, amp, a.dtype)};
  };
  // Amplitudes: an embedding row of rms ~0.35 and normed activations of rms ~1 give logits of
  // standard deviation ~3 (largest ~10-15 over a 128k vocabulary) and attention scores of ~1-2.
  add("model.embed_tokens.weight", {vocab, h}, 0, 0.6f);
  for (int64_t i = 0; i < c["num_hidden_layers"].get<int64_t>(); ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", {h}, 1, 0.2f);
    add(p + "post_attention_layernorm.weight", {h}, 1, 0.2f);
    add(p + "self_attn.q_proj.weight", {heads * hd, h}, 0, 0.3f);
    add(p + "self_attn.k_proj.weight", {kv_heads * hd, h}, 0, 0.3f);
    add(p + "self_attn.v_proj.weight", {kv_heads * hd, h}, 0, 0.3f);
    add(p + "self_attn.o_proj.weight", {h, heads * hd}, 0, 0.3f);
    if (attn_bias) {
      add(p + "self_attn.q_proj.bias", {heads * hd}, 0, 0.5f);
      add(p + "self_attn.k_proj.bias", {kv_heads * hd}, 0, 0.5f);
      add(p + "self_attn.v_proj.bias", {kv_heads * hd}, 0, 0.5f);
    }
    if (o_bias) add(p + "self_attn.o_proj.bias", {h}, 0, 0.2f);
    if (type == "qwen3") {
      add(p + "self_attn.q_norm.weight", {hd}, 1, 0.5f);
      add(p + "self_attn.k_norm.weight", {hd}, 1, 0.5f);
    }
    add(p + "mlp.gate_proj.weight", {ff, h}, 0, 0.3f);
    add(p + "mlp.up_proj.weight", {ff, h}, 0, 0.3f);
    add(p + "mlp.down_proj.weight", {h, ff}, 0, 0.15f);
    if (mlp_bias) {
      add(p + "mlp.gate_proj.bias", {ff}, 0, 0.2f);
      add(p + "mlp.up_proj.bias", {ff}, 0, 0.2f);
      add(p + "mlp.down_proj.bias", {h}, 0, 0.2f);
    }
  }
  add("model.norm.weight", {h}, 1, 0.2f);
  if (!c.value("tie_word_embeddings", false)) add("lm_head.weight", {vocab, h}, 0, 0.6f);
  return t;
}

// Writes checkpoint NAME into DIR (created if missing): config.json, generation_config.json,
// model.safetensors and the tokenizer files of TOKENIZERS/<tokenizer>/.
inline void write_arch_checkpoint(const std::string& name, const fs::path& dir,
                                  const fs::path& tokenizers) {
  const ArchCheckpoint a = arch_checkpoint(name);
  fs::create_directories(dir);
  write_json(dir / "config.json", a.config);
  write_json(dir / "generation_config.json", a.generation);
  write_safetensors(dir / "model.safetensors", arch_tensors(a));
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
    const fs::path from = tokenizers / a.tokenizer / f;
    if (!fs::exists(from)) throw std::runtime_error("tokenizer file not found: " + from.string());
    fs::copy_file(from, dir / f, fs::copy_options::overwrite_existing);
    fs::permissions(dir / f, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add);
  }
}

}  // namespace loom::test
