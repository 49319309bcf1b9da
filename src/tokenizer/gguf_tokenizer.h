// The tokenizer a GGUF file carries (tokenizer.ggml.*), read through the tokenizer.json
// machinery: "llama" (sentencepiece pieces) as transformers converts a tokenizer.model, "gpt2"
// (byte-level BPE with merges) with the pre-tokenizer tokenizer.ggml.pre names.
#pragma once

#include <memory>

#include "io/gguf.h"
#include "tokenizer/tokenizer_impl.h"

namespace loom::detail {

// Throws loom::Error naming the file and key: an unknown tokenizer model or pre-tokenizer,
// arrays of different lengths, an id outside the vocabulary.
std::unique_ptr<TokenizerImpl> load_gguf_tokenizer(const io::GgufFile& file, int bos_id);

}  // namespace loom::detail
