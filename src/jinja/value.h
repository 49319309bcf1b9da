// The runtime value of the template engine: Python's objects as jinja2 sees them inside
// transformers (None, bool, int, float, str, list, tuple, insertion-ordered dict, callables,
// namespace, the loop object) plus jinja2's Undefined.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace loom::jinja {

struct Value;
struct Dict;
struct Function;
struct LoopState;

using List = std::vector<Value>;

// A raised Python exception: the evaluator adds the template's location to it.
struct RenderError {
  std::string message;
};

struct Value {
  enum class Type : std::uint8_t {
    Undefined,
    None,
    Bool,
    Int,
    Float,
    String,
    List,
    Tuple,
    Dict,
    Namespace,
    Function,
    Loop,
  };

  Type type = Type::Undefined;
  bool b = false;
  // Int: the value. Undefined: 1 when it stands for an attribute the sandbox refuses (a
  // SecurityError on use). String: 1 for markupsafe's Markup (the result of escape or safe).
  // Tuple: 2 for groupby's (grouper, list).
  std::int64_t i = 0;
  double f = 0.0;
  // String: the text; Undefined: the error its use raises ("'x' is undefined").
  std::string s;
  std::shared_ptr<List> list;  // List, Tuple
  std::shared_ptr<Dict> dict;  // Dict, Namespace
  std::shared_ptr<Function> fn;
  std::shared_ptr<LoopState> loop;

  Value() = default;
  static Value undefined(std::string hint = {}) {
    Value v;
    v.s = std::move(hint);
    return v;
  }
  static Value none() {
    Value v;
    v.type = Type::None;
    return v;
  }
  static Value boolean(bool x) {
    Value v;
    v.type = Type::Bool;
    v.b = x;
    return v;
  }
  static Value integer(std::int64_t x) {
    Value v;
    v.type = Type::Int;
    v.i = x;
    return v;
  }
  static Value number(double x) {
    Value v;
    v.type = Type::Float;
    v.f = x;
    return v;
  }
  static Value string(std::string x) {
    Value v;
    v.type = Type::String;
    v.s = std::move(x);
    return v;
  }
  static Value make_list(List items = {});
  static Value make_tuple(List items);
  static Value make_dict();
  static Value make_namespace();
  static Value function(std::string name, std::function<Value(struct Args&)> call);

  bool is_undefined() const { return type == Type::Undefined; }
  bool is_none() const { return type == Type::None; }
  bool is_string() const { return type == Type::String; }
  bool is_int() const { return type == Type::Int || type == Type::Bool; }  // Python: bool is int
  bool is_number() const { return is_int() || type == Type::Float; }
  bool is_list() const { return type == Type::List || type == Type::Tuple; }
  bool is_dict() const { return type == Type::Dict; }
  bool is_callable() const { return type == Type::Function || type == Type::Loop; }
  std::int64_t as_int() const { return type == Type::Bool ? (b ? 1 : 0) : i; }
  double as_float() const { return type == Type::Float ? f : static_cast<double>(as_int()); }

  bool truthy() const;
  // Python's type name as jinja2's errors write it ("dict object", "None").
  std::string type_name() const;
};

struct Dict {
  std::vector<std::pair<Value, Value>> items;
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  void set(Value key, Value value);
};

struct Args {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;

  // The argument at POSITION or named NAME, else nullptr.
  const Value* get(std::size_t position, std::string_view name) const;
  const Value* get_keyword(std::string_view name) const;
};

struct Function {
  std::string name;
  std::function<Value(Args&)> call;
};

struct LoopState {
  std::shared_ptr<List> items;
  std::size_t index0 = 0;
  std::size_t depth0 = 0;
  // Calls the loop's body again on a new iterable (a recursive loop); empty otherwise.
  std::function<Value(const Value&, std::size_t depth0)> recurse;
  // loop.changed(...): the arguments of its last call.
  std::shared_ptr<List> last_changed;
  Value attribute(std::string_view name) const;
};

// Python's str(value) (print form) and repr(value).
std::string to_str(const Value& v);
void append_str(std::string& out, const Value& v);
std::string repr(const Value& v);
void append_repr(std::string& out, const Value& v);
// Python's repr of a float ("1.0", "1e+16", "0.1", "inf").
std::string float_repr(double x);
std::string string_repr(std::string_view s);

// Python's ==, and the < of sorting and comparison (RenderError on unordered types).
bool equals(const Value& a, const Value& b);
bool less(const Value& a, const Value& b);

Value from_json(const nlohmann::ordered_json& j);
// json.dumps(value, ensure_ascii=False, indent, separators, sort_keys).
struct DumpOptions {
  bool indent = false;      // json.dumps' indent given: one item a line
  std::string indent_text;  // the indent of one level
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
};
void dump_json(std::string& out, const Value& v, const DumpOptions& options, int level = 0);

// The items a for loop or a filter sees: a list's items, a dict's keys, a string's characters.
List iterate(const Value& v);
std::int64_t length(const Value& v);

// UTF-8 helpers: a string as code points and back.
std::u32string utf8_decode(std::string_view s);
std::string utf8_encode(std::u32string_view s);
void utf8_append(std::string& out, char32_t c);

}  // namespace loom::jinja
