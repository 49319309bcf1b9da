// What tokenizer_config.json says about special tokens and decoding.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace loom::detail {

struct TokenizerConfig {
  std::optional<bool> add_bos_token;  // empty when the key is absent or null
  std::optional<bool> add_eos_token;
  // Whether the file names add_bos_token or add_eos_token at all (transformers then rebuilds the
  // post-processor from the two flags).
  bool names_add_bos_or_eos = false;
  std::optional<std::string> bos_token;  // the content, also when written as an AddedToken object
  std::optional<std::string> eos_token;
  // transformers' default when the key is absent is true for most classes; the caller decides.
  std::optional<bool> clean_up_tokenization_spaces;
  std::string tokenizer_class;
};

// Reads DIR/tokenizer_config.json, taking bos_token and eos_token from
// DIR/special_tokens_map.json where the config does not name them (as transformers does); absent
// files give an empty config. Throws loom::Error for malformed JSON or a key of the wrong type,
// naming the file and the key.
TokenizerConfig read_tokenizer_config(const std::filesystem::path& dir);

}  // namespace loom::detail
