#include "jinja/value.h"

#include <utf8proc.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace loom::jinja {

Value Value::make_list(List items) {
  Value v;
  v.type = Type::List;
  v.list = std::make_shared<List>(std::move(items));
  return v;
}

Value Value::make_tuple(List items) {
  Value v = make_list(std::move(items));
  v.type = Type::Tuple;
  return v;
}

Value Value::make_dict() {
  Value v;
  v.type = Type::Dict;
  v.dict = std::make_shared<Dict>();
  return v;
}

Value Value::make_namespace() {
  Value v = make_dict();
  v.type = Type::Namespace;
  return v;
}

Value Value::function(std::string name, std::function<Value(Args&)> call) {
  Value v;
  v.type = Type::Function;
  v.fn = std::make_shared<Function>(Function{std::move(name), std::move(call)});
  return v;
}

bool Value::truthy() const {
  switch (type) {
    case Type::Undefined:
    case Type::None:
      return false;
    case Type::Bool:
      return b;
    case Type::Int:
      return i != 0;
    case Type::Float:
      return f != 0.0;
    case Type::String:
      return !s.empty();
    case Type::List:
    case Type::Tuple:
      return !list->empty();
    case Type::Dict:
      return !dict->items.empty();
    default:
      return true;
  }
}

std::string Value::type_name() const {
  switch (type) {
    case Type::Undefined:
      return "Undefined";
    case Type::None:
      return "None";
    case Type::Bool:
      return "bool object";
    case Type::Int:
      return "int object";
    case Type::Float:
      return "float object";
    case Type::String:
      return "str object";
    case Type::List:
      return "list object";
    case Type::Tuple:
      return "tuple object";
    case Type::Dict:
      return "dict object";
    case Type::Namespace:
      return "Namespace object";
    case Type::Function:
      return "function object";
    case Type::Loop:
      return "LoopContext object";
  }
  return "object";
}

const Value* Dict::find(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.s));
  for (const auto& [k, v] : items)
    if (equals(k, key)) return &v;
  return nullptr;
}

const Value* Dict::find(std::string_view key) const {
  for (const auto& [k, v] : items)
    if (k.type == Value::Type::String && k.s == key) return &v;
  return nullptr;
}

void Dict::set(Value key, Value value) {
  for (auto& [k, v] : items)
    if (equals(k, key)) {
      v = std::move(value);
      return;
    }
  items.emplace_back(std::move(key), std::move(value));
}

const Value* Args::get(std::size_t position, std::string_view name) const {
  if (position < positional.size()) return &positional[position];
  return get_keyword(name);
}

const Value* Args::get_keyword(std::string_view name) const {
  for (const auto& [k, v] : keyword)
    if (k == name) return &v;
  return nullptr;
}

Value LoopState::attribute(std::string_view name) const {
  const auto n = static_cast<std::int64_t>(items->size());
  const auto i0 = static_cast<std::int64_t>(index0);
  if (name == "index") return Value::integer(i0 + 1);
  if (name == "index0") return Value::integer(i0);
  if (name == "revindex") return Value::integer(n - i0);
  if (name == "revindex0") return Value::integer(n - i0 - 1);
  if (name == "first") return Value::boolean(i0 == 0);
  if (name == "last") return Value::boolean(i0 == n - 1);
  if (name == "length") return Value::integer(n);
  if (name == "depth") return Value::integer(static_cast<std::int64_t>(depth0) + 1);
  if (name == "depth0") return Value::integer(static_cast<std::int64_t>(depth0));
  if (name == "previtem")
    return i0 > 0 ? (*items)[index0 - 1] : Value::undefined("there is no previous item");
  if (name == "nextitem")
    return i0 + 1 < n ? (*items)[index0 + 1] : Value::undefined("there is no next item");
  return Value::undefined("'LoopContext object' has no attribute '" + std::string(name) + "'");
}

// ---- UTF-8 ----

void utf8_append(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

std::u32string utf8_decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    utf8proc_int32_t c = 0;
    const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
                                    static_cast<utf8proc_ssize_t>(s.size() - i), &c);
    if (n <= 0) {  // an invalid byte stands for itself, as U+FFFD would lose it
      out += static_cast<char32_t>(0xFFFD);
      ++i;
      continue;
    }
    out += static_cast<char32_t>(c);
    i += static_cast<std::size_t>(n);
  }
  return out;
}

