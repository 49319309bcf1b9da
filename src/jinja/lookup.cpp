// obj.name and obj[key] as jinja2's sandboxed environment resolves them: Python attributes
// (methods) first for obj.name, items first for obj[key], Undefined when neither exists, and
// Python's slices.
#include <algorithm>
#include <initializer_list>
#include <string_view>

#include "jinja/builtins.h"
#include "jinja/evaluator.h"
#include "jinja/text.h"
#include "loom/error.h"

namespace loom::jinja {
namespace {

// Joins the pieces of a message (GCC 12 warns, wrongly, about "'" + std::string temporaries).
std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) out.append(p);
  return out;
}

// Python's slice.indices(length) and the items it selects.
std::vector<std::int64_t> slice_indices(std::int64_t length, const Value& start, const Value& stop,
                                        const Value& step) {
  auto as_index = [](const Value& v) {
    if (!v.is_int())
      throw RenderError{"slice indices must be integers or None or have an __index__ method"};
    return v.as_int();
  };
  const bool no_start = start.is_none() || start.is_undefined();
  const bool no_stop = stop.is_none() || stop.is_undefined();
  const std::int64_t st = step.is_none() || step.is_undefined() ? 1 : as_index(step);
  if (st == 0) throw RenderError{"slice step cannot be zero"};
  std::int64_t lo, hi;
  if (st > 0) {
    lo = no_start ? 0 : as_index(start);
    hi = no_stop ? length : as_index(stop);
    if (lo < 0) lo = std::max<std::int64_t>(lo + length, 0);
    if (hi < 0) hi = std::max<std::int64_t>(hi + length, 0);
    lo = std::min(lo, length);
    hi = std::min(hi, length);
  } else {
    lo = no_start ? length - 1 : as_index(start);
    hi = no_stop ? -1 : as_index(stop);
    if (!no_start) {
      if (lo < 0) lo = std::max<std::int64_t>(lo + length, -1);
      lo = std::min(lo, length - 1);
    }
    if (!no_stop) {
      if (hi < 0) hi = std::max<std::int64_t>(hi + length, -1);
      hi = std::min(hi, length - 1);
    }
  }
  std::vector<std::int64_t> out;
  if (st > 0)
    for (std::int64_t k = lo; k < hi; k += st) out.push_back(k);
  else
    for (std::int64_t k = lo; k > hi; k += st) out.push_back(k);
  return out;
}

}  // namespace

Value Evaluator::getattr(const Value& obj, const std::string& name) {
  switch (obj.type) {
    case Value::Type::Undefined:
      fail_undefined(obj);
    case Value::Type::Dict:
      if (!has_method(obj, name)) {
        if (const Value* v = obj.dict->find(std::string_view(name))) return *v;
        return Value::undefined("'dict object' has no attribute '" + name + "'");
      }
      break;
    case Value::Type::Namespace:
      if (const Value* v = obj.dict->find(std::string_view(name))) return *v;
      return Value::undefined("'Namespace object' has no attribute '" + name + "'");
    case Value::Type::Loop:
      if (name == "cycle") {
        auto state = obj.loop;
        return Value::function("cycle", [state](Args& a) {
          if (a.positional.empty()) throw RenderError{"no items for cycling given"};
          return a.positional[state->index0 % a.positional.size()];
        });
      }
      if (name == "changed") {
        auto state = obj.loop;
        return Value::function("changed", [state](Args& a) {
          const Value now = Value::make_list(a.positional);
          if (state->last_changed && equals(Value::make_list(*state->last_changed), now))
            return Value::boolean(false);
          state->last_changed = std::make_shared<List>(a.positional);
          return Value::boolean(true);
        });
      }
      return obj.loop->attribute(name);
    case Value::Type::Bool:
    case Value::Type::Int:
    case Value::Type::Float:  // the numbers' data attributes
      if (name == "real" || name == "numerator")
        return obj.type == Value::Type::Float ? obj : Value::integer(obj.as_int());
      if (name == "imag")
        return obj.type == Value::Type::Float ? Value::number(0.0) : Value::integer(0);
      if (name == "denominator" && obj.type != Value::Type::Float) return Value::integer(1);
      break;
    case Value::Type::Tuple:
      if (obj.i == 2 && (name == "grouper" || name == "list"))  // groupby's named tuples
        return (*obj.list)[name == "grouper" ? 0 : 1];
      break;
    default:
      break;
  }
  if (has_method(obj, name)) {
    if (is_unsafe_method(obj, name)) {
      Value u = Value::undefined("access to attribute '" + name + "' of '" + type_short(obj) +
                                 "' object is unsafe.");
      u.i = 1;
      return u;
    }
    Value self = obj;
    return Value::function(
        name, [this, self, name](Args& args) { return call_method(*this, self, name, args); });
  }
  return Value::undefined(cat({"'", obj.type_name(), "' has no attribute '", name, "'"}));
}

