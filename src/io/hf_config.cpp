#include "io/hf_config.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "loom/error.h"

namespace loom::io {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The largest dimension (and product of dimensions) a config may give: far below INT_MAX.
constexpr int64_t kMaxDim = int64_t{1} << 30;

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw Error("cannot read " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json parse(const std::string& text, const std::string& where) {
  try {
    json j = json::parse(text);
    if (!j.is_object()) throw Error(where + ": not a JSON object");
    return j;
  } catch (const json::exception& e) {
    throw Error(where + ": invalid JSON: " + e.what());
  }
}

// Reads keys of one JSON object, each message naming the file and key.
struct Keys {
  const json& j;
  std::string where;

  [[noreturn]] void fail(const std::string& key, const std::string& want) const {
    throw Error(where + ": key '" + key + "' " + want + ", got " + j.at(key).dump());
  }
  bool has(const std::string& key) const { return j.contains(key) && !j.at(key).is_null(); }
  int positive_int(const std::string& key) const {
    if (!j.contains(key)) throw Error(where + ": missing required key '" + key + "'");
    const json& v = j.at(key);
    if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > kMaxDim) {
      fail(key, "must be a positive integer");
    }
    return v.get<int>();
  }
  int positive_int_or(const std::string& key, int dflt) const {
    return has(key) ? positive_int(key) : dflt;
  }
  float positive_float_or(const std::string& key, float dflt) const {
    if (!has(key)) return dflt;
    const json& v = j.at(key);
    // Range-checked as a double: a double beyond float's range does not convert to a float.
    const double d = v.is_number() ? v.get<double>() : 0.0;
    if (!(d > 0) || d > std::numeric_limits<float>::max() || static_cast<float>(d) == 0.0f) {
      fail(key, "must be a positive number within float range");
    }
    return static_cast<float>(d);
  }
  bool bool_or(const std::string& key, bool dflt) const {
    if (!has(key)) return dflt;
    if (!j.at(key).is_boolean()) fail(key, "must be true or false");
    return j.at(key).get<bool>();
  }
  std::string string_or(const std::string& key, const std::string& dflt) const {
    if (!has(key)) return dflt;
    if (!j.at(key).is_string()) fail(key, "must be a string");
    return j.at(key).get<std::string>();
  }
  // A token id or a list of them (eos_token_id), each in [0, vocab); empty if absent.
  std::vector<int> token_ids(const std::string& key, int vocab) const {
    std::vector<int> out;
    if (!has(key)) return out;
    const json& v = j.at(key);
    if (!v.is_number_integer() && !v.is_array()) {
      fail(key, "must be a token id or a list of token ids");
    }
    for (const json& e : v.is_array() ? v : json::array({v})) {
      if (!e.is_number_integer()) fail(key, "must be a token id or a list of token ids");
      // Compared before narrowing, so 2^32 + 2 cannot pass as token 2.
      const bool in_vocab = e.is_number_unsigned()
                                ? e.get<uint64_t>() < static_cast<uint64_t>(vocab)
                                : e.get<int64_t>() >= 0 && e.get<int64_t>() < vocab;
      if (!in_vocab) {
        throw Error(where + ": " + key + " " + e.dump() + " is outside the vocabulary [0, " +
                    std::to_string(vocab) + ")");
      }
      out.push_back(e.get<int>());
    }
    return out;
  }
};

// A number in [lo, hi] (open at lo when LO_OPEN), or empty when the key is absent.
std::optional<float> number_in(const Keys& k, const std::string& key, double lo, bool lo_open,
                               double hi, const std::string& range) {
  if (!k.has(key)) return std::nullopt;
  const json& v = k.j.at(key);
  const double d = v.is_number() ? v.get<double>() : std::nan("");
  if (!(d >= lo) || (lo_open && d == lo) || !(d <= hi)) k.fail(key, "must be a number in " + range);
  return static_cast<float>(d);
}

// The sampling keys of generation_config.json.
GenerationConfig read_generation(const Keys& k) {
  GenerationConfig g;
  constexpr double kBig = 1e30;
  g.do_sample = k.bool_or("do_sample", false);
  g.temperature = number_in(k, "temperature", 0, false, kBig, "[0, inf)");
  g.top_p = number_in(k, "top_p", 0, true, 1, "(0, 1]");
  g.min_p = number_in(k, "min_p", 0, false, 1, "[0, 1]");
  g.typical_p = number_in(k, "typical_p", 0, true, 1, "(0, 1]");
  g.repetition_penalty = number_in(k, "repetition_penalty", 0, true, kBig, "(0, inf)");
  if (k.has("top_k")) {
    const json& v = k.j.at("top_k");
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX) {
      k.fail("top_k", "must be an integer >= 0");
    }
    g.top_k = v.get<int>();
  }
  for (const char* key :
       {"do_sample", "temperature", "top_p", "min_p", "typical_p", "repetition_penalty", "top_k"}) {
    g.has_sampling_keys |= k.has(key);
  }
  return g;
}

