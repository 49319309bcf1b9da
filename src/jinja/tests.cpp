// jinja2's builtin tests (x is defined, x is string, x is divisibleby 3, ...).
#include <cmath>
#include <map>

#include "jinja/builtins.h"
#include "jinja/evaluator.h"
#include "jinja/text.h"

namespace loom::jinja {
namespace {

const Value& other(const Args& a) {
  static const Value missing = Value::undefined("a test needs an argument");
  const Value* v = a.get(0, "");
  if (!v) throw RenderError{"the test needs an argument"};
  return v ? *v : missing;
}

bool t_defined(Evaluator&, const Value& v, Args&) {
  return !v.is_undefined();
}
bool t_undefined(Evaluator&, const Value& v, Args&) {
  return v.is_undefined();
}
bool t_none(Evaluator&, const Value& v, Args&) {
  return v.is_none();
}
bool t_boolean(Evaluator&, const Value& v, Args&) {
  return v.type == Value::Type::Bool;
}
bool t_true(Evaluator&, const Value& v, Args&) {
  return v.type == Value::Type::Bool && v.b;
}
bool t_false(Evaluator&, const Value& v, Args&) {
  return v.type == Value::Type::Bool && !v.b;
}
bool t_integer(Evaluator&, const Value& v, Args&) {
  return v.type == Value::Type::Int;
}
bool t_float(Evaluator&, const Value& v, Args&) {
  return v.type == Value::Type::Float;
}
bool t_number(Evaluator&, const Value& v, Args&) {
  return v.is_number();
}
bool t_string(Evaluator&, const Value& v, Args&) {
  return v.is_string();
}
bool t_mapping(Evaluator&, const Value& v, Args&) {
  return v.is_dict();
}
bool t_iterable(Evaluator&, const Value& v, Args&) {
  return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
}
// Undefined has __len__ and __getitem__, so it passes as a sequence.
bool t_sequence(Evaluator&, const Value& v, Args&) {
  return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
}
// jinja2's Undefined has a __call__ (that raises), so callable() holds for it.
bool t_callable(Evaluator&, const Value& v, Args&) {
  return v.is_callable() || v.is_undefined();
}
bool t_escaped(Evaluator&, const Value&, Args&) {
  return false;
}

std::int64_t need_int(const Value& v, const char* test) {
  if (!v.is_number()) throw RenderError{std::string("the ") + test + " test needs a number"};
  return v.is_int() ? v.as_int() : static_cast<std::int64_t>(v.f);
}
// value % 2 on a string is Python's string formatting: never equal to a number.
bool string_mod(const Value& v, std::int64_t n) {
  if (!v.is_string()) return false;
  py_percent(v.s, Value::integer(n));
  return true;
}
bool t_odd(Evaluator&, const Value& v, Args&) {
  if (string_mod(v, 2)) return false;
  if (v.type == Value::Type::Float)
    return std::fmod(v.f, 2.0) != 0.0 && std::fmod(std::fabs(v.f), 2.0) == 1.0;
  return (need_int(v, "odd") % 2) != 0;
}
bool t_even(Evaluator&, const Value& v, Args&) {
  if (string_mod(v, 2)) return false;
  if (v.type == Value::Type::Float) return std::fmod(v.f, 2.0) == 0.0;
  return need_int(v, "even") % 2 == 0;
}
bool t_divisibleby(Evaluator&, const Value& v, Args& a) {
  const Value& n = other(a);
  // value % num == 0: on a string that is Python's string formatting, never equal to 0.
  if (v.is_string()) {
    py_percent(v.s, n);
    return false;
  }
  if (v.is_int() && n.is_int()) {
    if (n.as_int() == 0) throw RenderError{"integer modulo by zero"};
    return v.as_int() % n.as_int() == 0;
  }
  if (!v.is_number() || !n.is_number()) throw RenderError{"divisibleby needs numbers"};
  if (n.as_float() == 0.0) throw RenderError{"float modulo"};
  return std::fmod(v.as_float(), n.as_float()) == 0.0;
}
bool t_lower(Evaluator&, const Value& v, Args&) {
  const std::string s = to_str(v);
  return py_lower(s) == s && py_upper(s) != s;
}
bool t_upper(Evaluator&, const Value& v, Args&) {
  const std::string s = to_str(v);
  return py_upper(s) == s && py_lower(s) != s;
}
bool t_eq(Evaluator&, const Value& v, Args& a) {
  return equals(v, other(a));
}
bool t_ne(Evaluator&, const Value& v, Args& a) {
  return !equals(v, other(a));
}
void ordered(const Value& a, const Value& b, const char* op) {
  const bool ok = (a.is_number() && b.is_number()) || (a.is_string() && b.is_string()) ||
                  (a.is_list() && b.is_list() && a.type == b.type);
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (!ok) {
    auto t = [](const Value& v) {
      return v.is_none() ? std::string("NoneType")
                         : v.type_name().substr(0, v.type_name().find(' '));
    };
    throw RenderError{std::string("'") + op + "' not supported between instances of '" + t(a) +
                      "' and '" + t(b) + "'"};
  }
}
bool t_lt(Evaluator&, const Value& v, Args& a) {
  ordered(v, other(a), "<");
  return less(v, other(a));
}
bool t_le(Evaluator&, const Value& v, Args& a) {
  ordered(v, other(a), "<=");
  return !less(other(a), v);
}
bool t_gt(Evaluator&, const Value& v, Args& a) {
  ordered(v, other(a), ">");
  return less(other(a), v);
}
bool t_ge(Evaluator&, const Value& v, Args& a) {
  ordered(v, other(a), ">=");
  return !less(v, other(a));
}
bool t_in(Evaluator&, const Value& v, Args& a) {
  const Value& seq = other(a);
  switch (seq.type) {
    case Value::Type::String:
      if (!v.is_string()) throw RenderError{"'in <string>' requires string as left operand"};
      return seq.s.find(v.s) != std::string::npos;
    case Value::Type::List:
    case Value::Type::Tuple:
      for (const auto& x : *seq.list)
        if (equals(x, v)) return true;
      return false;
    case Value::Type::Dict:
      return seq.dict->find(v) != nullptr;
    case Value::Type::Undefined:
      return false;
    default:
      throw RenderError{"argument is not iterable"};
  }
}
bool t_sameas(Evaluator&, const Value& v, Args& a) {
  const Value& o = other(a);
  if (v.type != o.type) return false;
  switch (v.type) {
    case Value::Type::None:
      return true;
    case Value::Type::Bool:
      return v.b == o.b;
    case Value::Type::List:
    case Value::Type::Tuple:
      return v.list == o.list;
    case Value::Type::Dict:
    case Value::Type::Namespace:
      return v.dict == o.dict;
    default:
      return equals(v, o);
  }
}
bool t_filter(Evaluator&, const Value& v, Args&) {
  return v.is_string() && find_filter(v.s);
}
bool t_test(Evaluator&, const Value& v, Args&) {
  return v.is_string() && find_test(v.s);
}

const std::map<std::string, TestFn, std::less<>>& tests() {
  static const std::map<std::string, TestFn, std::less<>> table = {
      {"defined", t_defined},
      {"undefined", t_undefined},
      {"none", t_none},
      {"boolean", t_boolean},
      {"true", t_true},
      {"false", t_false},
      {"integer", t_integer},
      {"float", t_float},
      {"number", t_number},
      {"string", t_string},
      {"mapping", t_mapping},
      {"iterable", t_iterable},
      {"sequence", t_sequence},
      {"callable", t_callable},
      {"escaped", t_escaped},
      {"odd", t_odd},
      {"even", t_even},
      {"divisibleby", t_divisibleby},
      {"lower", t_lower},
      {"upper", t_upper},
      {"eq", t_eq},
      {"equalto", t_eq},
      {"==", t_eq},
      {"ne", t_ne},
      {"!=", t_ne},
      {"lt", t_lt},
      {"lessthan", t_lt},
      {"<", t_lt},
      {"le", t_le},
      {"<=", t_le},
      {"gt", t_gt},
      {"greaterthan", t_gt},
      {">", t_gt},
      {"ge", t_ge},
      {">=", t_ge},
      {"in", t_in},
      {"sameas", t_sameas},
      {"filter", t_filter},
      {"test", t_test},
  };
  return table;
}

}  // namespace

TestFn find_test(std::string_view name) {
  const auto& t = tests();
  const auto it = t.find(name);
  return it == t.end() ? nullptr : it->second;
}

}  // namespace loom::jinja
