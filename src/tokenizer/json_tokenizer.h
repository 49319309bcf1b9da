// loom::Tokenizer over a Hugging Face tokenizer.json, read as transformers' fast tokenizer
// (tokenizers) reads it, with tokenizer_config.json's settings applied where transformers
// applies them.
#pragma once

#include <filesystem>
#include <memory>

#include "tokenizer/tokenizer_config.h"
#include "tokenizer/tokenizer_impl.h"

namespace loom::detail {

std::unique_ptr<TokenizerImpl> load_json_tokenizer(const std::filesystem::path& dir, int bos_id);

// DIR/tokenizer.model read as transformers 5 reads a folder without tokenizer.json: converted to
// a tokenizer.json (sentencepiece_convert.h). Null for a model that is not BPE.
std::unique_ptr<TokenizerImpl> load_converted_sentencepiece(const std::filesystem::path& dir,
                                                            int bos_id);

// JSON (a tokenizer.json's text, made from another format) under CFG; NAME is what messages call
// it.
std::unique_ptr<TokenizerImpl> load_tokenizer_json_text(const std::string& json,
                                                        const std::filesystem::path& name,
                                                        int bos_id, const TokenizerConfig& cfg);

}  // namespace loom::detail
