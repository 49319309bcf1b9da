// UTF-8 and Unicode character classes, as Rust's char methods define them (tokenizers is Rust):
// utf8proc supplies the categories and normalization forms.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace loom::detail {

// Decodes the character at S[I] (S is valid UTF-8) and advances I past it.
inline char32_t next_char(std::string_view s, size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    ++i;
    return c;
  }
  const int n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  char32_t cp = c & (0x7F >> n);
  for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += n;
  return cp;
}
// The byte length of the UTF-8 character whose lead byte is C (S is valid UTF-8).
inline size_t char_len(unsigned char c) {
  return c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
}
// Where the character ending at S[END-1] starts.
inline size_t prev_char_start(std::string_view s, size_t end) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}
void append_utf8(std::string& out, char32_t cp);

// The offset of the first byte that is not part of valid UTF-8, or npos when S is valid.
size_t invalid_utf8_at(std::string_view s);
// S with every maximal invalid subsequence replaced by U+FFFD (Rust's String::from_utf8_lossy).
std::string utf8_lossy(std::string_view s);

bool is_whitespace(char32_t c);      // Unicode White_Space (Rust char::is_whitespace)
bool is_numeric(char32_t c);         // categories Nd, Nl, No (Rust char::is_numeric)
bool is_word_char(char32_t c);       // regex \w: letters, marks, Nd, Pc, joiners
bool is_punctuation(char32_t c);     // categories P* or ASCII punctuation
bool is_combining_mark(char32_t c);  // category Mn

// Unicode normalization forms and lower case (utf8proc).
enum class NormalForm { NFC, NFD, NFKC, NFKD };
std::string normalize(std::string_view s, NormalForm form);
std::string to_lower(std::string_view s);

}  // namespace loom::detail
