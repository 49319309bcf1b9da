// Renders a parsed template: scopes, expression evaluation with Python's semantics, the
// statements, and the globals transformers gives (range, namespace, raise_exception, ...).
#pragma once

#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jinja/ast.h"
#include "jinja/template.h"
#include "jinja/value.h"

namespace loom::jinja {

struct Scope {
  std::vector<std::pair<std::string, Value>> vars;
  std::shared_ptr<Scope> parent;

  const Value* find(std::string_view name) const;
  void set(std::string_view name, Value value);
};

class Evaluator {
 public:
  Evaluator(const std::string& origin, const RenderOptions& options);
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;
  // Breaks the reference cycles a render may leave (a macro held by the scope it closes over, a
  // namespace that holds itself), so that everything is freed.
  ~Evaluator();

  void render(const Node& root, const nlohmann::ordered_json& context, std::string& out);

  Value eval(const Expr& e);
  // obj.name and obj[key] as jinja2's sandbox resolves them.
  Value getattr(const Value& obj, const std::string& name);
  Value getitem(const Value& obj, const Value& key);
  Value call(const Value& callee, Args& args);
  Value apply_filter(std::string_view name, const Value& target, Args& args);
  bool apply_test(std::string_view name, const Value& target, Args& args);
  // The attribute path of map(attribute=), sort(attribute=), selectattr: "a.b", "0".
  Value attribute_path(const Value& item, const Value& path);
  std::time_t now() const;

 private:
  enum class Flow { Normal, Break, Continue };

  Flow exec(const Body& body, std::string& out);
  Flow exec_node(const Node& n, std::string& out);
  void exec_for(const Node& n, std::string& out);
  Value run_loop(const Node& n, const Value& iterable, std::size_t depth0, std::string& out);
  void assign(const Node& n, Value value);
  Value make_macro(const Node& n, const Body& body, const std::vector<std::string>& params,
                   const std::vector<const Expr*>& defaults, std::string name);
  void eval_args(const Expr& e, std::size_t first, Args& args);
  Value binary(const Expr& e);
  bool compare(const std::string& op, const Value& a, const Value& b);
  [[noreturn]] void fail(const std::string& message) const;

  const std::string& origin_;
  const RenderOptions& options_;
  std::shared_ptr<Scope> scope_;
  const Expr* at_expr_ = nullptr;
  const Node* at_node_ = nullptr;
  const Value* filter_input_ = nullptr;  // the text a filter block or block set filters
  int depth_ = 0;
  bool folding_ = false;  // evaluating a {{ }} that jinja2 folds at compile time
  std::vector<std::shared_ptr<Scope>> closures_;  // scopes a macro closes over
  std::vector<std::shared_ptr<Dict>> namespaces_;

  friend class Template;
};

// Raises jinja2's UndefinedError (or the sandbox's SecurityError) for a use of V.
[[noreturn]] void fail_undefined(const Value& v);

}  // namespace loom::jinja
