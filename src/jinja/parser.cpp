// A recursive-descent parser with jinja2's grammar and precedence: condexpr < or < and < not <
// compare < + - < ~ < * / // % < ** < unary - + < postfix (. [] ()) and filters/tests.
#include <set>

#include "jinja/ast.h"
#include "jinja/builtins.h"
#include "jinja/lexer.h"
#include "loom/error.h"

namespace loom::jinja {
namespace {

const char* describe(const Token& t) {
  switch (t.type) {
    case TokenType::Text:
      return "template data";
    case TokenType::VariableBegin:
      return "begin of print statement";
    case TokenType::VariableEnd:
      return "end of print statement";
    case TokenType::BlockBegin:
      return "begin of statement block";
    case TokenType::BlockEnd:
      return "end of statement block";
    case TokenType::End:
      return "end of template";
    default:
      return nullptr;
  }
}

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const std::string& origin)
      : tokens_(tokens), origin_(origin) {}

  NodePtr parse_root() {
    auto root = std::make_unique<Node>();
    root->kind = Node::Kind::Root;
    root->bodies.push_back(parse_body({}));
    if (cur().type != TokenType::End) fail(cur(), "unexpected tag");
    return root;
  }

 private:
  const Token& cur() const { return tokens_[pos_]; }
  const Token& look() const { return tokens_[std::min(pos_ + 1, tokens_.size() - 1)]; }
  const Token& advance() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }

  [[noreturn]] void fail(const Token& at, const std::string& what) const {
    throw Error(origin_ + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) + ": " +
                what);
  }

  // jinja2's wording for a missing token: at the end, "unexpected end of template, expected X."
  [[noreturn]] void fail_expected(const std::string& what) const {
    if (cur().type == TokenType::End)
      fail(cur(), "unexpected end of template, expected '" + what + "'.");
    fail(cur(), "expected token '" + what + "', got '" + show(cur()) + "'");
  }

  std::string show(const Token& t) const {
    if (const char* d = describe(t)) return d;
    if (t.type == TokenType::String) return "string";
    if (t.type == TokenType::Integer) return "integer";
    if (t.type == TokenType::Float) return "float";
    return t.text;
  }

  bool is_op(std::string_view op) const {
    return cur().type == TokenType::Operator && cur().text == op;
  }
  bool is_name(std::string_view name) const {
    return cur().type == TokenType::Name && cur().text == name;
  }
  bool skip_op(std::string_view op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!is_name(name)) return false;
    advance();
    return true;
  }
  void expect_op(std::string_view op) {
    if (!skip_op(op)) fail_expected(std::string(op));
  }
  std::string expect_name() {
    if (cur().type != TokenType::Name) fail_expected("name");
    return advance().text;
  }
  void expect_block_end() {
    if (cur().type != TokenType::BlockEnd) fail_expected("end of statement block");
    advance();
  }

  ExprPtr make(Expr::Kind kind, const Token& at) const {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = at.line;
    e->column = at.column;
    return e;
  }

  // ---- statements ----

  // Parses until a block tag whose name is in END (left unconsumed, after its {%).
  Body parse_body(const std::set<std::string>& end) {
    Body body;
    for (;;) {
      const Token& t = cur();
      if (t.type == TokenType::End) {
        if (!end.empty()) {
          std::string expected;
          for (const auto& e : end) expected += (expected.empty() ? "'" : " or '") + e + "'";
          std::string innermost = tags_.empty() ? std::string() : tags_.back();
          fail(t,
               "Unexpected end of template. Jinja was looking for the following tags: " + expected +
                   ". The innermost block that needs to be closed is '" + innermost + "'.");
        }
        return body;
      }
      if (t.type == TokenType::Text) {
        auto n = std::make_unique<Node>();
        n->kind = Node::Kind::Text;
        n->line = t.line;
        n->column = t.column;
        n->text = t.text;
        body.push_back(std::move(n));
        advance();
      } else if (t.type == TokenType::VariableBegin) {
        advance();
        auto n = std::make_unique<Node>();
        n->kind = Node::Kind::Output;
        n->line = t.line;
        n->column = t.column;
        n->exprs.push_back(parse_tuple(true, {}, false));
        if (cur().type != TokenType::VariableEnd) fail_expected("end of print statement");
        advance();
        body.push_back(std::move(n));
      } else if (t.type == TokenType::BlockBegin) {
        const Token& name = look();
        if (name.type == TokenType::Name && end.count(name.text)) {
          advance();
          return body;
        }
        advance();
        body.push_back(parse_statement());
      } else {
        fail(t, "unexpected '" + show(t) + "'");
      }
    }
  }

  // After "{% NAME ... %}": parses up to {% end %} and consumes it (with its %}).
  Body parse_until_end(const std::string& end_tag) {
    Body b = parse_body({end_tag});
    advance();  // the end tag's name
    expect_block_end();
    return b;
  }

  NodePtr parse_statement() {
    const Token& t = cur();
    const Nesting nesting(*this, t);
    if (t.type != TokenType::Name) fail(t, "tag name expected");
    auto n = std::make_unique<Node>();
    n->line = t.line;
    n->column = t.column;
    const std::string tag = t.text;
    tags_.push_back(tag);
    advance();
    if (tag == "if") {
      parse_if(*n);
    } else if (tag == "for") {
      parse_for(*n);
    } else if (tag == "set") {
      parse_set(*n);
    } else if (tag == "macro") {
      parse_macro(*n);
    } else if (tag == "call") {
      parse_call_block(*n);
    } else if (tag == "filter") {
      n->kind = Node::Kind::FilterBlock;
      n->exprs.push_back(parse_filter_chain(nullptr, true));
      expect_block_end();
      n->bodies.push_back(parse_until_end("endfilter"));
    } else if (tag == "with") {
      n->kind = Node::Kind::With;
      while (cur().type != TokenType::BlockEnd) {
        if (!n->targets.empty()) expect_op(",");
        n->targets.push_back(expect_name());
        expect_op("=");
        n->exprs.push_back(parse_expression());
      }
      expect_block_end();
      n->bodies.push_back(parse_until_end("endwith"));
    } else if (tag == "break" || tag == "continue") {
      if (loops_ == 0)
        fail(t, "'" + tag + "' outside of a loop");  // jinja2 allows it in macros too
      n->kind = tag == "break" ? Node::Kind::Break : Node::Kind::Continue;
      expect_block_end();
    } else if (tag == "generation") {
      n->kind = Node::Kind::Generation;
      expect_block_end();
      n->bodies.push_back(parse_until_end("endgeneration"));
    } else {
      tags_.pop_back();
      static const std::set<std::string> kUnsupported = {"block", "extends", "include",   "import",
                                                         "from",  "print",   "autoescape"};
      if (kUnsupported.count(tag)) fail(t, "the '" + tag + "' tag is not supported");
      static const std::set<std::string> kEnds = {
          "endif",   "endfor",        "endset", "endmacro", "endcall", "endfilter",
          "endwith", "endgeneration", "elif",   "else",     "endraw"};
      if (kEnds.count(tag)) {
        std::string msg = "Encountered unknown tag '" + tag + "'.";
        if (!tags_.empty())
          msg += " The innermost block that needs to be closed is '" + tags_.back() + "'.";
        fail(t, msg);
      }
      fail(t, "Encountered unknown tag '" + tag + "'.");
    }
    tags_.pop_back();
    return n;
  }

  void parse_if(Node& n) {
    n.kind = Node::Kind::If;
    for (;;) {
      n.exprs.push_back(parse_tuple(false, {}, false));
      expect_block_end();
      n.bodies.push_back(parse_body({"elif", "else", "endif"}));
      const std::string tag = advance().text;
      if (tag == "elif") continue;
      if (tag == "else") {
        expect_block_end();
        n.bodies.push_back(parse_until_end("endif"));
      } else {
        expect_block_end();
      }
      return;
    }
  }

  void parse_target(Node& n, const std::set<std::string>& end_names, bool with_namespace) {
    for (;;) {
      const Token& t = cur();
      if (t.type != TokenType::Name) fail(t, "can't assign to '" + show(t) + "'");
      if (t.text == "true" || t.text == "false" || t.text == "none" || t.text == "True" ||
          t.text == "False" || t.text == "None")
        fail(t, "can't assign to 'const'");
      n.targets.push_back(advance().text);
      if (with_namespace && n.targets.size() == 1 && skip_op(".")) {
        n.target_attr = expect_name();
        return;
      }
      if (!skip_op(",")) return;
      n.target_tuple = true;
      if (cur().type == TokenType::Name && end_names.count(cur().text)) return;
      if (cur().type == TokenType::BlockEnd || is_op("=")) return;
    }
  }

  void parse_for(Node& n) {
    n.kind = Node::Kind::For;
    const bool parens = skip_op("(");
    parse_target(n, {"in"}, false);
    if (parens) expect_op(")");
    if (!skip_name("in")) fail_expected("in");
    n.exprs.push_back(parse_tuple(false, {"recursive"}, false));
    if (skip_name("if"))
      n.exprs.push_back(parse_expression());
    else
      n.exprs.push_back(nullptr);
    n.recursive = skip_name("recursive");
    expect_block_end();
    ++loops_;
    n.bodies.push_back(parse_body({"endfor", "else"}));
    --loops_;
    if (advance().text == "else") {
      expect_block_end();
      n.bodies.push_back(parse_until_end("endfor"));
    } else {
      expect_block_end();
      n.bodies.emplace_back();
    }
  }

  void parse_set(Node& n) {
    parse_target(n, {}, true);
    if (skip_op("=")) {
      n.kind = Node::Kind::Set;
      n.exprs.push_back(parse_tuple(true, {}, false));
      expect_block_end();
      return;
    }
    n.kind = Node::Kind::SetBlock;
    n.exprs.push_back(is_op("|") ? parse_filter_chain(nullptr, false) : nullptr);
    expect_block_end();
    n.bodies.push_back(parse_until_end("endset"));
  }

  void parse_signature(Node& n) {
    expect_op("(");
    while (!is_op(")")) {
      if (!n.params.empty()) expect_op(",");
      n.params.push_back(expect_name());
      if (skip_op("=")) {
        n.exprs.push_back(parse_expression());
      } else {
        for (const auto& d : n.exprs)
          if (d) fail(cur(), "non-default argument follows default argument");
        n.exprs.push_back(nullptr);
      }
    }
    expect_op(")");
  }

  void parse_macro(Node& n) {
    n.kind = Node::Kind::Macro;
    n.text = expect_name();
    parse_signature(n);
    expect_block_end();
    const int loops = loops_;
    loops_ = 0;
    n.bodies.push_back(parse_until_end("endmacro"));
    loops_ = loops;
  }

  void parse_call_block(Node& n) {
    n.kind = Node::Kind::CallBlock;
    std::vector<ExprPtr> defaults;
    if (is_op("(")) {
      parse_signature(n);
      defaults = std::move(n.exprs);
      n.exprs.clear();
    }
    const Token& at = cur();
    ExprPtr call = parse_expression();
    if (call->kind != Expr::Kind::Call) fail(at, "expected call");
    n.exprs.push_back(std::move(call));
    for (auto& d : defaults) n.exprs.push_back(std::move(d));
    expect_block_end();
    n.bodies.push_back(parse_until_end("endcall"));
  }

  // ---- expressions ----

  bool is_tuple_end(const std::set<std::string>& extra) const {
    const Token& t = cur();
    if (t.type == TokenType::VariableEnd || t.type == TokenType::BlockEnd ||
        t.type == TokenType::End)
      return true;
    if (t.type == TokenType::Operator && t.text == ")") return true;
    return t.type == TokenType::Name && extra.count(t.text);
  }

  ExprPtr parse_tuple(bool with_condexpr, const std::set<std::string>& extra,
                      bool explicit_parens) {
    const Token& at = cur();
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    for (;;) {
      if (!items.empty()) expect_op(",");
      if (is_tuple_end(extra)) break;
      items.push_back(with_condexpr ? parse_expression() : parse_or());
      if (is_op(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parens) fail(cur(), "Expected an expression, got '" + show(cur()) + "'");
    }
    auto e = make(Expr::Kind::Tuple, at);
    e->children = std::move(items);
    return e;
  }

  ExprPtr parse_expression() {
    ExprPtr e = parse_or();
    while (is_name("if")) {
      const Token& at = advance();
      auto c = make(Expr::Kind::CondExpr, at);
      ExprPtr test = parse_or();
      ExprPtr otherwise = skip_name("else") ? parse_expression() : nullptr;
      c->children.push_back(std::move(e));
      c->children.push_back(std::move(test));
      c->children.push_back(std::move(otherwise));
      e = std::move(c);
    }
    return e;
  }

  ExprPtr binary(Expr::Kind kind, const Token& at, ExprPtr left, ExprPtr right) const {
    auto e = make(kind, at);
    e->children.push_back(std::move(left));
    e->children.push_back(std::move(right));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      const Token& at = advance();
      left = binary(Expr::Kind::Or, at, std::move(left), parse_and());
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      const Token& at = advance();
      left = binary(Expr::Kind::And, at, std::move(left), parse_not());
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      const Nesting nesting(*this, cur());
      const Token& at = advance();
      auto e = make(Expr::Kind::Not, at);
      e->children.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const Token& at = cur();
    ExprPtr first = parse_math1();
    ExprPtr cmp;
    for (;;) {
      std::string op;
      if (cur().type == TokenType::Operator &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" ||
           cur().text == ">" || cur().text == ">=")) {
        op = advance().text;
      } else if (skip_name("in")) {
        op = "in";
      } else if (is_name("not") && look().type == TokenType::Name && look().text == "in") {
        advance();
        advance();
        op = "notin";
      } else {
        break;
      }
      if (!cmp) {
        cmp = make(Expr::Kind::Compare, at);
        cmp->children.push_back(std::move(first));
      }
      cmp->ops.push_back(op);
      cmp->children.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& at = advance();
      left = binary(at.text == "+" ? Expr::Kind::Add : Expr::Kind::Sub, at, std::move(left),
                    parse_concat());
    }
    return left;
  }

  ExprPtr parse_concat() {
    const Token& at = cur();
    ExprPtr first = parse_math2();
    if (!is_op("~")) return first;
    auto e = make(Expr::Kind::Concat, at);
    e->children.push_back(std::move(first));
    while (skip_op("~")) e->children.push_back(parse_math2());
    return e;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& at = advance();
      const Expr::Kind kind = at.text == "*"    ? Expr::Kind::Mul
                              : at.text == "/"  ? Expr::Kind::Div
                              : at.text == "//" ? Expr::Kind::FloorDiv
                                                : Expr::Kind::Mod;
      left = binary(kind, at, std::move(left), parse_pow());
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      const Token& at = advance();
      left = binary(Expr::Kind::Pow, at, std::move(left), parse_unary(true));
    }
    return left;
  }

  // Expressions and blocks nest at most this deep, so that a malformed template cannot exhaust the
  // stack of the parser or of the evaluator.
  static constexpr int kMaxNesting = 200;
  struct Nesting {
    Parser& p;
    explicit Nesting(Parser& parser, const Token& at) : p(parser) {
      if (++p.nesting_ > kMaxNesting) p.fail(at, "the template nests too deeply");
    }
    ~Nesting() { --p.nesting_; }
  };

  ExprPtr parse_unary(bool with_filter) {
    const Nesting nesting(*this, cur());
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      const Token& at = advance();
      node = make(at.text == "-" ? Expr::Kind::Neg : Expr::Kind::Pos, at);
      node->children.push_back(parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    switch (t.type) {
      case TokenType::Name: {
        advance();
        auto e = make(Expr::Kind::Const, t);
        if (t.text == "true" || t.text == "True") {
          e->value = Value::boolean(true);
        } else if (t.text == "false" || t.text == "False") {
          e->value = Value::boolean(false);
        } else if (t.text == "none" || t.text == "None") {
          e->value = Value::none();
        } else {
          e->kind = Expr::Kind::Name;
          e->name = t.text;
        }
        return e;
      }
      case TokenType::String: {
        auto e = make(Expr::Kind::Const, t);
        std::string s;
        while (cur().type == TokenType::String) s += advance().text;
        e->value = Value::string(std::move(s));
        return e;
      }
      case TokenType::Integer: {
        advance();
        auto e = make(Expr::Kind::Const, t);
        e->value = Value::integer(t.integer);
        return e;
      }
      case TokenType::Float: {
        advance();
        auto e = make(Expr::Kind::Const, t);
        e->value = Value::number(t.number);
        return e;
      }
      case TokenType::Operator:
        if (t.text == "(") {
          advance();
          ExprPtr e = parse_tuple(true, {}, true);
          expect_op(")");
          return e;
        }
        if (t.text == "[") return parse_list();
        if (t.text == "{") return parse_dict();
        break;
      default:
        break;
    }
    fail(t, "unexpected '" + show(t) + "'");
  }

  ExprPtr parse_list() {
    auto e = make(Expr::Kind::List, advance());
    while (!is_op("]")) {
      if (!e->children.empty()) expect_op(",");
      if (is_op("]")) break;
      e->children.push_back(parse_expression());
    }
    expect_op("]");
    return e;
  }

  ExprPtr parse_dict() {
    auto e = make(Expr::Kind::Dict, advance());
    while (!is_op("}")) {
      if (!e->children.empty()) expect_op(",");
      if (is_op("}")) break;
      e->children.push_back(parse_expression());
      expect_op(":");
      e->children.push_back(parse_expression());
    }
    expect_op("}");
    return e;
  }

  ExprPtr parse_postfix(ExprPtr node) {
    for (;;) {
      if (is_op(".") || is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    for (;;) {
      if (is_op("|")) {
        node = parse_filter_chain(std::move(node), false);
      } else if (is_name("is")) {
        node = parse_test(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    const Token& at = advance();
    if (at.text == ".") {
      const Token& attr = cur();
      if (attr.type == TokenType::Name) {
        advance();
        auto e = make(Expr::Kind::Getattr, at);
        e->children.push_back(std::move(node));
        e->name = attr.text;
        return e;
      }
      if (attr.type != TokenType::Integer) fail(attr, "expected name or number");
      advance();
      auto e = make(Expr::Kind::Getitem, at);
      e->children.push_back(std::move(node));
      auto index = make(Expr::Kind::Const, attr);
      index->value = Value::integer(attr.integer);
      e->children.push_back(std::move(index));
      return e;
    }
    auto e = make(Expr::Kind::Getitem, at);
    e->children.push_back(std::move(node));
    std::vector<ExprPtr> args;
    while (!is_op("]")) {
      if (!args.empty()) expect_op(",");
      args.push_back(parse_subscribed());
    }
    expect_op("]");
    if (args.empty()) fail(at, "expected subscript expression");
    if (args.size() == 1) {
      e->children.push_back(std::move(args[0]));
    } else {
      auto t = make(Expr::Kind::Tuple, at);
      t->children = std::move(args);
      e->children.push_back(std::move(t));
    }
    return e;
  }

  ExprPtr parse_subscribed() {
    const Token& at = cur();
    ExprPtr start;
    if (!skip_op(":")) {
      start = parse_expression();
      if (!skip_op(":")) return start;
    }
    auto s = make(Expr::Kind::Slice, at);
    s->children.push_back(std::move(start));
    if (is_op(":") || is_op("]") || is_op(","))
      s->children.push_back(nullptr);
    else
      s->children.push_back(parse_expression());
    if (skip_op(":") && !is_op("]") && !is_op(","))
      s->children.push_back(parse_expression());
    else
      s->children.push_back(nullptr);
    return s;
  }

  void parse_call_args(Expr& e) {
    const Token& at = cur();
    expect_op("(");
    bool require_comma = false;
    while (!is_op(")")) {
      if (require_comma) {
        expect_op(",");
        if (is_op(")")) break;
      }
      if (skip_op("*")) {
        if (e.dyn_args || e.dyn_kwargs) fail(at, "invalid syntax for function call expression");
        e.dyn_args = parse_expression();
      } else if (skip_op("**")) {
        if (e.dyn_kwargs) fail(at, "invalid syntax for function call expression");
        e.dyn_kwargs = parse_expression();
      } else if (cur().type == TokenType::Name && look().type == TokenType::Operator &&
                 look().text == "=") {
        if (e.dyn_kwargs) fail(at, "invalid syntax for function call expression");
        std::string key = advance().text;
        advance();
        e.kwargs.emplace_back(std::move(key), parse_expression());
      } else {
        if (e.dyn_args || e.dyn_kwargs || !e.kwargs.empty())
          fail(at, "invalid syntax for function call expression");
        e.children.push_back(parse_expression());
      }
      require_comma = true;
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr node) {
    auto e = make(Expr::Kind::Call, cur());
    e->line = node->line;  // an error in the call names where the callee begins
    e->column = node->column;
    e->children.push_back(std::move(node));
    parse_call_args(*e);
    return e;
  }

  std::string dotted_name() {
    std::string name = expect_name();
    while (skip_op(".")) name += "." + expect_name();
    return name;
  }

  // "| name(args) | name ..." applied to NODE (null in a filter block or a block set).
  ExprPtr parse_filter_chain(ExprPtr node, bool start_inline) {
    while (is_op("|") || start_inline) {
      if (!start_inline) advance();
      start_inline = false;
      const Token& at = cur();
      auto e = make(Expr::Kind::Filter, at);
      e->name = dotted_name();
      e->filter = find_filter(e->name);
      e->children.push_back(std::move(node));
      if (is_op("(")) parse_call_args(*e);
      node = std::move(e);
    }
    return node;
  }

  ExprPtr parse_test(ExprPtr node) {
    advance();  // is
    const bool negated = skip_name("not");
    const Token& at = cur();
    auto e = make(Expr::Kind::Test, at);
    e->name = dotted_name();
    e->test = find_test(e->name);
    e->negated = negated;
    e->children.push_back(std::move(node));
    const Token& t = cur();
    if (is_op("(")) {
      parse_call_args(*e);
    } else if ((t.type == TokenType::Name || t.type == TokenType::String ||
                t.type == TokenType::Integer || t.type == TokenType::Float ||
                (t.type == TokenType::Operator &&
                 (t.text == "(" || t.text == "[" || t.text == "{"))) &&
               !(t.type == TokenType::Name &&
                 (t.text == "else" || t.text == "or" || t.text == "and"))) {
      if (is_name("is")) fail(t, "You cannot chain multiple tests with is");
      e->children.push_back(parse_postfix(parse_primary()));
    }
    return e;
  }

  const std::vector<Token>& tokens_;
  const std::string& origin_;
  std::size_t pos_ = 0;
  std::vector<std::string> tags_;
  int loops_ = 0;
  int nesting_ = 0;
};

}  // namespace

NodePtr parse(const std::vector<Token>& tokens, const std::string& origin) {
  return Parser(tokens, origin).parse_root();
}

}  // namespace loom::jinja
