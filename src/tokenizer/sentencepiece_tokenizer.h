// loom::Tokenizer over a sentencepiece tokenizer.model (Llama 2 and its kin).
#pragma once

#include <filesystem>
#include <memory>

#include "tokenizer/tokenizer_impl.h"

namespace loom::detail {

// Loads DIR/tokenizer.model; add_bos_token from DIR/tokenizer_config.json when present.
std::unique_ptr<TokenizerImpl> load_sentencepiece_tokenizer(const std::filesystem::path& dir,
                                                            int bos_id);

}  // namespace loom::detail
