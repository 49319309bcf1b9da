// What tokenizer_config.json says about special tokens and decoding.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace loom::detail {

struct TokenizerConfig {
  std::optional<bool> add_bos_token;  // empty when the key is absent or null
  std::optional<bool> add_eos_token;
  std::optional<std::string> bos_token;  // the content, also when written as an AddedToken object
  std::optional<std::string> eos_token;
  std::string tokenizer_class;
  // LlamaTokenizer's options (empty when absent or null): see json_tokenizer.cpp.
  std::optional<bool> legacy;
  std::optional<bool> add_prefix_space;
  // The named special tokens the config (or special_tokens_map.json) sets, by key (bos_token,
  // eos_token, unk_token, sep_token, pad_token, cls_token, mask_token); null ones as empty. A key
  // absent here takes the default of transformers' tokenizer class.
  std::map<std::string, std::optional<std::string>> named_tokens;
  // additional_special_tokens and extra_special_tokens (a list, or an object whose values are
  // tokens).
  std::vector<std::string> extra_special_tokens;
};

// Reads DIR/tokenizer_config.json, taking bos_token and eos_token from
// DIR/special_tokens_map.json where the config does not name them (as transformers does); absent
// files give an empty config. Throws loom::Error for malformed JSON or a key of the wrong type,
// naming the file and the key.
TokenizerConfig read_tokenizer_config(const std::filesystem::path& dir);

}  // namespace loom::detail
