// The parts of loom::write_gguf (include/loom/model.h) that tests use on their own.
#pragma once

#include <filesystem>

#include "io/gguf.h"

namespace loom::model {

// DIR's tokenizer (tokenizer.json, else tokenizer.model) as tokenizer.ggml.* metadata, the way
// llama.cpp's converter writes it: VOCAB_SIZE tokens (padding past the tokenizer's own), BOS and
// EOS ids (-1: none), add_bos_token as the tokenizer adds BOS.
void write_gguf_tokenizer(io::GgufWriter& w, const std::filesystem::path& dir, int vocab_size,
                          int bos, int eos);

}  // namespace loom::model
