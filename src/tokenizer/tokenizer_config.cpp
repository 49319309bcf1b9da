#include "tokenizer/tokenizer_config.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "loom/error.h"

namespace loom::detail {
namespace fs = std::filesystem;

namespace {

std::optional<bool> get_bool(const nlohmann::json& j, const char* key, const fs::path& file) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) {
    throw Error(file.string() + ": key '" + key + "' must be true or false, got " + it->dump());
  }
  return it->get<bool>();
}

// A special token is written as a string or as {"__type": "AddedToken", "content": ...}; WHERE
// names the key for errors.
std::string token_of(const nlohmann::json& v, const std::string& where, const fs::path& file) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object()) {
    auto c = v.find("content");
    if (c != v.end() && c->is_string()) return c->get<std::string>();
  }
  throw Error(file.string() + ": key '" + where + "' must be a token (a string or an object with " +
              "\"content\"), got " + v.dump());
}

std::optional<std::string> get_token(const nlohmann::json& j, const char* key,
                                     const fs::path& file) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return token_of(*it, key, file);
}

}  // namespace

namespace {
// FILE's JSON object, or an empty object when FILE does not exist.
nlohmann::json read_object(const fs::path& file) {
  if (!fs::exists(file)) return nlohmann::json::object();
  std::ifstream in(file);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(file.string() + ": invalid JSON: " + e.what());
  }
  if (!j.is_object()) throw Error(file.string() + ": not a JSON object");
  return j;
}
}  // namespace

TokenizerConfig read_tokenizer_config(const fs::path& dir) {
  TokenizerConfig c;
  const fs::path file = dir / "tokenizer_config.json";
  const nlohmann::json j = read_object(file);
  c.add_bos_token = get_bool(j, "add_bos_token", file);
  c.add_eos_token = get_bool(j, "add_eos_token", file);
  if (auto it = j.find("tokenizer_class"); it != j.end() && it->is_string()) {
    c.tokenizer_class = it->get<std::string>();
  }
  c.legacy = get_bool(j, "legacy", file);
  c.add_prefix_space = get_bool(j, "add_prefix_space", file);

  // The named special tokens; special_tokens_map.json speaks for the keys the config lacks.
  const fs::path map_file = dir / "special_tokens_map.json";
  const nlohmann::json m = read_object(map_file);
  const auto named = [&](const char* key) {
    return j.contains(key) ? get_token(j, key, file) : get_token(m, key, map_file);
  };
  c.bos_token = named("bos_token");
  c.eos_token = named("eos_token");
  for (const char* key : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                          "cls_token", "mask_token"}) {
    if (j.contains(key) || m.contains(key)) c.named_tokens[key] = named(key);
  }
  for (const char* key : {"additional_special_tokens", "extra_special_tokens"}) {
    const nlohmann::json& src = j.contains(key) ? j : m;
    auto it = src.find(key);
    if (it == src.end() || it->is_null()) continue;
    const fs::path& from = &src == &j ? file : map_file;
    if (!it->is_array() && !it->is_object()) {
      throw Error(from.string() + ": key '" + key +
                  "' must be a list of tokens or an object of named tokens, got " + it->dump());
    }
    for (auto e = it->begin(); e != it->end(); ++e) {
      std::string where = key;
      if (it->is_array()) {
        where.append("[").append(std::to_string(e - it->begin())).append("]");
      } else {
        where.append(".").append(e.key());
      }
      c.extra_special_tokens.push_back(token_of(*e, where, from));
    }
  }
  return c;
}

bool is_llama_class(std::string_view tokenizer_class) {
  return tokenizer_class == "LlamaTokenizer" || tokenizer_class == "LlamaTokenizerFast";
}

std::vector<std::string> config_special_tokens(const TokenizerConfig& cfg) {
  using Defaults = std::vector<std::pair<const char*, const char*>>;
  static const Defaults kGemma = {{"unk_token", "<unk>"},
                                  {"bos_token", "<bos>"},
                                  {"eos_token", "<eos>"},
                                  {"pad_token", "<pad>"},
                                  {"mask_token", "<mask>"}};
  static const Defaults kLlama = {
      {"unk_token", "<unk>"}, {"bos_token", "<s>"}, {"eos_token", "</s>"}};
  static const Defaults kNone;
  const Defaults& defaults =
      cfg.tokenizer_class == "GemmaTokenizer" || cfg.tokenizer_class == "GemmaTokenizerFast"
          ? kGemma
      : is_llama_class(cfg.tokenizer_class) ? kLlama
                                            : kNone;
  std::vector<std::string> out;
  for (const auto& [key, t] : cfg.named_tokens) {
    if (t) out.push_back(*t);
  }
  for (const auto& [key, t] : defaults) {
    if (!cfg.named_tokens.contains(key)) out.emplace_back(t);
  }
  out.insert(out.end(), cfg.extra_special_tokens.begin(), cfg.extra_special_tokens.end());
  return out;
}

std::string llama_pipeline_json(const TokenizerConfig& cfg) {
  const PrependScheme p = llama_prepend_scheme(cfg);
  const bool prefix = p != PrependScheme::Never;
  const char* scheme = p == PrependScheme::Always ? "always" : prefix ? "first" : "never";
  std::string json = R"("pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", )";
  json += R"("prepend_scheme": ")" + std::string(scheme) + R"(", "split": false}, )";
  json += R"("decoder": {"type": "Sequence", "decoders": [)";
  json += R"({"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, )";
  json += R"({"type": "ByteFallback"}, {"type": "Fuse"})";
  if (prefix) json += R"(, {"type": "Strip", "content": " ", "start": 1, "stop": 0})";
  return json + "]}";
}

PrependScheme llama_prepend_scheme(const TokenizerConfig& cfg) {
  if (!cfg.add_prefix_space.value_or(true)) return PrependScheme::Never;
  return cfg.legacy.value_or(false) ? PrependScheme::Always : PrependScheme::First;
}

}  // namespace loom::detail
