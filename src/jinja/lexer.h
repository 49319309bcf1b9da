// Splits a template into tokens as jinja2's lexer does: text, the tags' delimiters and the
// expression tokens inside them, with trim_blocks, lstrip_blocks and the -/+ whitespace marks
// applied to the text, comments dropped and raw blocks returned as text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "jinja/template.h"

namespace loom::jinja {

enum class TokenType : std::uint8_t {
  Text,
  VariableBegin,  // {{
  VariableEnd,    // }}
  BlockBegin,     // {%
  BlockEnd,       // %}
  Name,
  String,
  Integer,
  Float,
  Operator,
  End,
};

struct Token {
  TokenType type;
  std::string text;  // Text, Name, String (unescaped), Operator
  std::int64_t integer = 0;
  double number = 0.0;
  int line = 1;
  int column = 1;
};

// Throws loom::Error "ORIGIN:LINE:COLUMN: what" on a lexical error.
std::vector<Token> tokenize(std::string_view source, const std::string& origin,
                            const TemplateOptions& options);

}  // namespace loom::jinja
