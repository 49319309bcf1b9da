// The parsed template: expression and statement nodes, as jinja2's parser builds them.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "jinja/value.h"

namespace loom::jinja {

class Evaluator;
using FilterFn = Value (*)(Evaluator&, const Value&, Args&);
using TestFn = bool (*)(Evaluator&, const Value&, Args&);

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    Const,
    Name,
    Getattr,  // children[0].name
    Getitem,  // children[0][children[1]]
    Slice,    // children: start, stop, step (each may be null)
    Call,     // children[0](children[1..], kwargs)
    Filter,   // children[0] | name(children[1..], kwargs); children[0] null in a filter block
    Test,     // children[0] is [not] name(children[1..], kwargs)
    Neg,
    Pos,
    Not,
    And,
    Or,
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    Concat,    // children joined by ~
    Compare,   // children[0] ops[k] children[k+1]
    CondExpr,  // children: then, test, else (may be null)
    List,
    Tuple,
    Dict,  // children: key, value, key, value, ...
  };

  Kind kind;
  int line = 0;
  int column = 0;
  Value value;       // Const
  std::string name;  // Name, Getattr, Filter, Test
  std::vector<ExprPtr> children;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  ExprPtr dyn_args;              // *args
  ExprPtr dyn_kwargs;            // **kwargs
  std::vector<std::string> ops;  // Compare: ==, !=, <, <=, >, >=, in, notin
  bool negated = false;          // Test: "is not"
  FilterFn filter = nullptr;     // Filter: resolved at parse time, null when unknown
  TestFn test = nullptr;         // Test
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Node {
  enum class Kind {
    Root,
    Text,         // text
    Output,       // {{ exprs[0] }}
    If,           // exprs: conditions; bodies: one per condition, then the else body
    For,          // targets; exprs: iterable, filter (may be null); bodies: body, else
    Set,          // targets (a name, a tuple of names or ns.attr); exprs[0]
    SetBlock,     // targets; exprs[0]: filter chain (may be null); bodies[0]
    Macro,        // name; params with defaults in exprs (null: required); bodies[0]
    CallBlock,    // exprs[0]: the call; params: the caller's; bodies[0]
    FilterBlock,  // exprs[0]: filter chain on a null target; bodies[0]
    With,         // targets / exprs pairwise; bodies[0]
    Break,
    Continue,
    Generation,  // transformers' {% generation %}: renders its body
  };

  Kind kind;
  int line = 0;
  int column = 0;
  std::string text;  // Text; Macro's name
  std::vector<ExprPtr> exprs;
  std::vector<Body> bodies;
  // Assignment targets: names; for ns.attr, "ns" then attr in target_attr.
  std::vector<std::string> targets;
  std::string target_attr;
  bool target_tuple = false;  // "a, b" unpacks
  bool recursive = false;
  std::vector<std::string> params;
};

// Parses TOKENS (from tokenize) into a Root node.
NodePtr parse(const std::vector<struct Token>& tokens, const std::string& origin);

}  // namespace loom::jinja
