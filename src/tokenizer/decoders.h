// tokenizer.json's "decoder": turns the tokens of a sequence back into text.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/json_value.h"

namespace loom::detail {

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Rewrites the list of token strings (tokenizers' decode_chain); the text is their
  // concatenation.
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
  // Rewrites one token into the raw bytes it adds in the middle of a text (no lossy UTF-8, no
  // stripping at the text's start): what Tokenizer::token_bytes gives.
  virtual void token_bytes(std::string& token) const = 0;
  // Whether decoding drops one leading space of the text (Strip of " ", Metaspace).
  virtual bool strips_leading_space() const { return false; }
  // Whether the decoder maps byte-level characters back to bytes.
  virtual bool byte_level() const { return false; }
};

// The decoder V describes (null gives nullptr). Throws loom::Error naming the file and key for
// an unsupported type or a bad field.
std::unique_ptr<Decoder> parse_decoder(const JsonValue& v);

}  // namespace loom::detail
