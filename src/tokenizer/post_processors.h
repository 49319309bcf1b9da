// tokenizer.json's "post_processor": the special tokens added around an encoded text when
// add_special_tokens is on.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/json_value.h"

namespace loom::detail {

// For a single text: the ids put before and after it (tokenizers' template with $A).
struct PostProcessor {
  std::vector<int> before, after;
};

// What V describes (null: nothing added). Throws loom::Error naming the file and key for an
// unsupported type, a template naming an undefined special token, or a bad field.
PostProcessor parse_post_processor(const JsonValue& v);

}  // namespace loom::detail
