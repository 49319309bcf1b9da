// jinja2's builtin filters as they behave with autoescape off, and transformers' tojson.
// Filters that return generators in jinja2 (map, select, batch, ...) return lists here.
#include <utf8proc.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "jinja/builtins.h"
#include "jinja/evaluator.h"
#include "jinja/text.h"

namespace loom::jinja {
namespace {

const Value* arg(const Args& a, std::size_t position, std::string_view name) {
  return a.get(position, name);
}
bool flag(const Args& a, std::size_t position, std::string_view name) {
  const Value* v = a.get(position, name);
  return v && v->truthy();
}

List to_list(const Value& v) {
  if (v.is_undefined()) return {};
  return iterate(v);
}

Value ignore_case(const Value& v) {
  return v.is_string() ? Value::string(py_lower(v.s)) : v;
}

Value f_abs(Evaluator&, const Value& v, Args&) {
  if (v.type == Value::Type::Float) return Value::number(std::fabs(v.f));
  if (v.is_int()) return Value::integer(std::llabs(v.as_int()));
  throw RenderError{"bad operand type for abs(): '" +
                    v.type_name().substr(0, v.type_name().find(' ')) + "'"};
}

Value f_attr(Evaluator& ev, const Value& v, Args& a) {
  const std::string name = str_arg(arg(a, 0, "name"), "");
  if (v.type == Value::Type::Namespace || v.type == Value::Type::Loop || has_method(v, name))
    return ev.getattr(v, name);
  if (v.is_undefined()) fail_undefined(v);
  return Value::undefined("'" + v.type_name() + "' has no attribute '" + name + "'");
}

Value f_batch(Evaluator&, const Value& v, Args& a) {
  const std::int64_t n = int_arg(arg(a, 0, "linecount"), 1, "linecount");
  if (n <= 0) throw RenderError{"batch size must be positive"};
  const Value* fill = arg(a, 1, "fill_with");
  List out, cur;
  for (const auto& x : to_list(v)) {
    if (static_cast<std::int64_t>(cur.size()) == n) {
      out.push_back(Value::make_list(std::move(cur)));
      cur.clear();
    }
    cur.push_back(x);
  }
  if (!cur.empty()) {
    if (fill && !fill->is_none())
      while (static_cast<std::int64_t>(cur.size()) < n) cur.push_back(*fill);
    out.push_back(Value::make_list(std::move(cur)));
  }
  return Value::make_list(std::move(out));
}

Value f_slice(Evaluator&, const Value& v, Args& a) {
  const std::int64_t slices = int_arg(arg(a, 0, "slices"), 1, "slices");
  if (slices <= 0) throw RenderError{"slices must be positive"};
  const Value* fill = arg(a, 1, "fill_with");
  const List seq = to_list(v);
  const auto n = static_cast<std::int64_t>(seq.size());
  const std::int64_t per = n / slices, extra = n % slices;
  std::int64_t offset = 0;
  List out;
  for (std::int64_t k = 0; k < slices; ++k) {
    const std::int64_t start = offset + k * per;
    if (k < extra) ++offset;
    const std::int64_t end = offset + (k + 1) * per;
    List part(seq.begin() + start, seq.begin() + end);
    if (fill && !fill->is_none() && k >= extra) part.push_back(*fill);
    out.push_back(Value::make_list(std::move(part)));
  }
  return Value::make_list(std::move(out));
}

Value f_capitalize(Evaluator&, const Value& v, Args&) {
  return Value::string(py_capitalize(to_str(v)));
}

Value f_center(Evaluator&, const Value& v, Args& a) {
  const std::string s = to_str(v);
  const std::int64_t width = int_arg(arg(a, 0, "width"), 80, "width");
  const std::int64_t len = length(Value::string(s));
  if (width <= len) return Value::string(s);
  const std::int64_t margin = width - len;
  const std::int64_t left = margin / 2 + (margin & width & 1);
  return Value::string(std::string(static_cast<std::size_t>(left), ' ') + s +
                       std::string(static_cast<std::size_t>(margin - left), ' '));
}

Value f_default(Evaluator&, const Value& v, Args& a) {
  const Value* d = arg(a, 0, "default_value");
  const bool boolean = flag(a, 1, "boolean");
  if (v.is_undefined() || (boolean && !v.truthy())) return d ? *d : Value::string("");
  return v;
}

Value f_dictsort(Evaluator&, const Value& v, Args& a) {
  if (!v.is_dict()) throw RenderError{"dictsort: the value is not a mapping"};
  const bool case_sensitive = flag(a, 0, "case_sensitive");
  const std::string by = str_arg(arg(a, 1, "by"), "key");
  const bool reverse = flag(a, 2, "reverse");
  if (by != "key" && by != "value")
    throw RenderError{"You can only sort by either \"key\" or \"value\""};
  const int pos = by == "key" ? 0 : 1;
  List items;
  for (const auto& [k, x] : v.dict->items) items.push_back(Value::make_tuple({k, x}));
  auto key = [&](const Value& t) {
    const Value& x = (*t.list)[static_cast<std::size_t>(pos)];
    return case_sensitive ? x : ignore_case(x);
  };
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    return reverse ? less(key(y), key(x)) : less(key(x), key(y));
  });
  return Value::make_list(std::move(items));
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

Value markup(std::string s) {
  Value v = Value::string(std::move(s));
  v.i = 1;
  return v;
}

Value f_escape(Evaluator&, const Value& v, Args&) {
  if (v.is_string() && v.i == 1) return v;  // already Markup
  return markup(html_escape(to_str(v)));
}
Value f_forceescape(Evaluator&, const Value& v, Args&) {
  return markup(html_escape(to_str(v)));
}

Value f_first(Evaluator&, const Value& v, Args&) {
  if (v.is_list())
    return v.list->empty() ? Value::undefined("No first item, sequence was empty.")
                           : v.list->front();
  const List items = to_list(v);
  return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value f_last(Evaluator&, const Value& v, Args&) {
  if (v.is_list())
    return v.list->empty() ? Value::undefined("No last item, sequence was empty.") : v.list->back();
  const List items = to_list(v);
  return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}

bool parse_float(const std::string& text, double& out) {
  const std::string t = py_strip(text, true, true);
  if (t.empty()) return false;
  std::string clean;
  for (char c : t)
    if (c != '_') clean += c;
  const std::string lower = py_lower(clean);
  const std::string body = lower[0] == '+' || lower[0] == '-' ? lower.substr(1) : lower;
  if (body == "inf" || body == "infinity" || body == "nan") {
    out = body == "nan" ? NAN : (lower[0] == '-' ? -INFINITY : INFINITY);
    return true;
  }
  if (body.empty() || body.find_first_not_of("0123456789.e+-") != std::string::npos) return false;
  char* end = nullptr;
  out = std::strtod(clean.c_str(), &end);
  return end && *end == '\0';
}

Value f_float(Evaluator&, const Value& v, Args& a) {
  if (v.is_undefined()) fail_undefined(v);  // float(Undefined) raises
  const Value* d = arg(a, 0, "default");
  const Value fallback = d ? *d : Value::number(0.0);
  if (v.is_number()) return Value::number(v.as_float());
  if (v.is_string()) {
    double x;
    if (parse_float(v.s, x)) return Value::number(x);
  }
  return fallback;
}

Value f_int(Evaluator&, const Value& v, Args& a) {
  if (v.is_undefined()) fail_undefined(v);  // int(Undefined) raises
  const Value* d = arg(a, 0, "default");
  const Value fallback = d ? *d : Value::integer(0);
  const std::int64_t base = int_arg(arg(a, 1, "base"), 10, "base");
  if (v.is_int()) return Value::integer(v.as_int());
  if (v.type == Value::Type::Float) {
    if (std::isnan(v.f) || std::isinf(v.f)) return fallback;
    return Value::integer(static_cast<std::int64_t>(std::trunc(v.f)));
  }
  if (v.is_string()) {
    std::string t = py_strip(v.s, true, true);
    std::string clean;
    for (char c : t)
      if (c != '_') clean += c;
    if (!clean.empty()) {
      char* end = nullptr;
      errno = 0;
      const long long x = std::strtoll(clean.c_str(), &end, static_cast<int>(base));
      if (end && *end == '\0' && errno == 0) return Value::integer(x);
    }
    double f;
    if (parse_float(v.s, f) && !std::isnan(f) && !std::isinf(f))
      return Value::integer(static_cast<std::int64_t>(std::trunc(f)));
  }
  return fallback;
}

std::vector<std::string> splitlines_simple(const std::string& s) {
  std::vector<std::string> out;
  const std::u32string u = utf8_decode(s);
  std::size_t start = 0;
  for (std::size_t k = 0; k < u.size(); ++k) {
    const char32_t c = u[k];
    if (!(c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0x1C || c == 0x1D || c == 0x1E ||
          c == 0x85 || c == 0x2028 || c == 0x2029))
      continue;
    out.push_back(utf8_encode(std::u32string_view(u).substr(start, k - start)));
    if (c == '\r' && k + 1 < u.size() && u[k + 1] == '\n') ++k;
    start = k + 1;
  }
  if (start < u.size()) out.push_back(utf8_encode(std::u32string_view(u).substr(start)));
  return out;
}

Value f_indent(Evaluator&, const Value& v, Args& a) {
  const Value* w = arg(a, 0, "width");
  std::string indention = "    ";
  if (w && w->is_string())
    indention = w->s;
  else if (w)
    indention = std::string(
        static_cast<std::size_t>(std::max<std::int64_t>(0, int_arg(w, 4, "width"))), ' ');
  const bool first = flag(a, 1, "first");
  const bool blank = flag(a, 2, "blank");
  if (!v.is_string()) {  // jinja2 appends a newline to the value itself
    if (v.is_undefined()) fail_undefined(v);
    throw RenderError{"indent needs a string, not " +
                      v.type_name().substr(0, v.type_name().find(' '))};
  }
  const std::string s = v.s + "\n";
  const std::vector<std::string> lines = splitlines_simple(s);
  std::string rv;
  if (blank) {
    for (std::size_t k = 0; k < lines.size(); ++k) {
      if (k) rv += "\n" + indention;
      rv += lines[k];
    }
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (std::size_t k = 1; k < lines.size(); ++k) {
      rv += "\n";
      if (!lines[k].empty()) rv += indention;
      rv += lines[k];
    }
  }
  if (first) rv = indention + rv;
  return Value::string(rv);
}

Value f_items(Evaluator&, const Value& v, Args&) {
  if (v.is_undefined()) return Value::make_list();
  if (!v.is_dict()) throw RenderError{"Can only get item pairs from a mapping."};
  List out;
  for (const auto& [k, x] : v.dict->items) out.push_back(Value::make_tuple({k, x}));
  return Value::make_list(std::move(out));
}

Value f_join(Evaluator& ev, const Value& v, Args& a) {
  const std::string d = str_arg(arg(a, 0, "d"), "");
  const Value* attribute = arg(a, 1, "attribute");
  std::string out;
  bool first = true;
  for (const auto& x : to_list(v)) {
    if (!first) out += d;
    first = false;
    append_str(out, attribute && !attribute->is_none() ? ev.attribute_path(x, *attribute) : x);
  }
  return Value::string(out);
}

Value f_length(Evaluator&, const Value& v, Args&) {
  return Value::integer(length(v));
}

Value f_list(Evaluator&, const Value& v, Args&) {
  return Value::make_list(to_list(v));
}

Value f_lower(Evaluator&, const Value& v, Args&) {
  return Value::string(py_lower(to_str(v)));
}
Value f_upper(Evaluator&, const Value& v, Args&) {
  return Value::string(py_upper(to_str(v)));
}

Value f_title(Evaluator&, const Value& v, Args&) {
  // Words begin after runs of -, whitespace, (, {, [ and <.
  const std::u32string u = utf8_decode(to_str(v));
  std::string out;
  std::size_t k = 0;
  auto delim = [](char32_t c) {
    return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || py_isspace(c);
  };
  while (k < u.size()) {
    std::size_t e = k;
    const bool d = delim(u[k]);
    while (e < u.size() && delim(u[e]) == d) ++e;
    const std::u32string_view part = std::u32string_view(u).substr(k, e - k);
    if (d) {
      out += utf8_encode(part);
    } else {
      out += py_upper(utf8_encode(part.substr(0, 1)));
      out += py_lower(utf8_encode(part.substr(1)));
    }
    k = e;
  }
  return Value::string(out);
}

Value f_replace(Evaluator&, const Value& v, Args& a) {
  const std::string old = str_arg(arg(a, 0, "old"), "");
  const std::string rep = str_arg(arg(a, 1, "new"), "");
  return Value::string(py_replace(to_str(v), old, rep, int_arg(arg(a, 2, "count"), -1, "count")));
}

Value f_reverse(Evaluator&, const Value& v, Args&) {
  if (v.is_string()) {
    std::u32string u = utf8_decode(v.s);
    std::reverse(u.begin(), u.end());
    return Value::string(utf8_encode(u));
  }
  List items = to_list(v);
  std::reverse(items.begin(), items.end());
  return Value::make_list(std::move(items));
}

Value f_round(Evaluator&, const Value& v, Args& a) {
  const std::int64_t precision = int_arg(arg(a, 0, "precision"), 0, "precision");
  const std::string method = str_arg(arg(a, 1, "method"), "common");
  if (method != "common" && method != "ceil" && method != "floor")
    throw RenderError{"method must be common, ceil or floor"};
  if (!v.is_number())
    throw RenderError{"type " + v.type_name().substr(0, v.type_name().find(' ')) +
                      " doesn't define __round__ method"};
  if (method == "common") {
    if (v.is_int()) {  // round(int, n): the int itself, or rounded half to even to 10**-n
      if (precision >= 0) return Value::integer(v.as_int());
      if (precision < -18) return Value::integer(0);
      std::int64_t p = 1;
      for (std::int64_t k = 0; k < -precision; ++k) p *= 10;
      std::int64_t q = v.as_int() / p, r = v.as_int() % p;
      if (r < 0) {
        r += p;
        q -= 1;
      }
      if (2 * r > p || (2 * r == p && (q & 1))) q += 1;
      return Value::integer(q * p);
    }
    char buf[512];
    if (precision >= 0 && precision < 300) {
      std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(precision),
                    v.f);  // round half even on the exact value
      return Value::number(std::strtod(buf, nullptr));
    }
    const double scale = std::pow(10.0, static_cast<double>(-precision));
    return Value::number(std::nearbyint(v.f / scale) * scale);
  }
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double x = v.as_float() * scale;
  return Value::number((method == "ceil" ? std::ceil(x) : std::floor(x)) / scale);
}

Value f_string(Evaluator&, const Value& v, Args&) {
  return Value::string(to_str(v));
}
Value f_safe(Evaluator&, const Value& v, Args&) {
  return markup(to_str(v));
}

Value f_trim(Evaluator&, const Value& v, Args& a) {
  const Value* chars = arg(a, 0, "chars");
  if (chars && !chars->is_none()) {
    const std::string set = to_str(*chars);
    return Value::string(py_strip(to_str(v), true, true, &set));
  }
  return Value::string(py_strip(to_str(v), true, true));
}

Value f_truncate(Evaluator&, const Value& v, Args& a) {
  if (!v.is_string() && !v.is_undefined()) {  // jinja2 takes len() of the value itself
    const std::int64_t n = length(v);         // raises for a number
    if (n <=
        int_arg(arg(a, 0, "length"), 255, "length") + int_arg(arg(a, 3, "leeway"), 5, "leeway"))
      return v;
    throw RenderError{"truncate needs a string"};
  }
  const std::string s = to_str(v);
  const std::int64_t len = int_arg(arg(a, 0, "length"), 255, "length");
  const bool killwords = flag(a, 1, "killwords");
  const std::string end = str_arg(arg(a, 2, "end"), "...");
  const std::int64_t leeway = int_arg(arg(a, 3, "leeway"), 5, "leeway");
  const std::u32string u = utf8_decode(s);
  const auto end_len = static_cast<std::int64_t>(utf8_decode(end).size());
  if (len < end_len)
    throw RenderError{"expected length >= " + std::to_string(end_len) + ", got " +
                      std::to_string(len)};
  if (static_cast<std::int64_t>(u.size()) <= len + leeway) return Value::string(s);
  const std::string head =
      utf8_encode(std::u32string_view(u).substr(0, static_cast<std::size_t>(len - end_len)));
  if (killwords) return Value::string(head + end);
  const auto space = head.rfind(' ');
  return Value::string((space == std::string::npos ? head : head.substr(0, space)) + end);
}

Value f_wordcount(Evaluator&, const Value& v, Args&) {
  std::int64_t n = 0;
  bool in_word = false;
  for (char32_t c : utf8_decode(to_str(v))) {
    bool w = c == '_' || (c < 0x80 && ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) ||
             (c >= '0' && c <= '9');
    if (c >= 0x80) {
      const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
      w = (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
          (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
    }
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value::integer(n);
}

Value f_tojson(Evaluator&, const Value& v, Args& a) {
  // transformers' tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
  DumpOptions o;
  o.ensure_ascii = flag(a, 0, "ensure_ascii");
  const Value* indent = arg(a, 1, "indent");
  if (indent && !indent->is_none()) {
    o.indent = true;
    if (indent->is_string())
      o.indent_text = indent->s;
    else
      o.indent_text = std::string(
          static_cast<std::size_t>(std::max<std::int64_t>(0, int_arg(indent, 0, "indent"))), ' ');
    o.item_separator = ",";
  }
  const Value* separators = arg(a, 2, "separators");
  if (separators && !separators->is_none()) {
    const List s = iterate(*separators);
    if (s.size() != 2)
      throw RenderError{"separators must be an (item_separator, key_separator) pair"};
    o.item_separator = to_str(s[0]);
    o.key_separator = to_str(s[1]);
  }
  o.sort_keys = flag(a, 3, "sort_keys");
  std::string out;
  dump_json(out, v, o);
  return Value::string(out);
}

Value f_unique(Evaluator& ev, const Value& v, Args& a) {
  const bool case_sensitive = flag(a, 0, "case_sensitive");
  const Value* attribute = arg(a, 1, "attribute");
  List seen, out;
  for (const auto& x : to_list(v)) {
    Value key = attribute && !attribute->is_none() ? ev.attribute_path(x, *attribute) : x;
    if (!case_sensitive) key = ignore_case(key);
    if (key.type == Value::Type::List || key.type == Value::Type::Dict)  // a set needs hashables
      throw RenderError{"unhashable type: '" +
                        key.type_name().substr(0, key.type_name().find(' ')) + "'"};
    bool dup = false;
    for (const auto& s : seen) dup = dup || equals(s, key);
    if (dup) continue;
    seen.push_back(key);
    out.push_back(x);
  }
  return Value::make_list(std::move(out));
}

// sort(attribute="a,b"): a list of keys per item.
Value sort_key(Evaluator& ev, const Value& item, const Value* attribute, bool case_sensitive) {
  if (!attribute || attribute->is_none()) return case_sensitive ? item : ignore_case(item);
  if (!attribute->is_string()) {
    Value k = ev.attribute_path(item, *attribute);
    return case_sensitive ? k : ignore_case(k);
  }
  List keys;
  std::size_t start = 0;
  for (;;) {
    const auto comma = attribute->s.find(',', start);
    Value k = ev.attribute_path(
        item, Value::string(attribute->s.substr(
                  start, comma == std::string::npos ? std::string::npos : comma - start)));
    keys.push_back(case_sensitive ? k : ignore_case(k));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return Value::make_list(std::move(keys));
}

Value f_sort(Evaluator& ev, const Value& v, Args& a) {
  const bool reverse = flag(a, 0, "reverse");
  const bool case_sensitive = flag(a, 1, "case_sensitive");
  const Value* attribute = arg(a, 2, "attribute");
  List items = to_list(v);
  std::vector<std::pair<Value, std::size_t>> keyed;
  for (std::size_t k = 0; k < items.size(); ++k)
    keyed.emplace_back(sort_key(ev, items[k], attribute, case_sensitive), k);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return reverse ? less(y.first, x.first) : less(x.first, y.first);
  });
  List out;
  for (const auto& [key, k] : keyed) out.push_back(items[k]);
  return Value::make_list(std::move(out));
}

Value min_max(Evaluator& ev, const Value& v, Args& a, bool max) {
  const bool case_sensitive = flag(a, 0, "case_sensitive");
  const Value* attribute = arg(a, 1, "attribute");
  const List items = to_list(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  auto key = [&](const Value& x) {
    Value k = attribute && !attribute->is_none() ? ev.attribute_path(x, *attribute) : x;
    return case_sensitive ? k : ignore_case(k);
  };
  std::size_t best = 0;
  Value best_key = key(items[0]);
  for (std::size_t k = 1; k < items.size(); ++k) {
    Value kk = key(items[k]);
    if (max ? less(best_key, kk) : less(kk, best_key)) {
      best = k;
      best_key = std::move(kk);
    }
  }
  return items[best];
}
Value f_min(Evaluator& ev, const Value& v, Args& a) {
  return min_max(ev, v, a, false);
}
Value f_max(Evaluator& ev, const Value& v, Args& a) {
  return min_max(ev, v, a, true);
}

Value f_sum(Evaluator& ev, const Value& v, Args& a) {
  const Value* attribute = arg(a, 0, "attribute");
  const Value* start = arg(a, 1, "start");
  Value total = start ? *start : Value::integer(0);
  for (const auto& x : to_list(v)) {
    const Value y = attribute && !attribute->is_none() ? ev.attribute_path(x, *attribute) : x;
    if (total.is_int() && y.is_int()) {
      std::int64_t r;
      if (__builtin_add_overflow(total.as_int(), y.as_int(), &r))
        throw RenderError{"integer overflow"};
      total = Value::integer(r);
    } else if (total.is_number() && y.is_number()) {
      total = Value::number(total.as_float() + y.as_float());
    } else if (total.is_list() && y.is_list()) {
      List items = *total.list;
      items.insert(items.end(), y.list->begin(), y.list->end());
      total = Value::make_list(std::move(items));
    } else {
      throw RenderError{"unsupported operand type(s) for +: '" +
                        total.type_name().substr(0, total.type_name().find(' ')) + "' and '" +
                        y.type_name().substr(0, y.type_name().find(' ')) + "'"};
    }
  }
  return total;
}

// map('filter', args...) or map(attribute='x', default=...).
Value f_map(Evaluator& ev, const Value& v, Args& a) {
  List out;
  if (!v.truthy()) return Value::make_list();  // jinja2 maps nothing over a false value
  const List items = to_list(v);
  if (a.positional.empty()) {
    const Value* attribute = a.get_keyword("attribute");
    if (!attribute) throw RenderError{"map requires a filter argument"};
    const Value* d = a.get_keyword("default");
    for (const auto& x : items) {
      Value r = ev.attribute_path(x, *attribute);
      if (d && !d->is_none() && r.is_undefined()) r = *d;
      out.push_back(std::move(r));
    }
    return Value::make_list(std::move(out));
  }
  const std::string name = to_str(a.positional[0]);
  Args rest;
  rest.positional.assign(a.positional.begin() + 1, a.positional.end());
  rest.keyword = a.keyword;
  for (const auto& x : items) {
    Args copy = rest;
    out.push_back(ev.apply_filter(name, x, copy));
  }
  return Value::make_list(std::move(out));
}

Value select_reject(Evaluator& ev, const Value& v, Args& a, bool select, bool by_attribute) {
  std::size_t off = 0;
  Value attribute;
  if (by_attribute) {
    if (a.positional.empty()) throw RenderError{"Missing parameter for attribute name"};
    attribute = a.positional[0];
    off = 1;
  }
  const bool have_test = a.positional.size() > off;
  const std::string test = have_test ? to_str(a.positional[off]) : "";
  Args rest;
  if (have_test)
    rest.positional.assign(a.positional.begin() + static_cast<std::ptrdiff_t>(off) + 1,
                           a.positional.end());
  rest.keyword = a.keyword;
  List out;
  if (!v.truthy()) return Value::make_list();
  for (const auto& x : to_list(v)) {
    const Value y = by_attribute ? ev.attribute_path(x, attribute) : x;
    bool r;
    if (have_test) {
      Args copy = rest;
      r = ev.apply_test(test, y, copy);
    } else {
      r = y.truthy();
    }
    if (r == select) out.push_back(x);
  }
  return Value::make_list(std::move(out));
}
Value f_select(Evaluator& ev, const Value& v, Args& a) {
  return select_reject(ev, v, a, true, false);
}
Value f_reject(Evaluator& ev, const Value& v, Args& a) {
  return select_reject(ev, v, a, false, false);
}
Value f_selectattr(Evaluator& ev, const Value& v, Args& a) {
  return select_reject(ev, v, a, true, true);
}
Value f_rejectattr(Evaluator& ev, const Value& v, Args& a) {
  return select_reject(ev, v, a, false, true);
}

Value f_groupby(Evaluator& ev, const Value& v, Args& a) {
  const Value* attribute = arg(a, 0, "attribute");
  if (!attribute) throw RenderError{"groupby requires an attribute"};
  const Value* d = arg(a, 1, "default");
  const bool case_sensitive = flag(a, 2, "case_sensitive");
  auto key = [&](const Value& x, bool fold) {
    Value k = ev.attribute_path(x, *attribute);
    if (d && !d->is_none() && k.is_undefined()) k = *d;
    return fold && !case_sensitive ? ignore_case(k) : k;
  };
  List items = to_list(v);
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    return less(key(x, true), key(y, true));
  });
  List out;
  for (std::size_t k = 0; k < items.size();) {
    const Value group = key(items[k], true);
    List members;
    std::size_t e = k;
    while (e < items.size() && equals(key(items[e], true), group)) members.push_back(items[e++]);
    Value t = Value::make_tuple({key(members[0], false), Value::make_list(std::move(members))});
    t.i = 2;  // a group: .grouper and .list name its items
    out.push_back(std::move(t));
    k = e;
  }
  return Value::make_list(std::move(out));
}

Value f_format(Evaluator&, const Value& v, Args& a) {
  if (!a.positional.empty() && !a.keyword.empty())
    throw RenderError{"can't handle positional and keyword arguments at the same time"};
  if (!a.keyword.empty()) {
    Value d = Value::make_dict();
    for (const auto& [k, x] : a.keyword) d.dict->set(Value::string(k), x);
    return Value::string(py_percent(to_str(v), d));
  }
  return Value::string(py_percent(to_str(v), Value::make_tuple(a.positional)));
}

Value f_pprint(Evaluator&, const Value& v, Args&) {
  return Value::string(repr(v));
}

Value f_striptags(Evaluator&, const Value& v, Args&) {
  std::string s = to_str(v), out;
  for (std::size_t k = 0; k < s.size(); ++k) {
    if (s[k] == '<') {
      const auto e = s.find('>', k);
      if (e != std::string::npos) {
        k = e;
        continue;
      }
    }
    out += s[k];
  }
  return Value::string(py_strip(out, true, true));
}

const std::map<std::string, FilterFn, std::less<>>& filters() {
  static const std::map<std::string, FilterFn, std::less<>> table = {
      {"abs", f_abs},           {"attr", f_attr},
      {"batch", f_batch},       {"capitalize", f_capitalize},
      {"center", f_center},     {"count", f_length},
      {"d", f_default},         {"default", f_default},
      {"dictsort", f_dictsort}, {"e", f_escape},
      {"escape", f_escape},     {"first", f_first},
      {"float", f_float},       {"forceescape", f_forceescape},
      {"format", f_format},     {"groupby", f_groupby},
      {"indent", f_indent},     {"int", f_int},
      {"items", f_items},       {"join", f_join},
      {"last", f_last},         {"length", f_length},
      {"list", f_list},         {"lower", f_lower},
      {"map", f_map},           {"max", f_max},
      {"min", f_min},           {"pprint", f_pprint},
      {"reject", f_reject},     {"rejectattr", f_rejectattr},
      {"replace", f_replace},   {"reverse", f_reverse},
      {"round", f_round},       {"safe", f_safe},
      {"select", f_select},     {"selectattr", f_selectattr},
      {"slice", f_slice},       {"sort", f_sort},
      {"string", f_string},     {"striptags", f_striptags},
      {"sum", f_sum},           {"title", f_title},
      {"tojson", f_tojson},     {"trim", f_trim},
      {"truncate", f_truncate}, {"unique", f_unique},
      {"upper", f_upper},       {"wordcount", f_wordcount},
  };
  return table;
}

}  // namespace

FilterFn find_filter(std::string_view name) {
  const auto& t = filters();
  const auto it = t.find(name);
  return it == t.end() ? nullptr : it->second;
}

}  // namespace loom::jinja
