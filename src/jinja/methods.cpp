// The methods of str, list, tuple and dict that templates call (message.content.strip(),
// messages.items(), ...), with Python's semantics; the mutating ones are refused, as
// ImmutableSandboxedEnvironment refuses them.
#include <algorithm>
#include <set>
#include <string>

#include "jinja/builtins.h"
#include "jinja/evaluator.h"
#include "jinja/text.h"

namespace loom::jinja {
namespace {

const std::set<std::string, std::less<>> kStrMethods = {
    "capitalize",   "casefold",    "center",    "count",      "encode",       "endswith",
    "expandtabs",   "find",        "format",    "format_map", "index",        "isalnum",
    "isalpha",      "isascii",     "isdecimal", "isdigit",    "isidentifier", "islower",
    "isnumeric",    "isprintable", "isspace",   "istitle",    "isupper",      "join",
    "ljust",        "lower",       "lstrip",    "maketrans",  "partition",    "removeprefix",
    "removesuffix", "replace",     "rfind",     "rindex",     "rjust",        "rpartition",
    "rsplit",       "rstrip",      "split",     "splitlines", "startswith",   "strip",
    "swapcase",     "title",       "translate", "upper",      "zfill"};
const std::set<std::string, std::less<>> kListMethods = {"append", "clear",   "copy",   "count",
                                                         "extend", "index",   "insert", "pop",
                                                         "remove", "reverse", "sort"};
const std::set<std::string, std::less<>> kTupleMethods = {"count", "index"};
const std::set<std::string, std::less<>> kDictMethods = {
    "clear", "copy",    "fromkeys",   "get",    "items", "keys",
    "pop",   "popitem", "setdefault", "update", "values"};
const std::set<std::string, std::less<>> kUnsafeList = {"append", "clear",  "extend",  "insert",
                                                        "pop",    "remove", "reverse", "sort"};
const std::set<std::string, std::less<>> kUnsafeDict = {"clear", "pop", "popitem", "setdefault",
                                                        "update"};

std::string need_str(const Value* v, std::string_view what) {
  if (!v || !v->is_string())
    throw RenderError{std::string(what) + " argument must be str, not " +
                      (v ? v->type_name().substr(0, v->type_name().find(' ')) : "nothing")};
  return v->s;
}

// Code point offsets of a start/end pair as Python's str.find(sub, start, end) takes them.
std::pair<std::size_t, std::size_t> byte_range(const std::string& s, const Args& a,
                                               std::size_t first) {
  const Value* start = a.get(first, "");
  const Value* end = a.get(first + 1, "");
  if ((!start || start->is_none()) && (!end || end->is_none())) return {0, s.size()};
  const std::u32string u = utf8_decode(s);
  const auto n = static_cast<std::int64_t>(u.size());
  auto norm = [n](const Value* v, std::int64_t fallback) {
    if (!v || v->is_none()) return fallback;
    std::int64_t k = v->as_int();
    if (k < 0) k = std::max<std::int64_t>(k + n, 0);
    return std::min(k, n);
  };
  const std::int64_t b = norm(start, 0), e = norm(end, n);
  if (b > e) return {1, 0};
  const std::size_t bb =
      utf8_encode(std::u32string_view(u).substr(0, static_cast<std::size_t>(b))).size();
  const std::size_t eb =
      utf8_encode(std::u32string_view(u).substr(0, static_cast<std::size_t>(e))).size();
  return {bb, eb};
}

std::int64_t cp_index(const std::string& s, std::size_t byte) {
  std::int64_t n = 0;
  for (std::size_t k = 0; k < byte; ++k)
    if ((static_cast<unsigned char>(s[k]) & 0xC0) != 0x80) ++n;
  return n;
}

bool affix(const std::string& s, const Args& a, bool prefix) {
  const Value* x = a.get(0, "");
  if (!x)
    throw RenderError{std::string(prefix ? "startswith" : "endswith") +
                      " takes at least 1 argument"};
  auto [b, e] = byte_range(s, a, 1);
  if (b > e) return false;
  const std::string_view view = std::string_view(s).substr(b, e - b);
  auto one = [&](const Value& p) {
    if (!p.is_string())
      throw RenderError{std::string(prefix ? "startswith" : "endswith") +
                        " first arg must be str or a tuple of str, not " +
                        p.type_name().substr(0, p.type_name().find(' '))};
    return prefix ? view.substr(0, p.s.size()) == p.s
                  : view.size() >= p.s.size() && view.substr(view.size() - p.s.size()) == p.s;
  };
  if (x->type == Value::Type::Tuple) {
    for (const auto& p : *x->list)
      if (one(p)) return true;
    return false;
  }
  return one(*x);
}

Value strings(const std::vector<std::string>& parts) {
  List items;
  items.reserve(parts.size());
  for (const auto& p : parts) items.push_back(Value::string(p));
  return Value::make_list(std::move(items));
}

std::string justify(const std::string& s, const Args& a, char how) {
  const std::int64_t width = int_arg(a.get(0, "width"), 0, "width");
  const std::string fill = str_arg(a.get(1, "fillchar"), " ");
  const std::int64_t len = length(Value::string(s));
  if (width <= len) return s;
  const std::int64_t margin = width - len;
  std::int64_t left = how == '<' ? 0 : how == '>' ? margin : margin / 2 + (margin & width & 1);
  std::string out;
  for (std::int64_t k = 0; k < left; ++k) out += fill;
  out += s;
  for (std::int64_t k = 0; k < margin - left; ++k) out += fill;
  return out;
}

std::vector<std::string> splitlines(const std::string& s, bool keepends) {
  std::vector<std::string> out;
  const std::u32string u = utf8_decode(s);
  std::size_t start = 0;
  for (std::size_t k = 0; k < u.size(); ++k) {
    const char32_t c = u[k];
    const bool br = c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0x1C || c == 0x1D ||
                    c == 0x1E || c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!br) continue;
    std::size_t end = k;
    if (c == '\r' && k + 1 < u.size() && u[k + 1] == '\n') ++k;
    out.push_back(
        utf8_encode(std::u32string_view(u).substr(start, (keepends ? k + 1 : end) - start)));
    start = k + 1;
  }
  if (start < u.size()) out.push_back(utf8_encode(std::u32string_view(u).substr(start)));
  return out;
}

Value str_method(Evaluator& ev, const std::string& s, std::string_view name, Args& a) {
  if (name == "startswith") return Value::boolean(affix(s, a, true));
  if (name == "endswith") return Value::boolean(affix(s, a, false));
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const Value* chars = a.get(0, "chars");
    std::string set;
    const bool have = chars && !chars->is_none();
    if (have) set = need_str(chars, name == "strip" ? "strip" : std::string(name));
    return Value::string(py_strip(s, name != "rstrip", name != "lstrip", have ? &set : nullptr));
  }
  if (name == "split" || name == "rsplit") {
    const Value* sep = a.get(0, "sep");
    const std::int64_t maxsplit = int_arg(a.get(1, "maxsplit"), -1, "maxsplit");
    std::string sep_text;
    const bool have = sep && !sep->is_none();
    if (have) sep_text = need_str(sep, "sep");
    return strings(name == "split" ? py_split(s, have ? &sep_text : nullptr, maxsplit)
                                   : py_rsplit(s, have ? &sep_text : nullptr, maxsplit));
  }
  if (name == "splitlines") {
    const Value* keep = a.get(0, "keepends");
    return strings(splitlines(s, keep && keep->truthy()));
  }
  if (name == "upper") return Value::string(py_upper(s));
  if (name == "lower" || name == "casefold") return Value::string(py_lower(s));
  if (name == "title") return Value::string(py_title(s));
  if (name == "capitalize") return Value::string(py_capitalize(s));
  if (name == "swapcase") {
    std::string out;
    for (char32_t c : utf8_decode(s)) {
      std::string one;
      utf8_append(one, c);
      const std::string up = py_upper(one);
      out += up != one ? up : py_lower(one);
    }
    return Value::string(out);
  }
  if (name == "replace") {
    const std::string old = need_str(a.get(0, "old"), "replace() 1st");
    const std::string rep = need_str(a.get(1, "new"), "replace() 2nd");
    return Value::string(py_replace(s, old, rep, int_arg(a.get(2, "count"), -1, "count")));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex") {
    const std::string sub = need_str(a.get(0, ""), std::string(name) + "()");
    auto [b, e] = byte_range(s, a, 1);
    std::size_t p = std::string::npos;
    if (b <= e && sub.size() <= e - b) {
      const std::string_view view = std::string_view(s).substr(b, e - b);
      p = name[0] == 'r' ? view.rfind(sub) : view.find(sub);
    }
    if (p == std::string::npos) {
      if (name == "index" || name == "rindex") throw RenderError{"substring not found"};
      return Value::integer(-1);
    }
    return Value::integer(cp_index(s, b + p));
  }
  if (name == "count") {
    const std::string sub = need_str(a.get(0, ""), "count()");
    auto [b, e] = byte_range(s, a, 1);
    if (b > e) return Value::integer(0);
    const std::string_view view = std::string_view(s).substr(b, e - b);
    if (sub.empty()) return Value::integer(length(Value::string(std::string(view))) + 1);
    std::int64_t n = 0;
    for (std::size_t p = view.find(sub); p != std::string_view::npos;
         p = view.find(sub, p + sub.size()))
      ++n;
    return Value::integer(n);
  }
  if (name == "join") {
    const Value* items = a.get(0, "");
    if (!items) throw RenderError{"join() takes exactly one argument (0 given)"};
    std::string out;
    bool first = true;
    for (const auto& x : iterate(*items)) {
      if (!x.is_string())
        throw RenderError{"sequence item: expected str instance, " +
                          x.type_name().substr(0, x.type_name().find(' ')) + " found"};
      if (!first) out += s;
      first = false;
      out += x.s;
    }
    return Value::string(out);
  }
  if (name == "format") return Value::string(py_format(ev, s, a));
  if (name == "format_map") {
    Args kw;
    if (const Value* m = a.get(0, ""); m && m->is_dict())
      for (const auto& [k, v] : m->dict->items) kw.keyword.emplace_back(to_str(k), v);
    return Value::string(py_format(ev, s, kw));
  }
  if (name == "center") return Value::string(justify(s, a, '^'));
  if (name == "ljust") return Value::string(justify(s, a, '<'));
  if (name == "rjust") return Value::string(justify(s, a, '>'));
  if (name == "zfill") {
    const std::int64_t width = int_arg(a.get(0, "width"), 0, "width");
    const std::int64_t len = length(Value::string(s));
    if (width <= len) return Value::string(s);
    const std::size_t sign = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
    return Value::string(s.substr(0, sign) +
                         std::string(static_cast<std::size_t>(width - len), '0') + s.substr(sign));
  }
  if (name == "removeprefix" || name == "removesuffix") {
    const std::string x = need_str(a.get(0, ""), std::string(name) + "()");
    if (name == "removeprefix" && s.compare(0, x.size(), x) == 0)
      return Value::string(s.substr(x.size()));
    if (name == "removesuffix" && !x.empty() && s.size() >= x.size() &&
        s.compare(s.size() - x.size(), x.size(), x) == 0)
      return Value::string(s.substr(0, s.size() - x.size()));
    return Value::string(s);
  }
  if (name == "partition" || name == "rpartition") {
    const std::string sep = need_str(a.get(0, ""), std::string(name) + "()");
    if (sep.empty()) throw RenderError{"empty separator"};
    const std::size_t p = name == "partition" ? s.find(sep) : s.rfind(sep);
    if (p == std::string::npos)
      return name == "partition"
                 ? Value::make_tuple({Value::string(s), Value::string(""), Value::string("")})
                 : Value::make_tuple({Value::string(""), Value::string(""), Value::string(s)});
    return Value::make_tuple({Value::string(s.substr(0, p)), Value::string(sep),
                              Value::string(s.substr(p + sep.size()))});
  }
  if (name.substr(0, 2) == "is") {
    const std::u32string u = utf8_decode(s);
    if (name == "isascii") return Value::boolean(is_ascii(s));
    if (u.empty()) return Value::boolean(false);
    if (name == "isspace") return Value::boolean(std::all_of(u.begin(), u.end(), py_isspace));
    if (name == "isupper" || name == "islower") {
      const bool up = name == "isupper";
      bool cased = false;
      for (char32_t c : u) {
        std::string one;
        utf8_append(one, c);
        const std::string lo = py_lower(one), hi = py_upper(one);
        if (lo == hi) continue;
        cased = true;
        if ((up && one != hi) || (!up && one != lo)) return Value::boolean(false);
      }
      return Value::boolean(cased);
    }
    auto all = [&](auto pred) { return Value::boolean(std::all_of(u.begin(), u.end(), pred)); };
    auto alpha = [](char32_t c) {
      if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
      const std::string one = utf8_encode(std::u32string(1, c));
      return py_upper(one) != py_lower(one);  // an approximation of the L categories
    };
    auto digit = [](char32_t c) { return c >= '0' && c <= '9'; };
    if (name == "isdigit" || name == "isdecimal" || name == "isnumeric") return all(digit);
    if (name == "isalpha") return all(alpha);
    if (name == "isalnum") return all([&](char32_t c) { return alpha(c) || digit(c); });
    if (name == "isidentifier")
      return Value::boolean(!digit(u[0]) && std::all_of(u.begin(), u.end(), [&](char32_t c) {
        return alpha(c) || digit(c) || c == '_';
      }));
  }
  throw RenderError{"str." + std::string(name) + "() is not supported"};
}

