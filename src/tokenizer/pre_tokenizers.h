// tokenizer.json's "pre_tokenizer": splits normalized text into the pieces the model encodes
// one by one (and rewrites them: Metaspace's "▁", ByteLevel's prefix space).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/json_value.h"

namespace loom::detail {

struct Piece {
  uint32_t begin, end;  // bytes of Pieces::text
  bool origin;          // starts where the whole input text starts (Metaspace's "first")
};

// One stretch of text cut into pieces; pre-tokenizers refine the cut and may rewrite the text.
struct Pieces {
  std::string text;
  std::vector<Piece> list;
  // Scratch for rewrites and splits, kept to reuse its memory.
  std::string text2;
  std::vector<Piece> list2;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void apply(Pieces& p) const = 0;
};

struct PreTokenizerChain {
  std::unique_ptr<PreTokenizer> first;  // null: none
  // A ByteLevel pre-tokenizer ends the chain: the model then reads the pieces' bytes, each byte
  // standing for its byte-level character (the text is never rewritten into those characters).
  bool byte_level = false;
};

// The pre-tokenizer V describes (null: none). Throws loom::Error naming the file and key for an
// unsupported type, a ByteLevel that is not last, or a bad field.
PreTokenizerChain parse_pre_tokenizer(const JsonValue& v);

}  // namespace loom::detail
