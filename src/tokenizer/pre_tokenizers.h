// tokenizer.json's "pre_tokenizer": splits normalized text into the pieces the model encodes
// one by one (and rewrites them: Metaspace's "▁", ByteLevel's prefix space).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
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

class PreTokenizerChain {
 public:
  // Pre-tokenizes TEXT, one stretch between added tokens (ORIGIN: it starts the input), and
  // hands the pieces to EMIT a batch at a time, in order. P is scratch that holds each batch.
  // A chain that starts with a regex Split whose pieces stand alone (Isolated or Removed) runs
  // on a long text a few thousand matches at a time, so memory stays small; every later step
  // works on each piece alone, so batches give the same pieces as the whole text would.
  void run(std::string_view text, bool origin, Pieces& p,
           const std::function<void(const Pieces&)>& emit) const;

  // A ByteLevel pre-tokenizer ends the chain: the model then reads the pieces' bytes, each byte
  // standing for its byte-level character (the text is never rewritten into those characters).
  bool byte_level = false;
  std::unique_ptr<PreTokenizer> all;   // the whole chain (null: none)
  std::unique_ptr<PreTokenizer> head;  // the leading Split when batches apply, else null
  std::unique_ptr<PreTokenizer> rest;  // what follows it (null: nothing)
};

// The pre-tokenizer V describes (null: none). Throws loom::Error naming the file and key for an
// unsupported type, a ByteLevel that is not last, or a bad field.
PreTokenizerChain parse_pre_tokenizer(const JsonValue& v);

}  // namespace loom::detail