Value list_method(const Value& obj, std::string_view name, Args& a) {
  const List& items = *obj.list;
  if (name == "count") {
    const Value* x = a.get(0, "");
    if (!x) throw RenderError{"count() takes exactly one argument (0 given)"};
    std::int64_t n = 0;
    for (const auto& v : items) n += equals(v, *x) ? 1 : 0;
    return Value::integer(n);
  }
  if (name == "index") {
    const Value* x = a.get(0, "");
    if (!x) throw RenderError{"index expected at least 1 argument, got 0"};
    for (std::size_t k = 0; k < items.size(); ++k)
      if (equals(items[k], *x)) return Value::integer(static_cast<std::int64_t>(k));
    throw RenderError{repr(*x) + " is not in list"};
  }
  if (name == "copy") return Value::make_list(items);
  throw RenderError{"list." + std::string(name) + "() is not supported"};
}

Value dict_method(const Value& obj, std::string_view name, Args& a) {
  const Dict& d = *obj.dict;
  if (name == "items") {
    List out;
    out.reserve(d.items.size());
    for (const auto& [k, v] : d.items) out.push_back(Value::make_tuple({k, v}));
    return Value::make_list(std::move(out));
  }
  if (name == "keys" || name == "values") {
    List out;
    out.reserve(d.items.size());
    for (const auto& [k, v] : d.items) out.push_back(name == "keys" ? k : v);
    return Value::make_list(std::move(out));
  }
  if (name == "get") {
    const Value* key = a.get(0, "");
    if (!key) throw RenderError{"get expected at least 1 argument, got 0"};
    if (const Value* v = d.find(*key)) return *v;
    const Value* fallback = a.get(1, "");
    return fallback ? *fallback : Value::none();
  }
  if (name == "copy") {
    Value c = Value::make_dict();
    c.dict->items = d.items;
    return c;
  }
  throw RenderError{"dict." + std::string(name) + "() is not supported"};
}

}  // namespace

