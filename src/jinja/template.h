// A Jinja2 template engine for chat templates: parses a template once, renders it with JSON
// values as variables, as jinja2's ImmutableSandboxedEnvironment(trim_blocks=True,
// lstrip_blocks=True) with the loopcontrols extension renders it in transformers'
// apply_chat_template (its raise_exception and strftime_now globals, its tojson filter).
#pragma once

#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace loom::jinja {

struct Node;  // the parsed template (ast.h)

struct TemplateOptions {
  bool trim_blocks = true;    // a newline after a block tag is removed
  bool lstrip_blocks = true;  // spaces and tabs before a block tag on its line are removed
};

struct RenderOptions {
  std::optional<std::time_t> now;  // the time strftime_now() formats; empty: the clock's
};

class Template {
 public:
  // Parses SOURCE; ORIGIN names it in errors. Throws loom::Error "ORIGIN:LINE:COLUMN: what" for
  // a syntax error.
  Template(std::string_view source, std::string origin, const TemplateOptions& options = {});
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;
  ~Template();

  // Renders with CONTEXT's keys (a JSON object) as variables. Throws loom::Error naming ORIGIN,
  // line and column for an error while rendering (an unknown filter, a call on the wrong type),
  // and with the template's own message when it calls raise_exception(message).
  // An ordered_json keeps the objects' key order, as Python's dicts do (tojson writes the keys in
  // that order); a plain nlohmann::json converts to it with its keys sorted.
  std::string render(const nlohmann::ordered_json& context,
                     const RenderOptions& options = {}) const;

 private:
  std::string origin_;
  std::unique_ptr<Node> root_;
};

}  // namespace loom::jinja