// bos_token_id and eos_token_id where K's file has them (a later file overrides an earlier one),
// each checked against the vocabulary so the message names the file that holds the bad id.
void read_special_ids(const Keys& k, ModelConfig& c) {
  if (k.has("bos_token_id")) {
    const std::vector<int> bos = k.token_ids("bos_token_id", c.vocab_size);
    if (bos.empty()) k.fail("bos_token_id", "must be a token id");
    c.bos_token_id = bos[0];
  }
  std::vector<int> eos = k.token_ids("eos_token_id", c.vocab_size);
  if (!eos.empty()) c.eos_token_ids = std::move(eos);
}

DType parse_dtype(const Keys& k) {
  std::string key = k.has("dtype") ? "dtype" : "torch_dtype";
  std::string s = k.string_or(key, "float32");
  if (s == "float32") return DType::F32;
  if (s == "float16") return DType::F16;
  if (s == "bfloat16") return DType::BF16;
  k.fail(key, "must be float32, float16 or bfloat16");
}

// Which layers attend through a window, as transformers' configs decide it. Mistral: every
// layer, sliding_window defaulting to 4096 when absent and off when null. Qwen2/Qwen3: only with
// use_sliding_window true (window 4096 when absent), on the layers layer_types marks
// "sliding_attention", else on layers >= max_window_layers (28 when absent). Llama: none.
void parse_sliding_window(const Keys& k, ModelConfig& c) {
  const bool qwen = c.model_type == "qwen2" || c.model_type == "qwen3";
  if (c.model_type != "mistral" && !(qwen && k.bool_or("use_sliding_window", false))) return;
  if (!k.j.contains("sliding_window")) {
    c.sliding_window = 4096;
  } else if (k.has("sliding_window")) {
    c.sliding_window = k.positive_int("sliding_window");
  }
  if (!qwen || c.sliding_window == 0) return;
  c.sliding_layers.assign(c.n_layers, false);
  if (k.has("layer_types")) {
    const json& types = k.j.at("layer_types");
    if (!types.is_array() || types.size() != static_cast<size_t>(c.n_layers)) {
      k.fail("layer_types",
             "must be a list of num_hidden_layers (" + std::to_string(c.n_layers) + ") strings");
    }
    for (int l = 0; l < c.n_layers; ++l) {
      const json& t = types[l];
      if (t != "sliding_attention" && t != "full_attention") {
        throw Error(k.where + ": layer_types[" + std::to_string(l) + "] is " + t.dump() +
                    " (want \"full_attention\" or \"sliding_attention\")");
      }
      c.sliding_layers[l] = t == "sliding_attention";
    }
  } else {
    int first = 28;
    if (k.has("max_window_layers")) {
      const json& v = k.j.at("max_window_layers");
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > kMaxDim) {
        k.fail("max_window_layers", "must be an integer >= 0");
      }
      first = v.get<int>();
    }
    for (int l = first; l < c.n_layers; ++l) c.sliding_layers[l] = true;
  }
}