bool has_method(const Value& obj, std::string_view name) {
  switch (obj.type) {
    case Value::Type::String:
      return kStrMethods.count(name) > 0;
    case Value::Type::List:
      return kListMethods.count(name) > 0;
    case Value::Type::Tuple:
      return kTupleMethods.count(name) > 0;
    case Value::Type::Dict:
      return kDictMethods.count(name) > 0;
    default:
      return false;
  }
}

bool is_unsafe_method(const Value& obj, std::string_view name) {
  if (obj.type == Value::Type::List) return kUnsafeList.count(name) > 0;
  if (obj.type == Value::Type::Dict) return kUnsafeDict.count(name) > 0;
  return false;
}

Value call_method(Evaluator& ev, const Value& obj, std::string_view name, Args& args) {
  switch (obj.type) {
    case Value::Type::String:
      return str_method(ev, obj.s, name, args);
    case Value::Type::List:
    case Value::Type::Tuple:
      return list_method(obj, name, args);
    case Value::Type::Dict:
      return dict_method(obj, name, args);
    default:
      throw RenderError{"'" + obj.type_name() + "' has no attribute '" + std::string(name) + "'"};
  }
}

std::int64_t int_arg(const Value* v, std::int64_t fallback, std::string_view what) {
  if (!v || v->is_none()) return fallback;
  if (!v->is_int())
    throw RenderError{"'" + v->type_name().substr(0, v->type_name().find(' ')) +
                      "' object cannot be interpreted as an integer (" + std::string(what) + ")"};
  return v->as_int();
}

std::string str_arg(const Value* v, std::string_view fallback) {
  if (!v || v->is_none()) return std::string(fallback);
  return to_str(*v);
}

}  // namespace loom::jinja
