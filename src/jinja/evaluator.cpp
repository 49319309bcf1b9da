#include "jinja/evaluator.h"

#include <chrono>
#include <cmath>

#include "jinja/builtins.h"
#include "loom/error.h"

namespace loom::jinja {

namespace {

constexpr int kMaxDepth = 256;  // macro and recursive-loop nesting before an error, not a crash

std::string type_short(const Value& v) {
  if (v.is_none()) return "NoneType";
  std::string t = v.type_name();
  return t.substr(0, t.find(' '));
}

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

// Whether jinja2 folds the printed expression E at compile time (it tries as_const on each {{ }}):
// literals and operators on them, no variables, calls, filters or tests. A folded slice goes
// through the sandbox's getitem, which gives Undefined where Python's subscription would raise.
bool is_constant(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::Name:
    case Expr::Kind::Call:
    case Expr::Kind::Filter:
    case Expr::Kind::Test:
      return false;
    default:
      for (const auto& c : e.children)
        if (c && !is_constant(*c)) return false;
      return true;
  }
}

}  // namespace

[[noreturn]] void fail_undefined(const Value& v) {
  throw RenderError{v.s.empty() ? std::string("value is undefined") : v.s};
}

const Value* Scope::find(std::string_view name) const {
  for (const Scope* s = this; s; s = s->parent.get())
    for (const auto& [k, v] : s->vars)
      if (k == name) return &v;
  return nullptr;
}

void Scope::set(std::string_view name, Value value) {
  for (auto& [k, v] : vars)
    if (k == name) {
      v = std::move(value);
      return;
    }
  vars.emplace_back(std::string(name), std::move(value));
}

Evaluator::Evaluator(const std::string& origin, const RenderOptions& options)
    : origin_(origin), options_(options) {}

Evaluator::~Evaluator() {
  for (auto& scope : closures_) scope->vars.clear();
  for (auto& ns : namespaces_) ns->items.clear();
}

std::time_t Evaluator::now() const {
  return options_.now ? *options_.now
                      : std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
}

void Evaluator::fail(const std::string& message) const {
  throw RenderError{message};
}