// YaRN as transformers' _compute_yarn_parameters reads it: factor (else max_position_embeddings
// over the original), original_max_position_embeddings (else max_position_embeddings),
// beta_fast/beta_slow (0 or absent: 32 and 1), truncate, and the attention factor: given, or
// mscale(factor, mscale) / mscale(factor, mscale_all_dim) when both are non-zero, else
// mscale(factor, 1), with mscale(s, m) = 0.1 m ln(s) + 1 (1 where s <= 1).
void parse_yarn(const Keys& rk, ModelConfig& c) {
  RopeConfig& r = c.rope;
  r.scaling = RopeScalingType::Yarn;
  r.original_max_position =
      rk.positive_int_or("original_max_position_embeddings", c.max_position_embeddings);
  // Python floats (doubles) where transformers keeps them so.
  auto or_default = [&](const char* key, double dflt) {
    if (!number_in(rk, key, 0, false, 1e30, "[0, inf)")) return dflt;
    const double v = rk.j.at(key).get<double>();
    return v != 0 ? v : dflt;
  };
  const double factor =
      rk.has("factor") ? (rk.positive_float_or("factor", 1.0f), rk.j.at("factor").get<double>())
                       : static_cast<double>(c.max_position_embeddings) / r.original_max_position;
  r.factor = static_cast<float>(factor);
  r.beta_fast = or_default("beta_fast", 32.0);
  r.beta_slow = or_default("beta_slow", 1.0);
  r.truncate = rk.bool_or("truncate", true);
  auto mscale = [&](double m) { return factor <= 1 ? 1.0 : 0.1 * m * std::log(factor) + 1.0; };
  if (rk.has("attention_factor")) {
    r.attention_factor = rk.positive_float_or("attention_factor", 1.0f);
  } else {
    const double m = or_default("mscale", 0), m_all = or_default("mscale_all_dim", 0);
    // In double, as Python computes it; cos and sin are scaled by it in fp32.
    r.attention_factor =
        static_cast<float>(m != 0 && m_all != 0 ? mscale(m) / mscale(m_all) : mscale(1.0));
  }
}

// rope_scaling (transformers 4.x) or rope_parameters (transformers 5.x).
void parse_rope(const Keys& k, ModelConfig& c) {
  c.rope.theta = k.positive_float_or("rope_theta", 10000.0f);
  std::string key;
  if (k.has("rope_parameters")) key = "rope_parameters";
  if (k.has("rope_scaling")) key = "rope_scaling";
  if (key.empty()) return;
  const json& r = k.j.at(key);
  if (!r.is_object()) k.fail(key, "must be an object or null");
  Keys rk{r, k.where + ": " + key};
  if (rk.has("rope_theta")) c.rope.theta = rk.positive_float_or("rope_theta", c.rope.theta);
  std::string type_key = rk.has("rope_type") ? "rope_type" : "type";
  std::string type = rk.string_or(type_key, "default");
  if (type == "default") {
    c.rope.scaling = RopeScalingType::None;
  } else if (type == "linear") {
    c.rope.scaling = RopeScalingType::Linear;
    c.rope.factor = rk.positive_float_or("factor", 1.0f);
  } else if (type == "llama3") {
    c.rope.scaling = RopeScalingType::Llama3;
    c.rope.factor = rk.positive_float_or("factor", 8.0f);
    c.rope.low_freq_factor = rk.positive_float_or("low_freq_factor", 1.0f);
    c.rope.high_freq_factor = rk.positive_float_or("high_freq_factor", 4.0f);
    c.rope.original_max_position = rk.positive_int("original_max_position_embeddings");
    if (!(c.rope.high_freq_factor > c.rope.low_freq_factor)) {
      throw Error(rk.where + ": high_freq_factor must be larger than low_freq_factor");
    }
  } else if (type == "yarn") {
    parse_yarn(rk, c);
  } else if (type == "dynamic") {
    // NTK-aware: the base grows with the sequence beyond max_position_embeddings (rope_freq.h).
    c.rope.scaling = RopeScalingType::Dynamic;
    c.rope.factor = rk.positive_float_or("factor", 0.0f);
    if (!rk.has("factor")) throw Error(rk.where + ": missing required key 'factor'");
    c.rope.original_max_position = c.max_position_embeddings;
  } else {
    throw Error(rk.where + ": rope type '" + type +
                "' is not supported (supported: default, linear, llama3, yarn, dynamic)");
  }
}

