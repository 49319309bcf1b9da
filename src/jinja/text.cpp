#include "jinja/text.h"

#include <utf8proc.h>

#include <algorithm>

#include "jinja/value.h"

namespace loom::jinja {

bool py_isspace(char32_t c) {
  switch (c) {
    case ' ':
    case '\t':
    case '\n':
    case '\r':
    case '\v':
    case '\f':
    case 0x1C:
    case 0x1D:
    case 0x1E:
    case 0x1F:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

std::string py_strip(std::string_view s, bool left, bool right, const std::string* chars) {
  const std::u32string set = chars ? utf8_decode(*chars) : std::u32string();
  auto strip_it = [&](char32_t c) {
    return chars ? set.find(c) != std::u32string::npos : py_isspace(c);
  };
  if (is_ascii(s) && (!chars || is_ascii(*chars))) {
    std::size_t b = 0, e = s.size();
    if (left)
      while (b < e && strip_it(static_cast<unsigned char>(s[b]))) ++b;
    if (right)
      while (e > b && strip_it(static_cast<unsigned char>(s[e - 1]))) --e;
    return std::string(s.substr(b, e - b));
  }
  const std::u32string u = utf8_decode(s);
  std::size_t b = 0, e = u.size();
  if (left)
    while (b < e && strip_it(u[b])) ++b;
  if (right)
    while (e > b && strip_it(u[e - 1])) --e;
  return utf8_encode(std::u32string_view(u).substr(b, e - b));
}

static std::string map_case(std::string_view s, bool upper) {
  std::string out;
  out.reserve(s.size());
  if (is_ascii(s)) {
    for (char c : s) {
      if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
      if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
      out += c;
    }
    return out;
  }
  for (char32_t c : utf8_decode(s)) {
    if (upper && c == 0xDF) {  // ß has no single upper case letter: Python writes SS
      out += "SS";
      continue;
    }
    const auto m = upper ? utf8proc_toupper(static_cast<utf8proc_int32_t>(c))
                         : utf8proc_tolower(static_cast<utf8proc_int32_t>(c));
    utf8_append(out, static_cast<char32_t>(m));
  }
  return out;
}

std::string py_upper(std::string_view s) {
  return map_case(s, true);
}
std::string py_lower(std::string_view s) {
  return map_case(s, false);
}

static bool is_cased(char32_t c) {
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}

std::string py_title(std::string_view s) {
  std::string out;
  bool previous_cased = false;
  for (char32_t c : utf8_decode(s)) {
    if (c == 0xDF && !previous_cased) {  // ß's title case is "Ss" in Python
      out += "Ss";
      previous_cased = true;
      continue;
    }
    const auto m = previous_cased ? utf8proc_tolower(static_cast<utf8proc_int32_t>(c))
                                  : utf8proc_totitle(static_cast<utf8proc_int32_t>(c));
    utf8_append(out, static_cast<char32_t>(m));
    previous_cased = is_cased(c);
  }
  return out;
}

std::string py_capitalize(std::string_view s) {
  std::u32string u = utf8_decode(s);
  if (!u.empty() && u[0] == 0xDF)
    return "Ss" + py_lower(utf8_encode(std::u32string_view(u).substr(1)));
  for (std::size_t k = 0; k < u.size(); ++k)
    u[k] = static_cast<char32_t>(k == 0 ? utf8proc_totitle(static_cast<utf8proc_int32_t>(u[k]))
                                        : utf8proc_tolower(static_cast<utf8proc_int32_t>(u[k])));
  return utf8_encode(u);
}

std::vector<std::string> py_split(std::string_view s, const std::string* sep, long maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) throw RenderError{"empty separator"};
    std::size_t start = 0;
    while (maxsplit < 0 || static_cast<long>(out.size()) < maxsplit) {
      const auto p = s.find(*sep, start);
      if (p == std::string_view::npos) break;
      out.emplace_back(s.substr(start, p - start));
      start = p + sep->size();
    }
    out.emplace_back(s.substr(start));
    return out;
  }
  const std::u32string u = utf8_decode(s);
  std::size_t k = 0;
  while (k < u.size()) {
    while (k < u.size() && py_isspace(u[k])) ++k;
    if (k == u.size()) break;
    if (maxsplit >= 0 && static_cast<long>(out.size()) == maxsplit) {
      out.push_back(utf8_encode(std::u32string_view(u).substr(k)));
      return out;
    }
    const std::size_t b = k;
    while (k < u.size() && !py_isspace(u[k])) ++k;
    out.push_back(utf8_encode(std::u32string_view(u).substr(b, k - b)));
  }
  return out;
}

std::vector<std::string> py_rsplit(std::string_view s, const std::string* sep, long maxsplit) {
  if (maxsplit < 0) return py_split(s, sep, maxsplit);
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) throw RenderError{"empty separator"};
    std::size_t end = s.size();
    while (static_cast<long>(out.size()) < maxsplit) {
      if (end < sep->size()) break;
      const auto p = s.rfind(*sep, end - sep->size());
      if (p == std::string_view::npos) break;
      out.emplace_back(s.substr(p + sep->size(), end - p - sep->size()));
      end = p;
    }
    out.emplace_back(s.substr(0, end));
    std::reverse(out.begin(), out.end());
    return out;
  }
  const std::u32string u = utf8_decode(s);
  std::size_t k = u.size();
  while (k > 0) {
    while (k > 0 && py_isspace(u[k - 1])) --k;
    if (k == 0) break;
    if (static_cast<long>(out.size()) == maxsplit) {
      out.push_back(utf8_encode(std::u32string_view(u).substr(0, k)));
      break;
    }
    const std::size_t e = k;
    while (k > 0 && !py_isspace(u[k - 1])) --k;
    out.push_back(utf8_encode(std::u32string_view(u).substr(k, e - k)));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::string py_replace(std::string_view s, std::string_view old, std::string_view replacement,
                       long count) {
  std::string out;
  if (old.empty()) {  // Python inserts the replacement between every character and at both ends
    const std::u32string u = utf8_decode(s);
    long n = 0;
    for (char32_t c : u) {
      if (count < 0 || n < count) {
        out += replacement;
        ++n;
      }
      utf8_append(out, c);
    }
    if (count < 0 || n < count) out += replacement;
    return out;
  }
  std::size_t start = 0;
  long n = 0;
  while (count < 0 || n < count) {
    const auto p = s.find(old, start);
    if (p == std::string_view::npos) break;
    out.append(s.substr(start, p - start));
    out.append(replacement);
    start = p + old.size();
    ++n;
  }
  out.append(s.substr(start));
  return out;
}

}  // namespace loom::jinja
