#include "jinja/lexer.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include <utf8proc.h>

#include "jinja/text.h"
#include "jinja/value.h"
#include "loom/error.h"

namespace loom::jinja {
namespace {

// Python's str.rstrip() on UTF-8 text (the text before a {%- tag).
std::string_view rstrip_space(std::string_view s) {
  while (!s.empty()) {
    const auto c = static_cast<unsigned char>(s.back());
    if (c < 0x80) {
      if (!py_isspace(c)) break;
      s.remove_suffix(1);
      continue;
    }
    std::size_t start = s.size() - 1;  // the code point's first byte
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    const std::u32string u = utf8_decode(s.substr(start));
    if (u.size() != 1 || !py_isspace(u[0])) break;
    s.remove_suffix(s.size() - start);
  }
  return s;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool is_name_char(char c) {
  return is_name_start(c) || is_digit(c);
}

class Lexer {
 public:
  Lexer(std::string_view source, const std::string& origin, const TemplateOptions& options)
      : origin_(origin), options_(options) {
    // Newlines normalized to \n and one trailing newline dropped, as jinja2 does.
    src_.reserve(source.size());
    for (std::size_t k = 0; k < source.size(); ++k) {
      if (source[k] == '\r') {
        src_ += '\n';
        if (k + 1 < source.size() && source[k + 1] == '\n') ++k;
      } else {
        src_ += source[k];
      }
    }
    if (!src_.empty() && src_.back() == '\n') src_.pop_back();
    line_starts_.push_back(0);
    for (std::size_t k = 0; k < src_.size(); ++k)
      if (src_[k] == '\n') line_starts_.push_back(k + 1);
  }

  std::vector<Token> run() {
    bool line_starting = true;
    while (pos_ < src_.size()) {
      // The next tag opener.
      std::size_t open = pos_;
      char kind = 0;
      for (;;) {
        open = src_.find('{', open);
        if (open == std::string::npos || open + 1 >= src_.size()) {
          open = std::string::npos;
          break;
        }
        const char c = src_[open + 1];
        if (c == '{' || c == '%' || c == '#') {
          kind = c;
          break;
        }
        ++open;
      }
      if (open == std::string::npos) {
        push_text(std::string_view(src_).substr(pos_), pos_);
        break;
      }
      std::string_view text = std::string_view(src_).substr(pos_, open - pos_);
      const std::size_t text_pos = pos_;
      std::size_t after = open + 2;
      char sign = 0;
      if (after < src_.size() && (src_[after] == '-' || src_[after] == '+')) sign = src_[after++];
      // A raw block: {% raw %} ... {% endraw %}.
      std::size_t raw_end = 0;
      const bool raw = kind == '%' && match_raw_open(after, raw_end);
      text = strip_before(text, sign, kind != '{', line_starting);
      push_text(text, text_pos);
      if (raw) {
        line_starting = src_[raw_end - 1] == '\n';
        pos_ = raw_end;
        lex_raw_body(line_starting);
        line_starting = pos_ > 0 && src_[pos_ - 1] == '\n';
        continue;
      }
      if (kind == '#') {
        lex_comment(open, after);
      } else {
        tokens_.push_back(
            make(kind == '{' ? TokenType::VariableBegin : TokenType::BlockBegin, open));
        pos_ = after;
        lex_tag(kind == '{');
      }
      line_starting = pos_ > 0 && src_[pos_ - 1] == '\n';
    }
    tokens_.push_back(make(TokenType::End, src_.size()));
    return std::move(tokens_);
  }

 private:
  Token make(TokenType type, std::size_t at) const {
    Token t{type, {}};
    const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), at) - 1;
    t.line = static_cast<int>(it - line_starts_.begin()) + 1;
    t.column = static_cast<int>(at - *it) + 1;
    return t;
  }

  [[noreturn]] void fail(std::size_t at, const std::string& what) const {
    const Token t = make(TokenType::End, at);
    throw Error(origin_ + ":" + std::to_string(t.line) + ":" + std::to_string(t.column) + ": " +
                what);
  }

  void push_text(std::string_view text, std::size_t at) {
    if (text.empty()) return;
    Token t = make(TokenType::Text, at);
    t.text = std::string(text);
    tokens_.push_back(std::move(t));
  }

