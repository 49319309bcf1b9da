// Python's str operations the engine needs (whitespace, case, strip, split) on UTF-8 text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace loom::jinja {

// Python's str.isspace for one code point.
bool py_isspace(char32_t c);
// str.strip/lstrip/rstrip: CHARS empty (no argument) strips whitespace.
std::string py_strip(std::string_view s, bool left, bool right, const std::string* chars = nullptr);
std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
// str.title(): upper after an uncased character, lower after a cased one.
std::string py_title(std::string_view s);
std::string py_capitalize(std::string_view s);
// str.split(): without SEP on runs of whitespace; MAXSPLIT < 0: no limit.
std::vector<std::string> py_split(std::string_view s, const std::string* sep, long maxsplit);
std::vector<std::string> py_rsplit(std::string_view s, const std::string* sep, long maxsplit);
std::string py_replace(std::string_view s, std::string_view old, std::string_view replacement,
                       long count);
// Code point count and code point slicing helpers.
bool is_ascii(std::string_view s);

}  // namespace loom::jinja
