// Text <-> token ids, through the folder's tokenizer: a Hugging Face tokenizer.json (read as
// transformers' fast tokenizer reads it) or a sentencepiece tokenizer.model.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#pragma GCC visibility push(default)  // the public API: what libloom.so exports
namespace loom {

namespace detail {
class TokenizerImpl;
}

struct TokenizerOptions {
  // Auto: tokenizer.json when the folder has one (as transformers' AutoTokenizer picks it), else
  // tokenizer.model. Json / SentencePiece: that file only.
  enum class Source { Auto, Json, SentencePiece } source = Source::Auto;
};

class Tokenizer {
 public:
  // Loads the tokenizer of DIR (tokenizer.json or tokenizer.model, with tokenizer_config.json
  // when present); DIR may hold nothing but tokenizer files. BOS_ID is config.json's
  // bos_token_id, or -1 to take the tokenizer's own (tokenizer_config.json's bos_token).
  // Throws loom::Error naming the file and the key, token or pattern at fault.
  static Tokenizer load(const std::filesystem::path& dir, int bos_id,
                        const TokenizerOptions& options = {});

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Token ids of TEXT (UTF-8; invalid UTF-8 throws). ADD_SPECIAL does what transformers'
  // `tokenizer(text)` does with add_special_tokens=True: tokenizer.json's post-processor decides
  // (transformers ignores tokenizer_config.json's add_bos_token/add_eos_token when a
  // tokenizer.json exists); sentencepiece: BOS when the model has one and add_bos(). PARSE_SPECIAL
  // false reads the text of special added tokens ("<|eot_id|>") as plain text, as transformers'
  // split_special_tokens=True does; non-special added tokens are still matched.
  std::vector<int> encode(std::string_view text, bool add_special, bool parse_special = true) const;
  // The text of a sequence as transformers' decode gives it: special tokens kept unless
  // SKIP_SPECIAL, bytes that do not form UTF-8 as U+FFFD, no clean_up_tokenization_spaces
  // (transformers skips it for BPE models). Ids outside the vocabulary throw.
  std::string decode(std::span<const int> ids, bool skip_special = false) const;
  // The raw bytes one token adds to a stream of text: byte-level characters mapped back to their
  // bytes, byte tokens (<0x0A>) their byte, "▁" a space; special and control tokens nothing.
  // A multi-byte character may span tokens. Empty for ids outside the vocabulary.
  std::string_view token_bytes(int id) const;
  // The id of a token spelled exactly so (an added token's content or a vocabulary entry as the
  // file writes it, "<|eot_id|>", "Ġthe", "▁the").
  std::optional<int> token_id(std::string_view token) const;
  // Whether ID is a special token (skipped by decode(..., true), nothing in token_bytes).
  bool is_special(int id) const;

  // Ids run from 0 to vocab_size() - 1 (added tokens included).
  int vocab_size() const;
  int bos_id() const;
  // Whether encode(text, true) starts with BOS.
  bool add_bos() const;
  // Whether decode drops one space at the very start of a text (sentencepiece, Metaspace and
  // Strip decoders do; byte-level ones do not). TextStream does the same.
  bool strips_leading_space() const;
  // Which tokenizer was loaded, e.g. "tokenizer.json (BPE, byte-level, 128256 tokens)".
  std::string describe() const;

 private:
  explicit Tokenizer(std::unique_ptr<detail::TokenizerImpl> impl);
  std::unique_ptr<detail::TokenizerImpl> impl_;
};

// Turns a stream of tokens into a stream of complete UTF-8 text: holds back the bytes of a
// character until its last byte arrives, and drops the space the decoder drops before the first
// word of a text (strips_leading_space()). Special tokens add nothing.
class TextStream {
 public:
  explicit TextStream(const Tokenizer& tok, bool at_text_start = true)
      : tok_(&tok), at_start_(at_text_start && tok.strips_leading_space()) {}
  // Appends the token; returns the text that became complete (valid only until the next call).
  std::string_view push(int id);
  // Whatever is still held back (an incomplete character at the end), as is.
  std::string_view flush();

 private:
  const Tokenizer* tok_;
  bool at_start_;
  std::string pending_;
  std::string out_;
};

}  // namespace loom
#pragma GCC visibility pop