// The architectures loom runs, as config.json names them: model_type and the class in
// "architectures".
struct ArchNames {
  Arch arch;
  const char* model_type;
  const char* hf_class;
};
constexpr ArchNames kArchs[] = {
    {Arch::Llama, "llama", "LlamaForCausalLM"},
    {Arch::Mistral, "mistral", "MistralForCausalLM"},
    {Arch::Qwen2, "qwen2", "Qwen2ForCausalLM"},
    {Arch::Qwen3, "qwen3", "Qwen3ForCausalLM"},
};

// "a, b, c and d" of each architecture's FIELD.
std::string arch_list(const char* ArchNames::*field) {
  std::string out;
  for (size_t i = 0; i < std::size(kArchs); ++i) {
    if (i > 0) out += i + 1 == std::size(kArchs) ? " and " : ", ";
    out += kArchs[i].*field;
  }
  return out;
}

// model_type, or where it is absent the class in "architectures" (each must be supported).
void read_arch(const Keys& k, ModelConfig& c) {
  const std::string model_type = k.string_or("model_type", "");
  const ArchNames* by_class = nullptr;
  if (k.has("architectures")) {
    if (!k.j["architectures"].is_array()) k.fail("architectures", "must be a list");
    for (const json& a : k.j["architectures"]) {
      for (const ArchNames& n : kArchs) {
        if (a == n.hf_class && !by_class) by_class = &n;
      }
    }
    if (!by_class) {
      throw Error(k.where + ": unsupported architecture " + k.j["architectures"].dump() +
                  " (loom runs " + arch_list(&ArchNames::hf_class) + ")");
    }
  }
  const ArchNames* by_type = nullptr;
  for (const ArchNames& n : kArchs) {
    if (model_type == n.model_type) by_type = &n;
  }
  if (!by_type && !(model_type.empty() && by_class)) {
    throw Error(k.where + ": unsupported architecture: model_type '" + model_type +
                "' (loom runs model_type " + arch_list(&ArchNames::model_type) + ")");
  }
  c.arch = (by_type ? by_type : by_class)->arch;
  c.model_type = arch_name(c.arch);
}

// What the architecture adds to Llama's layer, as transformers reads it: Llama's and Qwen3's
// attention_bias, Llama's mlp_bias; Qwen2's q/k/v biases and Qwen3's q/k norms are fixed (their
// configs' bias keys are not read).
void read_layer_flags(const Keys& k, ModelConfig& c) {
  c.attention_bias = c.arch == Arch::Qwen2 || ((c.arch == Arch::Llama || c.arch == Arch::Qwen3) &&
                                               k.bool_or("attention_bias", false));
  c.mlp_bias = c.arch == Arch::Llama && k.bool_or("mlp_bias", false);
  c.qk_norm = c.arch == Arch::Qwen3;
}

}  // namespace