std::string utf8_encode(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) utf8_append(out, c);
  return out;
}

// ---- printing ----

std::string float_repr(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  if (x == 0) return std::signbit(x) ? "-0.0" : "0.0";
  char buf[64];
  // The shortest digits that read back as X, in scientific form: d.ddde[+-]XX.
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  (void)ec;
  std::string_view sci(buf, static_cast<std::size_t>(end - buf));
  const bool negative = sci.front() == '-';
  if (negative) sci.remove_prefix(1);
  const auto e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e))
    if (c != '.') digits += c;
  int exponent = 0;
  std::from_chars(sci.data() + e + 1 + (sci[e + 1] == '+' ? 1 : 0), sci.data() + sci.size(),
                  exponent);
  const int decpt = exponent + 1;  // value = 0.DIGITS * 10^decpt
  std::string out = negative ? "-" : "";
  if (decpt > -4 && decpt <= 16) {  // Python's repr: positional notation in this range
    if (decpt <= 0) {
      out += "0.";
      out.append(static_cast<std::size_t>(-decpt), '0');
      out += digits;
    } else if (static_cast<std::size_t>(decpt) >= digits.size()) {
      out += digits;
      out.append(static_cast<std::size_t>(decpt) - digits.size(), '0');
      out += ".0";
    } else {
      out += digits.substr(0, static_cast<std::size_t>(decpt));
      out += '.';
      out += digits.substr(static_cast<std::size_t>(decpt));
    }
    return out;
  }
  out += digits[0];
  if (digits.size() > 1) {
    out += '.';
    out += digits.substr(1);
  }
  out += 'e';
  out += exponent < 0 ? '-' : '+';
  const int a = std::abs(exponent);
  if (a < 10) out += '0';
  out += std::to_string(a);
  return out;
}

static bool printable(char32_t c) {
  if (c < 0x20 || c == 0x7F) return false;
  if (c < 0x7F) return true;
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  switch (cat) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

std::string string_repr(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t c : utf8_decode(s)) {
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (printable(c)) {
      utf8_append(out, c);
    } else {
      char buf[16];
      if (c < 0x100)
        std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
      else if (c < 0x10000)
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      else
        std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(c));
      out += buf;
    }
  }
  out += quote;
  return out;
}

void append_repr(std::string& out, const Value& v) {
  switch (v.type) {
    case Value::Type::String:
      out += string_repr(v.s);
      return;
    case Value::Type::Undefined:
      out += "Undefined";
      return;
    default:
      append_str(out, v);
  }
}

std::string repr(const Value& v) {
  std::string out;
  append_repr(out, v);
  return out;
}

namespace {
// Containers nest at most this deep when printed: only a namespace can hold itself (ns.x = ns).
constexpr int kMaxPrintDepth = 200;
thread_local int print_depth = 0;
struct DepthGuard {
  DepthGuard() {
    if (++print_depth > kMaxPrintDepth) {
      print_depth = 0;
      throw RenderError{"a value nested too deeply to print (a namespace that holds itself?)"};
    }
  }
  ~DepthGuard() {
    if (print_depth > 0) --print_depth;
  }
};
}  // namespace

void append_str(std::string& out, const Value& v) {
  switch (v.type) {
    case Value::Type::Undefined:
      return;
    case Value::Type::None:
      out += "None";
      return;
    case Value::Type::Bool:
      out += v.b ? "True" : "False";
      return;
    case Value::Type::Int:
      out += std::to_string(v.i);
      return;
    case Value::Type::Float:
      out += float_repr(v.f);
      return;
    case Value::Type::String:
      out += v.s;
      return;
    case Value::Type::List:
    case Value::Type::Tuple: {
      const DepthGuard guard;
      const bool tuple = v.type == Value::Type::Tuple;
      out += tuple ? '(' : '[';
      for (std::size_t k = 0; k < v.list->size(); ++k) {
        if (k) out += ", ";
        append_repr(out, (*v.list)[k]);
      }
      if (tuple && v.list->size() == 1) out += ',';
      out += tuple ? ')' : ']';
      return;
    }
    case Value::Type::Dict:
    case Value::Type::Namespace: {
      const DepthGuard guard;
      if (v.type == Value::Type::Namespace) out += "<Namespace ";
      out += '{';
      bool first = true;
      for (const auto& [k, x] : v.dict->items) {
        if (!first) out += ", ";
        first = false;
        append_repr(out, k);
        out += ": ";
        append_repr(out, x);
      }
      out += '}';
      if (v.type == Value::Type::Namespace) out += '>';
      return;
    }
    case Value::Type::Function:
      out += "<function " + v.fn->name + ">";
      return;
    case Value::Type::Loop:
      out += "<LoopContext " + std::to_string(v.loop->index0 + 1) + "/" +
             std::to_string(v.loop->items->size()) + ">";
      return;
  }
}