void Evaluator::render(const Node& root, const nlohmann::ordered_json& context, std::string& out) {
  auto globals = std::make_shared<Scope>();
  globals->set(
      "range", Value::function("range", [](Args& a) {
        std::int64_t start = 0, stop = 0, step = 1;
        auto num = [](const Value& v) {
          if (!v.is_int())
            throw RenderError{"'" + type_short(v) + "' object cannot be interpreted as an integer"};
          return v.as_int();
        };
        if (a.positional.size() == 1) {
          stop = num(a.positional[0]);
        } else if (a.positional.size() >= 2) {
          start = num(a.positional[0]);
          stop = num(a.positional[1]);
          if (a.positional.size() >= 3) step = num(a.positional[2]);
        } else {
          throw RenderError{"range expected at least 1 argument, got 0"};
        }
        if (step == 0) throw RenderError{"range() arg 3 must not be zero"};
        List items;
        for (std::int64_t k = start; step > 0 ? k < stop : k > stop; k += step) {
          if (items.size() >= 100000) throw RenderError{"range too big, maximum length is 100000"};
          items.push_back(Value::integer(k));
        }
        return Value::make_list(std::move(items));
      }));
  auto kw_dict = [](Args& a, Value d) {
    for (const auto& p : a.positional) {
      if (p.is_dict() || p.type == Value::Type::Namespace)
        for (const auto& kv : p.dict->items) d.dict->set(kv.first, kv.second);
      else if (p.is_list())
        for (const auto& item : *p.list) {
          const List kv = iterate(item);
          if (kv.size() != 2)
            throw RenderError{"dictionary update sequence element has wrong length"};
          d.dict->set(kv[0], kv[1]);
        }
    }
    for (auto& [k, v] : a.keyword) d.dict->set(Value::string(k), v);
    return d;
  };
  globals->set("namespace", Value::function("namespace", [this, kw_dict](Args& a) {
                 Value ns = kw_dict(a, Value::make_namespace());
                 namespaces_.push_back(ns.dict);
                 return ns;
               }));
  globals->set("dict", Value::function(
                           "dict", [kw_dict](Args& a) { return kw_dict(a, Value::make_dict()); }));
  globals->set("raise_exception", Value::function("raise_exception", [](Args& a) -> Value {
                 throw RenderError{a.positional.empty() ? std::string() : to_str(a.positional[0])};
               }));
  globals->set("strftime_now", Value::function("strftime_now", [this](Args& a) {
                 const std::string fmt = a.positional.empty() ? "" : to_str(a.positional[0]);
                 const std::time_t t = now();
                 std::tm tm{};
                 localtime_r(&t, &tm);
                 std::string buf(256, '\0');
                 std::size_t n = 0;
                 if (!fmt.empty()) {
                   for (int tries = 0; tries < 8 && (n = std::strftime(buf.data(), buf.size(),
                                                                       fmt.c_str(), &tm)) == 0;
                        ++tries)
                     buf.resize(buf.size() * 4);
                 }
                 buf.resize(n);
                 return Value::string(buf);
               }));
  globals->set("cycler", Value::function("cycler", [](Args& a) {
                 if (a.positional.empty()) throw RenderError{"cycler needs at least one item"};
                 auto items = std::make_shared<List>(a.positional);
                 auto pos = std::make_shared<std::size_t>(0);
                 Value c = Value::make_namespace();  // .next() and .reset()
                 c.dict->set(Value::string("next"), Value::function("next", [items, pos](Args&) {
                               const Value v = (*items)[*pos];
                               *pos = (*pos + 1) % items->size();
                               return v;
                             }));
                 c.dict->set(Value::string("reset"), Value::function("reset", [pos](Args&) {
                               *pos = 0;
                               return Value::none();
                             }));
                 return c;
               }));
  globals->set("joiner", Value::function("joiner", [](Args& a) {
                 const std::string sep = a.positional.empty() ? ", " : to_str(a.positional[0]);
                 auto used = std::make_shared<bool>(false);
                 return Value::function("joiner", [sep, used](Args&) {
                   if (!*used) {
                     *used = true;
                     return Value::string("");
                   }
                   return Value::string(sep);
                 });
               }));
  scope_ = std::make_shared<Scope>();
  scope_->parent = globals;
  if (context.is_object())
    for (auto it = context.begin(); it != context.end(); ++it)
      scope_->set(it.key(), from_json(it.value()));
  exec(root.bodies[0], out);
}

// ---- statements ----

