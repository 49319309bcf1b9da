// The filters, tests and methods of str, list and dict that templates call, by name.
#pragma once

#include <string_view>

#include "jinja/ast.h"
#include "jinja/value.h"

namespace loom::jinja {

FilterFn find_filter(std::string_view name);
TestFn find_test(std::string_view name);

// Whether Python's type of OBJ has a method NAME (so that obj.NAME is the method, not an item).
bool has_method(const Value& obj, std::string_view name);
// The mutating methods ImmutableSandboxedEnvironment refuses (list.append, dict.update, ...).
bool is_unsafe_method(const Value& obj, std::string_view name);
// Calls OBJ.NAME(ARGS).
Value call_method(Evaluator& ev, const Value& obj, std::string_view name, Args& args);

// Python's str.format and the % operator on strings.
std::string py_format(Evaluator& ev, std::string_view format, const Args& args);
std::string py_percent(std::string_view format, const Value& args);

// The argument helpers shared by the builtins.
std::int64_t int_arg(const Value* v, std::int64_t fallback, std::string_view what);
std::string str_arg(const Value* v, std::string_view fallback);

}  // namespace loom::jinja