Value Evaluator::getitem(const Value& obj, const Value& key) {
  // A slice is Python's own subscription in jinja2 (no environment.getitem): it raises.
  // Iterators and views take no subscript: a slice raises (Python's own subscription), an index
  // is Undefined (the sandbox's getitem catches the TypeError).
  if (obj.is_iterator() || obj.is_view()) {
    const std::string name = obj.is_iterator() ? "generator" : obj.view_name();
    if (key.type == Value::Type::Tuple && key.b)
      fail(cat({"'", name, "' object is not subscriptable"}));
    if (key.is_string() && has_method(obj, key.s)) return getattr(obj, key.s);
    return Value::undefined(cat({"'", name, " object' has no element ", repr(key)}));
  }
  if (key.type == Value::Type::Tuple && key.b && !obj.is_list() && !obj.is_string()) {
    if (obj.is_undefined()) fail_undefined(obj);
    if (obj.type == Value::Type::Dict) fail("unhashable type: 'slice'");
    fail(cat({"'", type_short(obj), "' object is not subscriptable"}));
  }
  switch (obj.type) {
    case Value::Type::Undefined:
      fail_undefined(obj);
    case Value::Type::Dict:
    case Value::Type::Namespace:
      if (const Value* v = obj.dict->find(key)) return *v;
      break;
    case Value::Type::List:
    case Value::Type::Tuple:
    case Value::Type::String: {
      const bool str = obj.is_string();
      std::u32string chars;
      std::int64_t n;
      if (str) {
        chars = utf8_decode(obj.s);
        n = static_cast<std::int64_t>(chars.size());
      } else {
        n = static_cast<std::int64_t>(obj.list->size());
      }
      if (key.type == Value::Type::Tuple && key.list->size() == 3 && key.b) {  // a slice
        const auto idx = slice_indices(n, (*key.list)[0], (*key.list)[1], (*key.list)[2]);
        if (str) {
          std::u32string r;
          for (auto k : idx) r += chars[static_cast<std::size_t>(k)];
          return Value::string(utf8_encode(r));
        }
        List r;
        for (auto k : idx) r.push_back((*obj.list)[static_cast<std::size_t>(k)]);
        Value v = Value::make_list(std::move(r));
        v.type = obj.type;
        return v;
      }
      if (key.is_int()) {
        std::int64_t k = key.as_int();
        if (k < 0) k += n;
        if (k >= 0 && k < n) {
          if (str)
            return Value::string(
                utf8_encode(std::u32string(1, chars[static_cast<std::size_t>(k)])));
          return (*obj.list)[static_cast<std::size_t>(k)];
        }
      }
      break;
    }
    case Value::Type::Loop:
      if (key.is_string()) return getattr(obj, key.s);
      break;
    default:
      break;
  }
  if (key.is_string() && has_method(obj, key.s)) return getattr(obj, key.s);
  return Value::undefined(cat({"'", obj.type_name(), "' has no element ", repr(key)}));
}

Value Evaluator::attribute_path(const Value& item, const Value& path) {
  if (!path.is_string()) return getitem(item, path);
  Value v = item;
  std::size_t start = 0;
  for (;;) {
    const auto dot = path.s.find('.', start);
    const std::string part =
        path.s.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool digits = !part.empty() && part.find_first_not_of("0123456789") == std::string::npos;
    if (digits) {
      v = getitem(v, Value::integer(std::stoll(part)));
    } else {
      // environment.getitem: the item first, then the attribute.
      if (v.is_undefined()) fail_undefined(v);
      Value key = Value::string(part);
      Value r = getitem(v, key);
      v = std::move(r);
    }
    if (dot == std::string::npos) return v;
    start = dot + 1;
  }
}

}  // namespace loom::jinja