std::string to_str(const Value& v) {
  if (v.type == Value::Type::String) return v.s;
  std::string out;
  append_str(out, v);
  return out;
}

// ---- comparison ----

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.type == Value::Type::Float || b.type == Value::Type::Float)
      return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.is_list() && b.is_list()) {
    if (a.type != b.type || a.list->size() != b.list->size()) return false;
    for (std::size_t k = 0; k < a.list->size(); ++k)
      if (!equals((*a.list)[k], (*b.list)[k])) return false;
    return true;
  }
  if (a.type != b.type) return false;
  switch (a.type) {
    case Value::Type::Undefined:
    case Value::Type::None:
      return true;
    case Value::Type::String:
      return a.s == b.s;
    case Value::Type::Dict: {
      if (a.dict->items.size() != b.dict->items.size()) return false;
      for (const auto& [k, x] : a.dict->items) {
        const Value* y = b.dict->find(k);
        if (!y || !equals(x, *y)) return false;
      }
      return true;
    }
    case Value::Type::Namespace:
      return a.dict == b.dict;
    case Value::Type::Function:
      return a.fn == b.fn;
    case Value::Type::Loop:
      return a.loop == b.loop;
    default:
      return false;
  }
}

static std::string short_type(const Value& v) {
  switch (v.type) {
    case Value::Type::None:
      return "NoneType";
    case Value::Type::Undefined:
      return "Undefined";
    default: {
      std::string t = v.type_name();
      return t.substr(0, t.find(' '));
    }
  }
}

bool less(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.type == Value::Type::Float || b.type == Value::Type::Float)
      return a.as_float() < b.as_float();
    return a.as_int() < b.as_int();
  }
  if (a.is_string() && b.is_string()) return a.s < b.s;  // UTF-8 order is code point order
  if (a.is_list() && b.is_list() && a.type == b.type) {
    const auto n = std::min(a.list->size(), b.list->size());
    for (std::size_t k = 0; k < n; ++k) {
      const Value& x = (*a.list)[k];
      const Value& y = (*b.list)[k];
      if (!equals(x, y)) return less(x, y);
    }
    return a.list->size() < b.list->size();
  }
  throw RenderError{"'<' not supported between instances of '" + short_type(a) + "' and '" +
                    short_type(b) + "'"};
}

// ---- JSON ----

Value from_json(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
      return Value::none();
    case nlohmann::ordered_json::value_t::boolean:
      return Value::boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Value::integer(j.get<std::int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const auto u = j.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(INT64_MAX)) return Value::number(static_cast<double>(u));
      return Value::integer(static_cast<std::int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float:
      return Value::number(j.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return Value::string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      List items;
      items.reserve(j.size());
      for (const auto& x : j) items.push_back(from_json(x));
      return Value::make_list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Value d = Value::make_dict();
      d.dict->items.reserve(j.size());
      for (auto it = j.begin(); it != j.end(); ++it)
        d.dict->items.emplace_back(Value::string(it.key()), from_json(it.value()));
      return d;
    }
    default:
      return Value::none();
  }
}

static void dump_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out += '"';
  if (ensure_ascii) {
    for (char32_t c : utf8_decode(s)) {
      char buf[16];
      if (c == '"') {
        out += "\\\"";
      } else if (c == '\\') {
        out += "\\\\";
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\r') {
        out += "\\r";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c == '\b') {
        out += "\\b";
      } else if (c == '\f') {
        out += "\\f";
      } else if (c < 0x20 || (c >= 0x7F && c < 0x10000)) {
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
        out += buf;
      } else if (c >= 0x10000) {
        const char32_t u = c - 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (u >> 10)),
                      static_cast<unsigned>(0xDC00 + (u & 0x3FF)));
        out += buf;
      } else {
        out += static_cast<char>(c);
      }
    }
  } else {
    for (char c : s) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
            out += buf;
          } else {
            out += c;
          }
      }
    }
  }
  out += '"';
}

