#include "tokenizer/byte_level.h"

#include "tokenizer/unicode.h"

namespace loom::detail {

namespace {

struct Tables {
  std::array<char32_t, 256> to_char{};
  std::array<int16_t, 324> to_byte{};  // characters U+0000..U+0143; -1: not in the alphabet
  Tables() {
    to_byte.fill(-1);
    // Printable Latin-1 bytes stand for themselves; the rest get U+0100 onwards, in byte order.
    char32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      const bool keeps = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      to_char[b] = keeps ? static_cast<char32_t>(b) : next++;
      to_byte[to_char[b]] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

char32_t byte_level_char(uint8_t b) {
  return tables().to_char[b];
}

std::optional<uint8_t> byte_level_byte(char32_t c) {
  if (c >= tables().to_byte.size() || tables().to_byte[c] < 0) return std::nullopt;
  return static_cast<uint8_t>(tables().to_byte[c]);
}

std::string to_byte_level(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  for (char c : s) append_utf8(out, byte_level_char(static_cast<uint8_t>(c)));
  return out;
}

bool from_byte_level(std::string_view s, std::string& out) {
  out.clear();
  const Tables& t = tables();
  for (size_t i = 0; i < s.size();) {
    const char32_t c = next_char(s, i);
    if (c >= t.to_byte.size() || t.to_byte[c] < 0) return false;
    out.push_back(static_cast<char>(t.to_byte[c]));
  }
  return true;
}

}  // namespace loom::detail
