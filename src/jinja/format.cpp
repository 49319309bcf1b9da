// Python's str.format (the sandbox's formatter renders as str.format does for plain values)
// and printf-style str % args.
#include <cmath>
#include <cstdio>

#include "jinja/builtins.h"
#include "jinja/evaluator.h"
#include "jinja/text.h"

namespace loom::jinja {
namespace {

struct Spec {
  char32_t fill = ' ';
  char align = 0;  // < > ^ =
  char sign = '-';
  bool alternate = false;
  bool zero = false;
  int width = -1;
  bool comma = false;
  int precision = -1;
  char type = 0;
};

std::size_t cp_len(std::string_view s) {
  std::size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

std::string pad(std::string body, const Spec& spec, char default_align) {
  const std::size_t len = cp_len(body);
  if (spec.width < 0 || len >= static_cast<std::size_t>(spec.width)) return body;
  const std::size_t fill = static_cast<std::size_t>(spec.width) - len;
  char align = spec.align ? spec.align : default_align;
  std::string f;
  utf8_append(f, spec.fill);
  auto rep = [&](std::size_t n) {
    std::string out;
    for (std::size_t k = 0; k < n; ++k) out += f;
    return out;
  };
  if (align == '<') return body + rep(fill);
  if (align == '^') return rep(fill / 2) + body + rep(fill - fill / 2);
  if (align == '=') {  // padding after the sign
    std::size_t sign =
        (!body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' ')) ? 1 : 0;
    return body.substr(0, sign) + rep(fill) + body.substr(sign);
  }
  return rep(fill) + body;
}

std::string group_thousands(const std::string& digits) {
  std::string out;
  const std::size_t n = digits.size();
  for (std::size_t k = 0; k < n; ++k) {
    if (k && (n - k) % 3 == 0) out += ',';
    out += digits[k];
  }
  return out;
}

std::string format_number(const Value& v, Spec spec) {
  char type = spec.type;
  if (type == 0) type = v.type == Value::Type::Float ? 'r' : 'd';
  std::string body;
  bool negative = false;
  if (type == 'd' || type == 'x' || type == 'X' || type == 'o' || type == 'b' || type == 'c') {
    if (!v.is_int())
      throw RenderError{"Unknown format code '" + std::string(1, type) +
                        "' for object of type 'float'"};
    std::int64_t x = v.as_int();
    negative = x < 0;
    std::uint64_t u = negative ? 0 - static_cast<std::uint64_t>(x) : static_cast<std::uint64_t>(x);
    if (type == 'c')
      return pad(utf8_encode(std::u32string(1, static_cast<char32_t>(u))), spec, '<');
    const int base = type == 'd' ? 10 : type == 'o' ? 8 : type == 'b' ? 2 : 16;
    const char* digits = type == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
      body.insert(body.begin(), digits[u % static_cast<unsigned>(base)]);
      u /= static_cast<unsigned>(base);
    } while (u);
    if (spec.comma) body = group_thousands(body);
    if (spec.alternate && base != 10)
      body = std::string("0") + (type == 'o' ? 'o' : type == 'b' ? 'b' : type) + body;
  } else {
    double x = v.as_float();
    negative = std::signbit(x) && !std::isnan(x);
    x = std::fabs(x);
    if (type == 'r') {
      body = float_repr(x);
    } else if (std::isinf(x) || std::isnan(x)) {
      body = std::isnan(x) ? "nan" : "inf";
      if (type == 'F' || type == 'E' || type == 'G') body = py_upper(body);
    } else {
      if (type == '%') x *= 100;
      const int precision = spec.precision < 0 ? 6 : spec.precision;
      char fmt[16];
      char t = type == '%' ? 'f' : type == 'n' ? 'g' : type;
      std::snprintf(fmt, sizeof fmt, "%%%s.%d%c", spec.alternate ? "#" : "", precision, t);
      char buf[512];
      std::snprintf(buf, sizeof buf, fmt, x);
      body = buf;
      if (spec.comma) {
        const auto dot = body.find_first_not_of("0123456789");
        body = group_thousands(body.substr(0, dot)) +
               (dot == std::string::npos ? "" : body.substr(dot));
      }
      if (type == '%') body += '%';
    }
  }
  std::string sign = negative ? "-" : spec.sign == '+' ? "+" : spec.sign == ' ' ? " " : "";
  if (spec.zero && !spec.align) {
    spec.fill = '0';
    spec.align = '=';
  }
  return pad(sign + body, spec, '>');
}

Spec parse_spec(std::string_view s) {
  Spec spec;
  std::size_t k = 0;
  auto is_align = [](char c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  const std::u32string u = utf8_decode(s);
  if (u.size() >= 2 && u[1] < 0x80 && is_align(static_cast<char>(u[1]))) {
    spec.fill = u[0];
    spec.align = static_cast<char>(u[1]);
    std::string first;
    utf8_append(first, u[0]);
    k = first.size() + 1;
  } else if (!s.empty() && is_align(s[0])) {
    spec.align = s[0];
    k = 1;
  }
  if (k < s.size() && (s[k] == '+' || s[k] == '-' || s[k] == ' ')) spec.sign = s[k++];
  if (k < s.size() && s[k] == '#') {
    spec.alternate = true;
    ++k;
  }
  if (k < s.size() && s[k] == '0') {
    spec.zero = true;
    ++k;
  }
  if (k < s.size() && s[k] >= '0' && s[k] <= '9') {
    spec.width = 0;
    while (k < s.size() && s[k] >= '0' && s[k] <= '9')
      spec.width = spec.width * 10 + (s[k++] - '0');
  }
  if (k < s.size() && s[k] == ',') {
    spec.comma = true;
    ++k;
  }
  if (k < s.size() && s[k] == '.') {
    ++k;
    spec.precision = 0;
    while (k < s.size() && s[k] >= '0' && s[k] <= '9')
      spec.precision = spec.precision * 10 + (s[k++] - '0');
  }
  if (k < s.size()) spec.type = s[k++];
  if (k != s.size()) throw RenderError{"Invalid format specifier '" + std::string(s) + "'"};
  return spec;
}

std::string format_value(const Value& v, std::string_view spec_text) {
  if (spec_text.empty()) return to_str(v);
  const Spec spec = parse_spec(spec_text);
  if (v.is_number() && !(v.type == Value::Type::Bool && spec.type == 0))
    return format_number(v, spec);
  if (spec.type && spec.type != 's')
    throw RenderError{"Unknown format code '" + std::string(1, spec.type) +
                      "' for object of type '" + v.type_name().substr(0, v.type_name().find(' ')) +
                      "'"};
  std::string s = to_str(v);
  if (spec.precision >= 0) {
    const std::u32string u = utf8_decode(s);
    if (u.size() > static_cast<std::size_t>(spec.precision))
      s = utf8_encode(std::u32string_view(u).substr(0, static_cast<std::size_t>(spec.precision)));
  }
  return pad(s, spec, '<');
}

}  // namespace

std::string py_format(Evaluator& ev, std::string_view f, const Args& args) {
  std::string out;
  std::size_t auto_index = 0;
  for (std::size_t k = 0; k < f.size(); ++k) {
    const char c = f[k];
    if (c == '}') {
      if (k + 1 < f.size() && f[k + 1] == '}') {
        out += '}';
        ++k;
        continue;
      }
      throw RenderError{"Single '}' encountered in format string"};
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (k + 1 < f.size() && f[k + 1] == '{') {
      out += '{';
      ++k;
      continue;
    }
    int depth = 1;
    std::size_t e = k + 1;
    for (; e < f.size(); ++e) {
      if (f[e] == '{') ++depth;
      if (f[e] == '}' && --depth == 0) break;
    }
    if (e >= f.size()) throw RenderError{"Single '{' encountered in format string"};
    std::string_view field = f.substr(k + 1, e - k - 1);
    k = e;
    std::string_view spec, conversion;
    const auto colon = field.find(':');
    if (colon != std::string_view::npos) {
      spec = field.substr(colon + 1);
      field = field.substr(0, colon);
    }
    const auto bang = field.find('!');
    if (bang != std::string_view::npos) {
      conversion = field.substr(bang + 1);
      field = field.substr(0, bang);
    }
    std::size_t name_end = field.find_first_of(".[");
    std::string_view head = field.substr(0, name_end);
    Value v;
    if (head.empty()) {
      if (auto_index >= args.positional.size())
        throw RenderError{"Replacement index " + std::to_string(auto_index) +
                          " out of range for positional args tuple"};
      v = args.positional[auto_index++];
    } else if (head.find_first_not_of("0123456789") == std::string_view::npos) {
      const std::size_t index = std::stoul(std::string(head));
      if (index >= args.positional.size())
        throw RenderError{"Replacement index " + std::string(head) +
                          " out of range for positional args tuple"};
      v = args.positional[index];
    } else {
      const Value* kw = args.get_keyword(head);
      if (!kw) throw RenderError{"KeyError: '" + std::string(head) + "'"};
      v = *kw;
    }
    while (name_end != std::string_view::npos && name_end < field.size()) {
      if (field[name_end] == '.') {
        const std::size_t next = field.find_first_of(".[", name_end + 1);
        v = ev.getattr(v, std::string(field.substr(name_end + 1, next - name_end - 1)));
        name_end = next;
      } else {
        const std::size_t close = field.find(']', name_end);
        if (close == std::string_view::npos) throw RenderError{"Missing ']' in format string"};
        const std::string key(field.substr(name_end + 1, close - name_end - 1));
        const bool digits =
            !key.empty() && key.find_first_not_of("0123456789") == std::string::npos;
        v = ev.getitem(v, digits ? Value::integer(std::stoll(key)) : Value::string(key));
        name_end = close + 1;
      }
    }
    if (conversion == "r")
      v = Value::string(repr(v));
    else if (conversion == "s")
      v = Value::string(to_str(v));
    out += format_value(v, spec);
  }
  return out;
}

std::string py_percent(std::string_view f, const Value& args) {
  std::vector<Value> items;
  const bool mapping = args.is_dict();
  if (args.type == Value::Type::Tuple)
    items = *args.list;
  else
    items.push_back(args);
  std::size_t next = 0;
  std::string out;
  for (std::size_t k = 0; k < f.size(); ++k) {
    if (f[k] != '%') {
      out += f[k];
      continue;
    }
    if (++k >= f.size()) throw RenderError{"incomplete format"};
    Value v;
    bool have_value = false;
    if (f[k] == '(') {
      const auto close = f.find(')', k);
      if (close == std::string_view::npos) throw RenderError{"incomplete format key"};
      if (!mapping) throw RenderError{"format requires a mapping"};
      const Value* x = args.dict->find(f.substr(k + 1, close - k - 1));
      if (!x) throw RenderError{"KeyError: '" + std::string(f.substr(k + 1, close - k - 1)) + "'"};
      v = *x;
      have_value = true;
      k = close + 1;
    }
    Spec spec;
    for (; k < f.size(); ++k) {
      const char c = f[k];
      if (c == '-')
        spec.align = '<';
      else if (c == '+')
        spec.sign = '+';
      else if (c == ' ') {
        if (spec.sign != '+') spec.sign = ' ';
      } else if (c == '#')
        spec.alternate = true;
      else if (c == '0')
        spec.zero = true;
      else
        break;
    }
    if (k < f.size() && f[k] == '*') throw RenderError{"* width is not supported"};
    while (k < f.size() && f[k] >= '0' && f[k] <= '9')
      spec.width = (spec.width < 0 ? 0 : spec.width) * 10 + (f[k++] - '0');
    if (k < f.size() && f[k] == '.') {
      ++k;
      spec.precision = 0;
      while (k < f.size() && f[k] >= '0' && f[k] <= '9')
        spec.precision = spec.precision * 10 + (f[k++] - '0');
    }
    if (k >= f.size()) throw RenderError{"incomplete format"};
    const char type = f[k];
    if (type == '%') {
      out += '%';
      continue;
    }
    if (!have_value) {
      if (mapping) {
        v = args;
      } else {
        if (next >= items.size()) throw RenderError{"not enough arguments for format string"};
        v = items[next++];
      }
    }
    if (spec.align == '<') spec.zero = false;
    switch (type) {
      case 's':
      case 'r':
      case 'a': {
        std::string s = type == 's' ? to_str(v) : repr(v);
        if (spec.precision >= 0) {
          const std::u32string u = utf8_decode(s);
          if (u.size() > static_cast<std::size_t>(spec.precision))
            s = utf8_encode(
                std::u32string_view(u).substr(0, static_cast<std::size_t>(spec.precision)));
        }
        Spec p = spec;
        p.align = spec.align ? '<' : '>';
        out += pad(s, p, '>');
        break;
      }
      case 'd':
      case 'i':
      case 'u':
      case 'x':
      case 'X':
      case 'o':
      case 'c':
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G': {
        if (!v.is_number())
          throw RenderError{std::string("%") + type + " format: a real number is required, not " +
                            v.type_name().substr(0, v.type_name().find(' '))};
        Spec p = spec;
        p.type = type == 'i' || type == 'u' ? 'd' : type;
        Value x = v;
        if ((p.type == 'd' || p.type == 'x' || p.type == 'X' || p.type == 'o') &&
            v.type == Value::Type::Float)
          x = Value::integer(static_cast<std::int64_t>(std::trunc(v.f)));
        if (p.type == 'd' || p.type == 'x' || p.type == 'X' || p.type == 'o') p.precision = -1;
        out += format_number(x, p);
        break;
      }
      default:
        throw RenderError{std::string("unsupported format character '") + type + "'"};
    }
  }
  // Python treats any argument with __getitem__ but a tuple or str (a list) as a mapping here.
  if (!mapping && next < items.size() && args.type != Value::Type::List)
    throw RenderError{"not all arguments converted during string formatting"};
  return out;
}

}  // namespace loom::jinja