ModelConfig parse_hf_config(const std::string& config_json, const std::string& where,
                            const std::string& generation_json,
                            const std::string& generation_where) {
  const json j = parse(config_json, where);
  Keys k{j, where};
  ModelConfig c;

  read_arch(k, c);

  c.hidden_size = k.positive_int("hidden_size");
  c.intermediate_size = k.positive_int("intermediate_size");
  c.n_layers = k.positive_int("num_hidden_layers");
  c.n_heads = k.positive_int("num_attention_heads");
  c.n_kv_heads = k.positive_int_or("num_key_value_heads", c.n_heads);
  c.vocab_size = k.positive_int("vocab_size");
  c.max_position_embeddings = k.positive_int_or("max_position_embeddings", 2048);
  c.rms_norm_eps = k.positive_float_or("rms_norm_eps", 1e-6f);
  c.tie_word_embeddings = k.bool_or("tie_word_embeddings", false);
  c.dtype = parse_dtype(k);
  if (c.n_heads % c.n_kv_heads != 0) {
    throw Error(where + ": num_attention_heads (" + std::to_string(c.n_heads) +
                ") is not a multiple of num_key_value_heads (" + std::to_string(c.n_kv_heads) +
                ")");
  }
  if (k.has("head_dim")) {
    c.head_dim = k.positive_int("head_dim");
  } else if (c.arch == Arch::Qwen3) {
    c.head_dim = 128;  // Qwen3Config's default, whatever hidden_size / num_attention_heads is
  } else {
    if (c.hidden_size % c.n_heads != 0) {
      throw Error(where + ": hidden_size (" + std::to_string(c.hidden_size) +
                  ") is not a multiple of num_attention_heads (" + std::to_string(c.n_heads) +
                  ") and no head_dim is given");
    }
    c.head_dim = c.hidden_size / c.n_heads;
  }
  const std::string head_dim_src =
      k.has("head_dim") ? "head_dim" : "hidden_size / num_attention_heads";
  if (c.head_dim % 2 != 0) {
    throw Error(where + ": head_dim (" + head_dim_src + ") is " + std::to_string(c.head_dim) +
                ", which is not even (RoPE rotates pairs)");
  }
  // The query width is formed in int everywhere: keep it far from overflowing.
  if (int64_t{c.n_heads} * c.head_dim > kMaxDim) {
    throw Error(where + ": num_attention_heads (" + std::to_string(c.n_heads) + ") * head_dim (" +
                std::to_string(c.head_dim) + ") is too large");
  }

  const std::string act = k.string_or("hidden_act", "silu");
  if (act != "silu") {
    throw Error(where + ": hidden_act '" + act + "' is not supported (loom runs silu)");
  }
  read_layer_flags(k, c);
  if (k.has("quantization_config")) {
    throw Error(where + ": quantization_config is present (a GPTQ/AWQ/bitsandbytes checkpoint); " +
                "loom reads f32, f16 and bf16 weights and quantizes them itself");
  }
  parse_sliding_window(k, c);
  parse_rope(k, c);

  read_special_ids(k, c);
  if (!generation_json.empty()) {
    const json g = parse(generation_json, generation_where);
    read_special_ids(Keys{g, generation_where}, c);
    c.generation = read_generation(Keys{g, generation_where});
  }
  return c;
}

ModelConfig read_hf_config_file(const fs::path& config_json) {
  if (!fs::exists(config_json)) throw Error("config file not found: " + config_json.string());
  return parse_hf_config(read_text(config_json), config_json.string());
}

ModelConfig read_hf_config(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw Error("model folder not found: " + dir.string());
  const fs::path cfg = dir / "config.json";
  if (!fs::exists(cfg)) throw Error("no config.json in " + dir.string());
  const fs::path gen = dir / "generation_config.json";
  std::string gen_text = fs::exists(gen) ? read_text(gen) : "";
  return parse_hf_config(read_text(cfg), cfg.string(), gen_text, gen.string());
}

}  // namespace loom::io

namespace loom {

const char* arch_name(Arch a) {
  for (const io::ArchNames& n : io::kArchs) {
    if (n.arch == a) return n.model_type;
  }
  return "?";
}

}  // namespace loom
