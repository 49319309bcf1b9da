// What GGUF's tokenizer.ggml metadata means, shared by the reader (gguf_tokenizer.cpp) and the
// writer (model/gguf_export.cpp): llama.cpp's token types and the pre-tokenizer regexes its
// converter names by tokenizer.ggml.pre (convert_hf_to_gguf.py's get_vocab_base_pre).
#pragma once

namespace loom::detail::gguf_vocab {

enum TokenType : int {
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6
};

inline constexpr const char* kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
inline constexpr const char* kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

}  // namespace loom::detail::gguf_vocab
