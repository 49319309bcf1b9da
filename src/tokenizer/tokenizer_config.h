// What tokenizer_config.json says about special tokens and decoding.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
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

// Whether transformers reads the folder as LlamaTokenizer (LlamaTokenizerFast is an alias).
bool is_llama_class(std::string_view tokenizer_class);

// The tokens transformers treats as special beyond tokenizer.json's own: the named ones the
// config sets, the class's defaults for those it does not (GemmaTokenizer's __init__ defaults
// mask_token to "<mask>", which Gemma 3's config does not mention), and the extra ones.
// transformers re-adds them all to its tokenizer as special, so decode(skip_special_tokens)
// drops them even where tokenizer.json says "special": false.
std::vector<std::string> config_special_tokens(const TokenizerConfig& cfg);

// The prepend scheme of the Metaspace pre-tokenizer transformers' LlamaTokenizer builds: "▁" at
// the text's start only (First) unless the config says legacy: true (Always, after every special
// token too), and not at all with add_prefix_space: false (Never).
enum class PrependScheme { Always, First, Never };
PrependScheme llama_prepend_scheme(const TokenizerConfig& cfg);

// The "pre_tokenizer" and "decoder" members (no braces around them) of the pipeline
// LlamaTokenizer builds for CFG: Metaspace ("▁", no split, llama_prepend_scheme) and
// Replace("▁", " "), ByteFallback, Fuse, then Strip(1 leading space) unless the scheme is Never.
std::string llama_pipeline_json(const TokenizerConfig& cfg);

}  // namespace loom::detail
