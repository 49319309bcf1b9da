// The binary operators and comparisons with Python's semantics: int and float arithmetic with
// floor division and modulo, str and list concatenation and repetition, printf-style str % args,
// chained comparisons, in and not in.
#include <cmath>

#include "jinja/builtins.h"
#include "jinja/evaluator.h"
#include "jinja/text.h"
#include "loom/error.h"

namespace loom::jinja {
namespace {

[[noreturn]] void type_error(const char* op, const Value& a, const Value& b) {
  throw RenderError{std::string("unsupported operand type(s) for ") + op + ": '" + type_short(a) +
                    "' and '" + type_short(b) + "'"};
}

std::int64_t checked(bool overflow, std::int64_t r) {
  if (overflow) throw RenderError{"integer overflow (loom's integers are 64-bit)"};
  return r;
}

std::int64_t add(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return checked(true, 0);
  return r;
}
std::int64_t sub(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) return checked(true, 0);
  return r;
}
std::int64_t mul(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return checked(true, 0);
  return r;
}

// Python's float divmod.
void float_divmod(double vx, double wx, double& floordiv, double& mod) {
  if (wx == 0.0) throw RenderError{"float division by zero"};
  mod = std::fmod(vx, wx);
  double div = (vx - mod) / wx;
  if (mod != 0.0) {
    if ((wx < 0) != (mod < 0)) {
      mod += wx;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, wx);
  }
  if (div != 0.0) {
    floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else {
    floordiv = std::copysign(0.0, vx / wx);
  }
}

Value repeat(const Value& seq, std::int64_t n) {
  if (seq.is_string()) {
    std::string out;
    for (std::int64_t k = 0; k < n; ++k) out += seq.s;
    return Value::string(std::move(out));
  }
  List items;
  for (std::int64_t k = 0; k < n; ++k)
    items.insert(items.end(), seq.list->begin(), seq.list->end());
  Value r = Value::make_list(std::move(items));
  r.type = seq.type;
  return r;
}

}  // namespace

bool Evaluator::compare(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return equals(a, b);
  if (op == "!=") return !equals(a, b);
  if (op == "in" || op == "notin") {
    bool found = false;
    switch (b.type) {
      case Value::Type::String:
        if (!a.is_string())
          fail("'in <string>' requires string as left operand, not " + type_short(a));
        found = b.s.find(a.s) != std::string::npos;
        break;
      case Value::Type::List:
      case Value::Type::Tuple: {
        std::size_t k = 0;
        for (; k < b.list->size() && !found; ++k) found = equals((*b.list)[k], a);
        if (b.is_iterator()) b.list->erase(b.list->begin(), b.list->begin() + k);  // consumed
        break;
      }
      case Value::Type::Dict:
      case Value::Type::Namespace:
        if (a.type == Value::Type::List || a.type == Value::Type::Dict)
          fail("unhashable type: '" + type_short(a) + "'");
        found = b.dict->find(a) != nullptr;
        break;
      case Value::Type::Undefined:
        break;
      default:
        fail("argument of type '" + type_short(b) + "' is not iterable");
    }
    return op == "in" ? found : !found;
  }
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  auto unordered = [&]() {
    fail("'" + op + "' not supported between instances of '" + type_short(a) + "' and '" +
         type_short(b) + "'");
  };
  const bool ordered = (a.is_number() && b.is_number()) || (a.is_string() && b.is_string()) ||
                       (a.is_list() && b.is_list() && a.type == b.type);
  if (!ordered) unordered();
  if (op == "<") return less(a, b);
  if (op == ">") return less(b, a);
  if (op == "<=") return !less(b, a);
  return !less(a, b);
}

Value Evaluator::binary(const Expr& e) {
  const Value a = eval(*e.children[0]);
  const Value b = eval(*e.children[1]);
  at_expr_ = &e;
  if (a.is_undefined()) fail_undefined(a);
  // str % Undefined is str.__mod__ with a mapping-like argument (Undefined has __getitem__).
  if (e.kind == Expr::Kind::Mod && a.is_string()) return Value::string(py_percent(a.s, b));
  if (b.is_undefined()) fail_undefined(b);
  const bool nums = a.is_number() && b.is_number();
  const bool ints = a.is_int() && b.is_int();
  switch (e.kind) {
    case Expr::Kind::Add:
      if (ints) return Value::integer(add(a.as_int(), b.as_int()));
      if (nums) return Value::number(a.as_float() + b.as_float());
      if (a.is_string() && b.is_string()) {
        if (a.i == 1 || b.i == 1) {  // Markup + str escapes the str, and stays Markup
          Args none;
          Value r = Value::string(to_str(apply_filter("escape", a, none)) +
                                  to_str(apply_filter("escape", b, none)));
          r.i = 1;
          return r;
        }
        return Value::string(a.s + b.s);
      }
      if (a.is_plain_list() && b.is_plain_list() && a.type == b.type) {
        List items = *a.list;
        items.insert(items.end(), b.list->begin(), b.list->end());
        Value v = Value::make_list(std::move(items));
        v.type = a.type;
        return v;
      }
      if (a.is_string()) fail("can only concatenate str (not \"" + type_short(b) + "\") to str");
      if (a.is_list() && a.type == Value::Type::List)
        fail("can only concatenate list (not \"" + type_short(b) + "\") to list");
      type_error("+", a, b);
    case Expr::Kind::Sub:
      if (ints) return Value::integer(sub(a.as_int(), b.as_int()));
      if (nums) return Value::number(a.as_float() - b.as_float());
      type_error("-", a, b);
    case Expr::Kind::Mul:
      if (ints) return Value::integer(mul(a.as_int(), b.as_int()));
      if (nums) return Value::number(a.as_float() * b.as_float());
      if ((a.is_string() || a.is_plain_list()) && b.is_int()) return repeat(a, b.as_int());
      if (a.is_int() && (b.is_string() || b.is_plain_list())) return repeat(b, a.as_int());
      type_error("*", a, b);
    case Expr::Kind::Div:
      if (nums) {
        if (b.as_float() == 0.0) fail(ints ? "division by zero" : "float division by zero");
        return Value::number(a.as_float() / b.as_float());
      }
      type_error("/", a, b);
    case Expr::Kind::FloorDiv:
    case Expr::Kind::Mod: {
      const bool floordiv = e.kind == Expr::Kind::FloorDiv;
      if (ints) {
        const std::int64_t x = a.as_int(), y = b.as_int();
        if (y == 0)
          fail(floordiv ? "integer division or modulo by zero" : "integer modulo by zero");
        if (y == -1) return Value::integer(floordiv ? checked(x == INT64_MIN, -x) : 0);
        std::int64_t q = x / y, m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) {
          m += y;
          q -= 1;
        }
        return Value::integer(floordiv ? q : m);
      }
      if (nums) {
        if (b.as_float() == 0.0) fail(floordiv ? "float floor division by zero" : "float modulo");
        double q, m;
        float_divmod(a.as_float(), b.as_float(), q, m);
        return Value::number(floordiv ? q : m);
      }
      if (!floordiv && a.is_string()) return Value::string(py_percent(a.s, b));
      type_error(floordiv ? "//" : "%", a, b);
    }
    case Expr::Kind::Pow:
      if (ints && b.as_int() >= 0) {
        std::int64_t base = a.as_int(), exp = b.as_int(), result = 1;
        while (exp > 0) {
          if (exp & 1) result = mul(result, base);
          exp >>= 1;
          if (exp > 0) base = mul(base, base);
        }
        return Value::integer(result);
      }
      if (nums) {
        if (a.as_float() == 0.0 && b.as_float() < 0)
          fail("0.0 cannot be raised to a negative power");
        return Value::number(std::pow(a.as_float(), b.as_float()));
      }
      type_error("** or pow()", a, b);
    default:
      break;
  }
  fail("unknown operator");
}

}  // namespace loom::jinja