static void newline_indent(std::string& out, const DumpOptions& o, int level) {
  out += '\n';
  for (int k = 0; k < level; ++k) out += o.indent_text;
}

void dump_json(std::string& out, const Value& v, const DumpOptions& o, int level) {
  if (level > kMaxPrintDepth) throw RenderError{"Circular reference detected"};
  switch (v.type) {
    case Value::Type::None:
      out += "null";
      return;
    case Value::Type::Bool:
      out += v.b ? "true" : "false";
      return;
    case Value::Type::Int:
      out += std::to_string(v.i);
      return;
    case Value::Type::Float:
      if (std::isnan(v.f))
        out += "NaN";
      else if (std::isinf(v.f))
        out += v.f > 0 ? "Infinity" : "-Infinity";
      else
        out += float_repr(v.f);
      return;
    case Value::Type::String:
      dump_string(out, v.s, o.ensure_ascii);
      return;
    case Value::Type::List:
    case Value::Type::Tuple: {
      if (v.list->empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (std::size_t k = 0; k < v.list->size(); ++k) {
        if (k) out += o.item_separator;
        if (o.indent) newline_indent(out, o, level + 1);
        dump_json(out, (*v.list)[k], o, level + 1);
      }
      if (o.indent) newline_indent(out, o, level);
      out += ']';
      return;
    }
    case Value::Type::Dict: {
      if (v.dict->items.empty()) {
        out += "{}";
        return;
      }
      std::vector<const std::pair<Value, Value>*> items;
      for (const auto& kv : v.dict->items) items.push_back(&kv);
      if (o.sort_keys)
        std::stable_sort(items.begin(), items.end(),
                         [](const auto* a, const auto* b) { return less(a->first, b->first); });
      out += '{';
      bool first = true;
      for (const auto* kv : items) {
        if (!first) out += o.item_separator;
        first = false;
        if (o.indent) newline_indent(out, o, level + 1);
        const Value& k = kv->first;
        if (k.is_string())
          dump_string(out, k.s, o.ensure_ascii);
        else if (k.type == Value::Type::Bool)
          dump_string(out, k.b ? "true" : "false", false);
        else if (k.is_none())
          dump_string(out, "null", false);
        else if (k.is_number())
          dump_string(out, to_str(k), false);
        else
          throw RenderError{"keys must be str, int, float, bool or None, not " + short_type(k)};
        out += o.key_separator;
        dump_json(out, kv->second, o, level + 1);
      }
      if (o.indent) newline_indent(out, o, level);
      out += '}';
      return;
    }
    default:
      throw RenderError{"Object of type " +
                        (v.type == Value::Type::Namespace ? std::string("Namespace")
                         : v.type == Value::Type::Loop    ? std::string("LoopContext")
                                                          : short_type(v)) +
                        " is not JSON serializable"};
  }
}

// ---- iteration ----

List iterate(const Value& v) {
  switch (v.type) {
    case Value::Type::List:
    case Value::Type::Tuple:
      return *v.list;
    case Value::Type::Dict: {
      List keys;
      keys.reserve(v.dict->items.size());
      for (const auto& kv : v.dict->items) keys.push_back(kv.first);
      return keys;
    }
    case Value::Type::String: {
      List chars;
      std::string one;
      for (char32_t c : utf8_decode(v.s)) {
        one.clear();
        utf8_append(one, c);
        chars.push_back(Value::string(one));
      }
      return chars;
    }
    case Value::Type::Undefined:
      return {};
    default:
      throw RenderError{"'" + short_type(v) + "' object is not iterable"};
  }
}

std::int64_t length(const Value& v) {
  switch (v.type) {
    case Value::Type::List:
    case Value::Type::Tuple:
      return static_cast<std::int64_t>(v.list->size());
    case Value::Type::Dict:
    case Value::Type::Namespace:
      return static_cast<std::int64_t>(v.dict->items.size());
    case Value::Type::String: {
      std::int64_t n = 0;
      for (char c : v.s)
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
      return n;
    }
    case Value::Type::Undefined:
      return 0;
    default:
      throw RenderError{"object of type '" + short_type(v) + "' has no len()"};
  }
}

}  // namespace loom::jinja