  // The -, + and lstrip_blocks rules for the text before a tag.
  std::string_view strip_before(std::string_view text, char sign, bool block_or_comment,
                                bool line_starting) const {
    if (sign == '-') return rstrip_space(text);
    if (sign != '+' && options_.lstrip_blocks && block_or_comment) {
      const auto nl = text.rfind('\n');
      const std::size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
      if (l_pos > 0 || line_starting) {
        const std::string_view tail = text.substr(l_pos);
        if (!tail.empty() && rstrip_space(tail).empty()) return text.substr(0, l_pos);
      }
    }
    return text;
  }

  // Python's \s: ASCII whitespace and Unicode's (U+00A0, U+3000, ...).
  std::size_t skip_space(std::size_t p) const {
    while (p < src_.size()) {
      if (is_space(src_[p]) || (src_[p] >= 0x1C && src_[p] <= 0x1F)) {
        ++p;
        continue;
      }
      if (static_cast<unsigned char>(src_[p]) < 0x80) break;
      utf8proc_int32_t c = 0;
      const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(src_.data() + p),
                                      static_cast<utf8proc_ssize_t>(src_.size() - p), &c);
      if (n <= 0 || !py_isspace(static_cast<char32_t>(c))) break;
      p += static_cast<std::size_t>(n);
    }
    return p;
  }

  bool match_word(std::size_t& p, std::string_view word) const {
    if (src_.compare(p, word.size(), word) != 0) return false;
    p += word.size();
    return true;
  }

  // {%[-+]? raw \s* (-%}\s* | %}): jinja2 applies no trim_blocks to the opening tag.
  bool match_raw_open(std::size_t p, std::size_t& end) const {
    p = skip_space(p);
    if (!match_word(p, "raw")) return false;
    p = skip_space(p);
    if (src_.compare(p, 3, "-%}") == 0) {
      end = skip_space(p + 3);
      return true;
    }
    if (src_.compare(p, 2, "%}") == 0) {
      end = p + 2;
      return true;
    }
    return false;
  }

  // The end of a block or comment tag at P: +%}, -%}\s*, %}\n? (trim_blocks). Returns the
  // position after it, or npos.
  std::size_t match_block_end(std::size_t p, char close) const {
    const std::string_view s(src_);
    const std::string end{close, '}'};
    if (p < s.size() && (s[p] == '+' || s[p] == '-') && s.substr(p + 1, 2) == end)
      return s[p] == '-' ? skip_space(p + 3) : p + 3;
    if (p <= s.size() && s.substr(p, 2) == end) {
      p += 2;
      if (options_.trim_blocks && p < s.size() && s[p] == '\n') ++p;
      return p;
    }
    return std::string::npos;
  }

  void lex_comment(std::size_t open, std::size_t p) {
    for (; p < src_.size(); ++p) {
      if (src_[p] != '#' && src_[p] != '-' && src_[p] != '+') continue;
      const std::size_t e = match_block_end(p, '#');
      if (e != std::string::npos) {
        pos_ = e;
        return;
      }
    }
    fail(open, "Missing end of comment tag");
  }

