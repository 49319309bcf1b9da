// Regular expressions of tokenizer.json (Split pre-tokenizers, Replace normalizers and decoders),
// compiled by PCRE2 with its JIT in UTF and Unicode-property mode, which replaces the Oniguruma
// engine tokenizers uses: it knows \p{L}, \p{N}, (?i:...) and look-ahead (?!\S).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace loom::detail {

struct Match {
  size_t begin, end;
};

// Where a search through a text stands, to find its matches a batch at a time.
struct RegexCursor {
  size_t pos = 0;
  bool has_last = false;
  size_t last_end = 0;
  bool done = false;
};

class Regex {
 public:
  // Throws loom::Error "WHERE: regex 'PATTERN' does not compile: MESSAGE at offset N".
  Regex(std::string_view pattern, const std::string& where);
  // A regex that matches S literally.
  static Regex literal(std::string_view s, const std::string& where);
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;
  ~Regex();

  // Every match in TEXT from left to right, as Oniguruma's find_iter gives them: after an empty
  // match right at the end of the previous match, the search moves on one character. TEXT is
  // valid UTF-8.
  void find_all(std::string_view text, std::vector<Match>& out) const {
    RegexCursor c;
    find_some(text, c, out, ~size_t{0});
  }
  // The same, resumable: appends up to MAX further matches; C.done once there are no more.
  void find_some(std::string_view text, RegexCursor& c, std::vector<Match>& out, size_t max) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8
};

// Escapes S so that it matches itself in a PCRE2 pattern.
std::string regex_escape(std::string_view s);

class JsonValue;
// The regex of a tokenizer.json pattern, {"String": s} (matched literally) or {"Regex": r}.
Regex parse_pattern(const JsonValue& p);

}  // namespace loom::detail
