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

// A special token is written as a string or as {"__type": "AddedToken", "content": ...}.
std::optional<std::string> get_token(const nlohmann::json& j, const char* key,
                                     const fs::path& file) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto c = it->find("content");
    if (c != it->end() && c->is_string()) return c->get<std::string>();
  }
  throw Error(file.string() + ": key '" + key + "' must be a token (a string or an object with " +
              "\"content\"), got " + it->dump());
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
  c.names_add_bos_or_eos = j.contains("add_bos_token") || j.contains("add_eos_token");
  c.add_bos_token = get_bool(j, "add_bos_token", file);
  c.add_eos_token = get_bool(j, "add_eos_token", file);
  c.clean_up_tokenization_spaces = get_bool(j, "clean_up_tokenization_spaces", file);
  c.bos_token = get_token(j, "bos_token", file);
  c.eos_token = get_token(j, "eos_token", file);
  if (auto it = j.find("tokenizer_class"); it != j.end() && it->is_string()) {
    c.tokenizer_class = it->get<std::string>();
  }
  if (!j.contains("bos_token") || !j.contains("eos_token")) {
    const fs::path map_file = dir / "special_tokens_map.json";
    const nlohmann::json m = read_object(map_file);
    if (!j.contains("bos_token")) c.bos_token = get_token(m, "bos_token", map_file);
    if (!j.contains("eos_token")) c.eos_token = get_token(m, "eos_token", map_file);
  }
  return c;
}

}  // namespace loom::detail