  void lex_raw_body(bool line_starting) {
    const std::size_t body = pos_;
    for (std::size_t p = body; p + 1 < src_.size(); ++p) {
      if (src_[p] != '{' || src_[p + 1] != '%') continue;
      std::size_t q = p + 2;
      char sign = 0;
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) sign = src_[q++];
      q = skip_space(q);
      if (!match_word(q, "endraw")) continue;
      q = skip_space(q);
      const std::size_t e = match_block_end(q, '%');
      if (e == std::string::npos) continue;
      push_text(
          strip_before(std::string_view(src_).substr(body, p - body), sign, true, line_starting),
          body);
      pos_ = e;
      return;
    }
    fail(body, "Missing end of raw directive");
  }

  void lex_tag(bool variable) {
    std::vector<char> balance;
    const std::size_t open = pos_ - 2;
    for (;;) {
      pos_ = skip_space(pos_);
      if (pos_ >= src_.size()) return;  // the parser reports the unexpected end
      if (balance.empty()) {
        if (variable) {
          if (src_.compare(pos_, 3, "-}}") == 0) {
            tokens_.push_back(make(TokenType::VariableEnd, pos_));
            pos_ = skip_space(pos_ + 3);
            return;
          }
          if (src_.compare(pos_, 2, "}}") == 0) {
            tokens_.push_back(make(TokenType::VariableEnd, pos_));
            pos_ += 2;
            return;
          }
        } else {
          const std::size_t e = match_block_end(pos_, '%');
          if (e != std::string::npos) {
            tokens_.push_back(make(TokenType::BlockEnd, pos_));
            pos_ = e;
            return;
          }
        }
      }
      (void)open;
      lex_expression_token(balance);
    }
  }

  void lex_expression_token(std::vector<char>& balance) {
    const char c = src_[pos_];
    const std::size_t start = pos_;
    if (is_digit(c)) {
      lex_number();
      return;
    }
    if (is_name_start(c)) {
      std::size_t e = pos_;
      while (e < src_.size() && is_name_char(src_[e])) ++e;
      Token t = make(TokenType::Name, start);
      t.text = src_.substr(start, e - start);
      tokens_.push_back(std::move(t));
      pos_ = e;
      return;
    }
    if (c == '\'' || c == '"') {
      lex_string();
      return;
    }
    static const char* const kOperators[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/",
                                             "*",  "%",  "~",  "[",  "]",  "(",  ")", "{", "}",
                                             ">",  "<",  "=",  ".",  ":",  "|",  ",", ";"};
    for (const char* op : kOperators) {
      const std::string_view o(op);
      if (src_.compare(pos_, o.size(), o) != 0) continue;
      if (o == "(" || o == "[" || o == "{") {
        balance.push_back(o == "(" ? ')' : o == "[" ? ']' : '}');
      } else if (o == ")" || o == "]" || o == "}") {
        if (balance.empty()) fail(start, "unexpected '" + std::string(o) + "'");
        if (balance.back() != o[0])
          fail(start, "unexpected '" + std::string(o) + "', expected '" + balance.back() + "'");
        balance.pop_back();
      }
      Token t = make(TokenType::Operator, start);
      t.text = std::string(o);
      tokens_.push_back(std::move(t));
      pos_ += o.size();
      return;
    }
    fail(start, std::string("unexpected char '") + c + "'");
  }

  // Digits with single underscores between them, as jinja2's number rules.
  std::size_t digits(std::size_t p, bool (*ok)(char)) const {
    if (p >= src_.size() || !ok(src_[p])) return p;
    std::size_t e = p + 1;
    while (e < src_.size()) {
      if (ok(src_[e])) {
        ++e;
      } else if (src_[e] == '_' && e + 1 < src_.size() && ok(src_[e + 1])) {
        e += 2;
      } else {
        break;
      }
    }
    return e;
  }

  void lex_number() {
    const std::size_t start = pos_;
    auto clean = [](std::string_view s) {
      std::string out;
      for (char c : s)
        if (c != '_') out += c;
      return out;
    };
    // Float: digits (.digits)? e[+-]digits | digits .digits (not after a '.').
    const bool after_dot = start > 0 && src_[start - 1] == '.';
    std::size_t e = digits(start, is_digit);
    if (!after_dot) {
      std::size_t f = e;
      bool fraction = false, exponent = false;
      if (f + 1 < src_.size() && src_[f] == '.' && is_digit(src_[f + 1])) {
        f = digits(f + 1, is_digit);
        fraction = true;
      }
      if (f < src_.size() && (src_[f] == 'e' || src_[f] == 'E')) {
        std::size_t g = f + 1;
        if (g < src_.size() && (src_[g] == '+' || src_[g] == '-')) ++g;
        const std::size_t h = digits(g, is_digit);
        if (h > g) {
          f = h;
          exponent = true;
        }
      }
      if (fraction || exponent) {
        Token t = make(TokenType::Float, start);
        t.number =
            std::strtod(clean(std::string_view(src_).substr(start, f - start)).c_str(), nullptr);
        tokens_.push_back(std::move(t));
        pos_ = f;
        return;
      }
    }
    // Integer: 0b/0o/0x prefixes, a decimal without leading zeros, or zeros.
    int base = 10;
    std::size_t body = start;
    if (src_[start] == '0' && start + 1 < src_.size()) {
      const char p = static_cast<char>(src_[start + 1] | 0x20);
      if (p == 'b' || p == 'o' || p == 'x') {
        base = p == 'b' ? 2 : p == 'o' ? 8 : 16;
        std::size_t q = start + 2;
        if (q < src_.size() && src_[q] == '_') ++q;
        auto ok = base == 2   ? +[](char c) { return c == '0' || c == '1'; }
                  : base == 8 ? +[](char c) { return c >= '0' && c <= '7'; }
                              : +[](char c) {
                                  return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
                                };
        const std::size_t h = digits(q, ok);
        if (h > q) {
          body = start + 2;
          e = h;
        } else {
          base = 10;
        }
      }
      if (base == 10) {  // "0", "00", "0_0": a zero; "01" lexes as 0 then 1, as jinja2's does
        e = start + 1;
        while (e < src_.size() &&
               (src_[e] == '0' || (src_[e] == '_' && e + 1 < src_.size() && src_[e + 1] == '0')))
          ++e;
      }
    }
    const std::string text = clean(std::string_view(src_).substr(body, e - body));
    Token t = make(TokenType::Integer, start);
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), t.integer, base);
    (void)ptr;
    if (ec != std::errc()) fail(start, "integer literal out of range");
    tokens_.push_back(std::move(t));
    pos_ = e;
  }

  static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = static_cast<char>(c | 0x20);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  }

  // A quoted string, its backslash escapes decoded as Python's unicode-escape does.
  void lex_string() {
    const std::size_t start = pos_;
    const char quote = src_[pos_];
    std::string value;
    std::size_t p = pos_ + 1;
    for (;;) {
      if (p >= src_.size()) fail(start, "unexpected char '" + std::string(1, quote) + "'");
      const char c = src_[p];
      if (c == quote) break;
      if (c != '\\') {
        value += c;
        ++p;
        continue;
      }
      if (p + 1 >= src_.size()) fail(start, "unexpected char '" + std::string(1, quote) + "'");
      const char x = src_[p + 1];
      p += 2;
      switch (x) {
        case '\n':
          break;
        case '\\':
        case '\'':
        case '"':
          value += x;
          break;
        case 'n':
          value += '\n';
          break;
        case 't':
          value += '\t';
          break;
        case 'r':
          value += '\r';
          break;
        case 'b':
          value += '\b';
          break;
        case 'f':
          value += '\f';
          break;
        case 'v':
          value += '\v';
          break;
        case 'a':
          value += '\a';
          break;
        case 'x':
        case 'u':
        case 'U': {
          const int n = x == 'x' ? 2 : x == 'u' ? 4 : 8;
          char32_t code = 0;
          for (int k = 0; k < n; ++k) {
            const int h = p < src_.size() ? hex_value(src_[p]) : -1;
            if (h < 0) fail(start, "invalid \\" + std::string(1, x) + " escape in a string");
            code = code * 16 + static_cast<char32_t>(h);
            ++p;
          }
          if (code > 0x10FFFF) fail(start, "invalid \\U escape in a string");
          utf8_append(value, code);
          break;
        }
        default:
          if (x >= '0' && x <= '7') {
            char32_t code = static_cast<char32_t>(x - '0');
            for (int k = 0; k < 2 && p < src_.size() && src_[p] >= '0' && src_[p] <= '7'; ++k)
              code = code * 8 + static_cast<char32_t>(src_[p++] - '0');
            utf8_append(value, code);
          } else {  // an unknown escape keeps its backslash
            value += '\\';
            value += x;
          }
      }
    }
    Token t = make(TokenType::String, start);
    t.text = std::move(value);
    tokens_.push_back(std::move(t));
    pos_ = p + 1;
  }

  std::string src_;
  std::vector<std::size_t> line_starts_;
  const std::string& origin_;
  const TemplateOptions& options_;
  std::size_t pos_ = 0;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const std::string& origin,
                            const TemplateOptions& options) {
  return Lexer(source, origin, options).run();
}

}  // namespace loom::jinja
