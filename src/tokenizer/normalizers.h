// tokenizer.json's "normalizer": text rewrites applied to each stretch of text between added
// tokens, before pre-tokenizing.
#pragma once

#include <memory>
#include <string>

#include "tokenizer/json_value.h"

namespace loom::detail {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void apply(std::string& text) const = 0;
};

// The normalizer V describes (null gives nullptr). Throws loom::Error naming the file and key for
// an unsupported type or a bad field.
std::unique_ptr<Normalizer> parse_normalizer(const JsonValue& v);

}  // namespace loom::detail