Evaluator::Flow Evaluator::exec(const Body& body, std::string& out) {
  for (const auto& n : body) {
    const Flow f = exec_node(*n, out);
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Evaluator::Flow Evaluator::exec_node(const Node& n, std::string& out) {
  at_node_ = &n;
  at_expr_ = nullptr;
  switch (n.kind) {
    case Node::Kind::Text:
      out += n.text;
      return Flow::Normal;
    case Node::Kind::Output: {
      folding_ = is_constant(*n.exprs[0]);
      Value v = eval(*n.exprs[0]);
      folding_ = false;
      at_expr_ = n.exprs[0].get();
      append_str(out, v);
      return Flow::Normal;
    }
    case Node::Kind::If:
      for (std::size_t k = 0; k < n.exprs.size(); ++k)
        if (eval(*n.exprs[k]).truthy()) return exec(n.bodies[k], out);
      if (n.bodies.size() > n.exprs.size()) return exec(n.bodies.back(), out);
      return Flow::Normal;
    case Node::Kind::For:
      run_loop(n, eval(*n.exprs[0]), 0, out);
      return Flow::Normal;
    case Node::Kind::Set:
      assign(n, eval(*n.exprs[0]));
      return Flow::Normal;
    case Node::Kind::SetBlock: {
      std::string text;
      exec(n.bodies[0], text);
      Value v = Value::string(std::move(text));
      if (n.exprs[0]) {
        filter_input_ = &v;
        Value r = eval(*n.exprs[0]);
        filter_input_ = nullptr;
        v = std::move(r);
      }
      assign(n, std::move(v));
      return Flow::Normal;
    }
    case Node::Kind::Macro: {
      std::vector<const Expr*> defaults;
      for (const auto& d : n.exprs) defaults.push_back(d.get());
      scope_->set(n.text, make_macro(n, n.bodies[0], n.params, defaults, n.text));
      return Flow::Normal;
    }
    case Node::Kind::CallBlock: {
      std::vector<const Expr*> defaults;
      for (std::size_t k = 1; k < n.exprs.size(); ++k) defaults.push_back(n.exprs[k].get());
      Value caller = make_macro(n, n.bodies[0], n.params, defaults, "caller");
      const Expr& call_expr = *n.exprs[0];
      Value callee = eval(*call_expr.children[0]);
      Args args;
      eval_args(call_expr, 1, args);
      args.keyword.emplace_back("caller", std::move(caller));
      at_expr_ = &call_expr;
      append_str(out, call(callee, args));
      return Flow::Normal;
    }
    case Node::Kind::FilterBlock: {
      std::string text;
      exec(n.bodies[0], text);
      Value v = Value::string(std::move(text));
      filter_input_ = &v;
      Value r = eval(*n.exprs[0]);
      filter_input_ = nullptr;
      append_str(out, r);
      return Flow::Normal;
    }
    case Node::Kind::With: {
      auto scope = std::make_shared<Scope>();
      scope->parent = scope_;
      for (std::size_t k = 0; k < n.targets.size(); ++k)
        scope->set(n.targets[k], eval(*n.exprs[k]));
      auto saved = scope_;
      scope_ = scope;
      const Flow f = exec(n.bodies[0], out);
      scope_ = saved;
      return f;
    }
    case Node::Kind::Break:
      return Flow::Break;
    case Node::Kind::Continue:
      return Flow::Continue;
    case Node::Kind::Generation:
    case Node::Kind::Root:
      return exec(n.bodies[0], out);
  }
  return Flow::Normal;
}

static void unpack(Scope& scope, const std::vector<std::string>& names, bool tuple,
                   const Value& value) {
  if (!tuple) {
    scope.set(names[0], value);
    return;
  }
  const List items = iterate(value);
  if (items.size() < names.size())
    throw RenderError{"not enough values to unpack (expected " + std::to_string(names.size()) +
                      ", got " + std::to_string(items.size()) + ")"};
  if (items.size() > names.size())
    throw RenderError{"too many values to unpack (expected " + std::to_string(names.size()) + ")"};
  for (std::size_t k = 0; k < names.size(); ++k) scope.set(names[k], items[k]);
}

void Evaluator::assign(const Node& n, Value value) {
  if (!n.target_attr.empty()) {
    const Value* ns = scope_->find(n.targets[0]);
    if (!ns || ns->type != Value::Type::Namespace)
      fail("cannot assign attribute on non-namespace object");
    ns->dict->set(Value::string(n.target_attr), std::move(value));
    return;
  }
  unpack(*scope_, n.targets, n.target_tuple, value);
}

Value Evaluator::run_loop(const Node& n, const Value& iterable, std::size_t depth0,
                          std::string& out) {
  if (iterable.type != Value::Type::Undefined && !iterable.is_list() && !iterable.is_dict() &&
      !iterable.is_string()) {
    at_expr_ = n.exprs[0].get();
    fail("'" + type_short(iterable) + "' object is not iterable");
  }
  auto items = std::make_shared<List>(iterate(iterable));
  auto saved = scope_;
  if (n.exprs[1]) {  // for x in xs if cond: the condition sees the loop variables, not loop
    auto filtered = std::make_shared<List>();
    for (const Value& item : *items) {
      auto scope = std::make_shared<Scope>();
      scope->parent = saved;
      scope_ = scope;
      unpack(*scope, n.targets, n.target_tuple, item);
      const bool keep = eval(*n.exprs[1]).truthy();
      scope_ = saved;
      if (keep) filtered->push_back(item);
    }
    items = filtered;
  }
  if (items->empty()) {
    exec(n.bodies[1], out);
    return Value::string("");
  }
  auto state = std::make_shared<LoopState>();
  state->items = items;
  state->depth0 = depth0;
  if (n.recursive)
    state->recurse = [this, &n](const Value& it, std::size_t d) {
      if (++depth_ > kMaxDepth) fail("maximum recursion depth exceeded");
      std::string text;
      run_loop(n, it, d, text);
      --depth_;
      return Value::string(std::move(text));
    };
  Value loop;
  loop.type = Value::Type::Loop;
  loop.loop = state;
  for (std::size_t k = 0; k < items->size(); ++k) {
    state->index0 = k;
    auto scope = std::make_shared<Scope>();
    scope->parent = saved;
    scope_ = scope;
    unpack(*scope, n.targets, n.target_tuple, (*items)[k]);
    scope->set("loop", loop);
    const Flow f = exec(n.bodies[0], out);
    scope_ = saved;
    if (f == Flow::Break) break;
  }
  scope_ = saved;
  return Value::string("");
}

Value Evaluator::make_macro(const Node& n, const Body& body, const std::vector<std::string>& params,
                            const std::vector<const Expr*>& defaults, std::string name) {
  auto defining = scope_;
  closures_.push_back(defining);
  (void)n;
  return Value::function(name, [this, &body, &params, defaults, defining, name](Args& args) {
    if (++depth_ > kMaxDepth) fail("maximum recursion depth exceeded");
    auto scope = std::make_shared<Scope>();
    scope->parent = defining;
    auto saved = scope_;
    scope_ = scope;
    List varargs;
    for (std::size_t k = params.size(); k < args.positional.size(); ++k)
      varargs.push_back(args.positional[k]);
    for (std::size_t k = 0; k < params.size(); ++k) {
      if (k < args.positional.size()) {
        scope->set(params[k], args.positional[k]);
      } else if (const Value* v = args.get_keyword(params[k])) {
        scope->set(params[k], *v);
      } else if (defaults[k]) {
        scope->set(params[k], eval(*defaults[k]));
      } else {
        scope->set(params[k], Value::undefined("parameter '" + params[k] + "' was not provided"));
      }
    }
    Value kwargs = Value::make_dict();
    for (const auto& [k, v] : args.keyword) {
      if (k == "caller") {
        scope->set("caller", v);
        continue;
      }
      bool is_param = false;
      for (const auto& p : params) is_param = is_param || p == k;
      if (!is_param) kwargs.dict->set(Value::string(k), v);
    }
    scope->set("varargs", Value::make_tuple(std::move(varargs)));
    scope->set("kwargs", kwargs);
    std::string text;
    exec(body, text);
    scope_ = saved;
    --depth_;
    return Value::string(std::move(text));
  });
}

// ---- expressions ----

void Evaluator::eval_args(const Expr& e, std::size_t first, Args& args) {
  for (std::size_t k = first; k < e.children.size(); ++k)
    args.positional.push_back(eval(*e.children[k]));
  if (e.dyn_args) {
    const Value v = eval(*e.dyn_args);
    for (auto& x : iterate(v)) args.positional.push_back(x);
  }
  for (const auto& [k, v] : e.kwargs) args.keyword.emplace_back(k, eval(*v));
  if (e.dyn_kwargs) {
    const Value v = eval(*e.dyn_kwargs);
    if (!v.is_dict()) fail("argument after ** must be a mapping");
    for (const auto& [k, x] : v.dict->items) args.keyword.emplace_back(to_str(k), x);
  }
}

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
  return Value::undefined("'" + obj.type_name() + "' has no attribute '" + name + "'");
}

Value Evaluator::getitem(const Value& obj, const Value& key) {
  // A slice is Python's own subscription in jinja2 (no environment.getitem): it raises.
  if (key.type == Value::Type::Tuple && key.b && !obj.is_list() && !obj.is_string()) {
    if (obj.is_undefined()) fail_undefined(obj);
    if (obj.type == Value::Type::Dict) fail("unhashable type: 'slice'");
    fail("'" + type_short(obj) + "' object is not subscriptable");
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
  return Value::undefined("'" + obj.type_name() + "' has no element " + repr(key));
}

Value Evaluator::call(const Value& callee, Args& args) {
  switch (callee.type) {
    case Value::Type::Function:
      return callee.fn->call(args);
    case Value::Type::Loop:
      if (!callee.loop->recurse)
        fail("Tried to call non recursive loop.  Maybe you forgot the 'recursive' modifier.");
      if (args.positional.size() != 1) fail("loop() takes exactly one argument");
      return callee.loop->recurse(args.positional[0], callee.loop->depth0 + 1);
    case Value::Type::Undefined:
      fail_undefined(callee);
    default:
      fail("'" + type_short(callee) + "' object is not callable");
  }
}

Value Evaluator::apply_filter(std::string_view name, const Value& target, Args& args) {
  const FilterFn f = find_filter(name);
  if (!f) fail("No filter named '" + std::string(name) + "'.");
  return f(*this, target, args);
}

bool Evaluator::apply_test(std::string_view name, const Value& target, Args& args) {
  const TestFn t = find_test(name);
  if (!t) fail("No test named '" + std::string(name) + "'.");
  return t(*this, target, args);
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
      case Value::Type::Tuple:
        for (const auto& x : *b.list)
          if (equals(x, a)) {
            found = true;
            break;
          }
        break;
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
      if (a.is_list() && a.type == b.type) {
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
      if ((a.is_string() || a.is_list()) && b.is_int()) return repeat(a, b.as_int());
      if (a.is_int() && (b.is_string() || b.is_list())) return repeat(b, a.as_int());
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

Value Evaluator::eval(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::Const:
      return e.value;
    case Expr::Kind::Name: {
      if (const Value* v = scope_->find(e.name)) return *v;
      return Value::undefined("'" + e.name + "' is undefined");
    }
    case Expr::Kind::Getattr: {
      const Value obj = eval(*e.children[0]);
      at_expr_ = &e;
      return getattr(obj, e.name);
    }
    case Expr::Kind::Getitem: {
      const Value obj = eval(*e.children[0]);
      const Expr& index = *e.children[1];
      Value key;
      if (index.kind == Expr::Kind::Slice) {
        List parts;
        for (const auto& c : index.children) parts.push_back(c ? eval(*c) : Value::none());
        key = Value::make_tuple(std::move(parts));
        key.b = true;  // marks the tuple as a slice
      } else {
        key = eval(index);
      }
      at_expr_ = &e;
      if (key.type == Value::Type::Tuple && key.b && !obj.is_list() && !obj.is_string() && folding_)
        return Value::undefined("'" + obj.type_name() + "' has no element");  // jinja2 folds it
      return getitem(obj, key);
    }
    case Expr::Kind::Slice:
      fail("a slice outside of a subscript");
    case Expr::Kind::Call: {
      const Expr& target = *e.children[0];
      if (target.kind == Expr::Kind::Getattr) {  // a method call without a bound function
        const Value obj = eval(*target.children[0]);
        if ((obj.is_string() || obj.is_list() || obj.is_dict()) && has_method(obj, target.name)) {
          Args args;
          eval_args(e, 1, args);
          at_expr_ = &e;
          if (is_unsafe_method(obj, target.name))
            fail("access to attribute '" + target.name + "' of '" + type_short(obj) +
                 "' object is unsafe.");
          return call_method(*this, obj, target.name, args);
        }
        at_expr_ = &target;
        const Value callee = getattr(obj, target.name);
        Args args;
        eval_args(e, 1, args);
        at_expr_ = &e;
        return call(callee, args);
      }
      const Value callee = eval(target);
      Args args;
      eval_args(e, 1, args);
      at_expr_ = &e;
      return call(callee, args);
    }
    case Expr::Kind::Filter: {
      Value target;
      if (e.children[0])
        target = eval(*e.children[0]);
      else if (filter_input_)
        target = *filter_input_;
      Args args;
      eval_args(e, 1, args);
      at_expr_ = &e;
      if (!e.filter) fail("No filter named '" + e.name + "'.");
      return e.filter(*this, target, args);
    }
    case Expr::Kind::Test: {
      const Value target = eval(*e.children[0]);
      Args args;
      eval_args(e, 1, args);
      at_expr_ = &e;
      if (!e.test) fail("No test named '" + e.name + "'.");
      return Value::boolean(e.test(*this, target, args) != e.negated);
    }
    case Expr::Kind::Neg:
    case Expr::Kind::Pos: {
      const Value v = eval(*e.children[0]);
      at_expr_ = &e;
      if (v.is_undefined()) fail_undefined(v);
      if (!v.is_number())
        fail(std::string("bad operand type for unary ") + (e.kind == Expr::Kind::Neg ? "-" : "+") +
             ": '" + type_short(v) + "'");
      if (e.kind == Expr::Kind::Pos)
        return v.type == Value::Type::Bool ? Value::integer(v.as_int()) : v;
      if (v.type == Value::Type::Float) return Value::number(-v.f);
      return Value::integer(checked(v.as_int() == INT64_MIN, -v.as_int()));
    }
    case Expr::Kind::Not:
      return Value::boolean(!eval(*e.children[0]).truthy());
    case Expr::Kind::And: {
      Value a = eval(*e.children[0]);
      if (!a.truthy()) return a;
      return eval(*e.children[1]);
    }
    case Expr::Kind::Or: {
      Value a = eval(*e.children[0]);
      if (a.truthy()) return a;
      return eval(*e.children[1]);
    }
    case Expr::Kind::Concat: {
      std::string out;
      for (const auto& c : e.children) append_str(out, eval(*c));
      return Value::string(std::move(out));
    }
    case Expr::Kind::Compare: {
      Value left = eval(*e.children[0]);
      for (std::size_t k = 0; k < e.ops.size(); ++k) {
        Value right = eval(*e.children[k + 1]);
        at_expr_ = &e;
        if (!compare(e.ops[k], left, right)) return Value::boolean(false);
        left = std::move(right);
      }
      return Value::boolean(true);
    }
    case Expr::Kind::CondExpr:
      if (eval(*e.children[1]).truthy()) return eval(*e.children[0]);
      if (e.children[2]) return eval(*e.children[2]);
      return Value::undefined("the inline if-expression on line " + std::to_string(e.line) +
                              " evaluated to false and no else section was defined.");
    case Expr::Kind::List:
    case Expr::Kind::Tuple: {
      List items;
      items.reserve(e.children.size());
      for (const auto& c : e.children) items.push_back(eval(*c));
      return e.kind == Expr::Kind::List ? Value::make_list(std::move(items))
                                        : Value::make_tuple(std::move(items));
    }
    case Expr::Kind::Dict: {
      Value d = Value::make_dict();
      for (std::size_t k = 0; k + 1 < e.children.size(); k += 2) {
        Value key = eval(*e.children[k]);
        if (key.is_list() && key.type == Value::Type::List) {
          at_expr_ = &e;
          fail("unhashable type: 'list'");
        }
        d.dict->set(std::move(key), eval(*e.children[k + 1]));
      }
      return d;
    }
    default:
      return binary(e);
  }
}

}  // namespace loom::jinja
