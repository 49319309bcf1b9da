// A sentencepiece tokenizer.model turned into the tokenizer.json transformers 5 makes of it.
// transformers reads a folder that has only tokenizer.model by converting it (LlamaTokenizer over
// a BPE of the model's pieces, with merges derived from the pieces' scores), so its ids follow
// tokenizers' BPE, not sentencepiece's: sentencepiece splits its input at whitespace ("▁",
// "▁two"), the converted BPE does not ("▁▁" is a piece). Loom converts the same way and reads the
// result with its tokenizer.json machinery.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer_config.h"

namespace loom::detail {

// The tokenizer.json text for MODEL (a tokenizer.model) under CFG (the folder's
// tokenizer_config.json: legacy and add_prefix_space choose the Metaspace prefix, add_bos_token
// and add_eos_token the post-processor). Empty for a model that is not BPE (Unigram: read it
// with sentencepiece itself). Throws loom::Error for a file that is not a sentencepiece model.
std::optional<std::string> sentencepiece_to_tokenizer_json(const std::filesystem::path& model,
                                                           const TokenizerConfig& cfg);

// The same from the pieces themselves (a GGUF file's tokenizer.ggml.tokens): SPECIAL marks the
// control and unknown pieces; BOS and EOS are ids (-1: none).
std::string sentencepiece_pieces_to_tokenizer_json(const std::vector<std::string>& pieces,
                                                   const std::vector<bool>& special, int bos,
                                                   int eos, const TokenizerConfig& cfg);

// S as a JSON string literal, quotes included.
std::string json_string(std::string_view s);

}  // namespace loom::detail
