// Text <-> token ids, through the folder's sentencepiece tokenizer.model.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace loom {

class Tokenizer {
 public:
  // Loads DIR/tokenizer.model; reads add_bos_token from DIR/tokenizer_config.json if present.
  static Tokenizer load(const std::filesystem::path& dir, int bos_id);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Token ids of TEXT, with BOS first when `add_bos` and the model has one.
  std::vector<int> encode(std::string_view text, bool add_bos) const;
  // The text of a whole sequence, as sentencepiece decodes it.
  std::string decode(std::span<const int> ids) const;
  // The raw bytes one token contributes to a stream of text: "▁" becomes a space, byte tokens
  // (<0x0A>) their byte, control tokens nothing. A multi-byte character may span tokens.
  std::string_view token_bytes(int id) const;

  int vocab_size() const;
  int bos_id() const { return bos_id_; }
  // Whether the model expects BOS before a prompt (tokenizer_config.json's add_bos_token).
  bool add_bos() const { return add_bos_; }

 private:
  Tokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int bos_id_ = -1;
  bool add_bos_ = true;
};

// Turns a stream of tokens into a stream of complete UTF-8 text: holds back the bytes of a
// character until its last byte arrives, and drops the space sentencepiece puts before the
// first word of a text.
class TextStream {
 public:
  explicit TextStream(const Tokenizer& tok, bool at_text_start = true)
      : tok_(&tok), at_start_(at_text_start) {}
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
