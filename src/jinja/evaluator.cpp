#include "jinja/evaluator.h"

#include <chrono>
#include <cmath>

#include "jinja/builtins.h"
#include "loom/error.h"

namespace loom::jinja {

namespace {

constexpr int kMaxDepth = 256;  // macro and recursive-loop nesting before an error, not a crash

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
  auto globals = make_globals();
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

// A block set's and a filter block's body: a scope of its own, as jinja2 gives it a frame.
Evaluator::Flow Evaluator::exec_scoped(const Body& body, std::string& out) {
  auto scope = std::make_shared<Scope>();
  scope->parent = scope_;
  auto saved = scope_;
  scope_ = scope;
  const Flow f = exec(body, out);
  scope_ = saved;
  return f;
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
      const Flow f = exec_scoped(n.bodies[0], text);
      if (f != Flow::Normal) return f;  // a break inside leaves the loop before the assignment
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
      const Flow f = exec_scoped(n.bodies[0], text);
      if (f != Flow::Normal) return f;
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
  const Node* node = &n;
  const std::string display = name == "caller" ? "Macro anonymous" : "Macro '" + name + "'";
  return Value::function(display, [this, &body, &params, defaults, defining, name,
                                   node](Args& args) {
    // jinja2's Macro.__call__ checks: keywords and extra arguments the body does not take.
    for (const auto& [k, v] : args.keyword) {
      bool known = false;
      for (const auto& p : params) known = known || p == k;
      if (known || node->uses_kwargs || (k == "caller" && node->uses_caller)) continue;
      if (k == "caller")
        fail("macro '" + name +
             "' was invoked with two values for the special caller argument. This is most likely "
             "a bug.");
      fail("macro '" + name + "' takes no keyword argument '" + k + "'");
    }
    if (args.positional.size() > params.size() && !node->uses_varargs)
      fail("macro '" + name + "' takes not more than " + std::to_string(params.size()) +
           " argument(s)");
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
      if (k == "caller" && node->uses_caller) {
        scope->set("caller", v);
        continue;
      }
      bool is_param = false;
      for (const auto& p : params) is_param = is_param || p == k;
      if (!is_param) kwargs.dict->set(Value::string(k), v);
    }
    if (node->uses_caller && !args.get_keyword("caller"))
      scope->set("caller", Value::undefined("No caller defined"));
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
      if (v.as_int() == INT64_MIN) fail("integer overflow (loom's integers are 64-bit)");
      return Value::integer(-v.as_int());
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
