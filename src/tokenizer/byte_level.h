// GPT-2's byte-level alphabet: each of the 256 bytes stands for one printable character
// ("Ġ" for a space), so that a vocabulary of strings covers every byte sequence.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace loom::detail {

// The character that stands for byte B.
char32_t byte_level_char(uint8_t b);
// The byte that character C stands for, if C is in the alphabet.
std::optional<uint8_t> byte_level_byte(char32_t c);
// S's bytes as byte-level characters (UTF-8).
std::string to_byte_level(std::string_view s);
// Maps byte-level text S back to bytes; false (OUT unspecified) when S holds a character outside
// the alphabet.
bool from_byte_level(std::string_view s, std::string& out);

}  // namespace loom::detail
