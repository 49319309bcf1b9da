#include "jinja/template.h"

#include "jinja/ast.h"
#include "jinja/evaluator.h"
#include "jinja/lexer.h"
#include "loom/error.h"

namespace loom::jinja {

Template::Template(std::string_view source, std::string origin, const TemplateOptions& options)
    : origin_(std::move(origin)) {
  root_ = parse(tokenize(source, origin_, options), origin_);
}

Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;
Template::~Template() = default;

std::string Template::render(const nlohmann::ordered_json& context,
                             const RenderOptions& options) const {
  Evaluator ev(origin_, options);
  std::string out;
  try {
    ev.render(*root_, context, out);
  } catch (const RenderError& e) {
    int line = 0, column = 0;
    if (ev.at_expr_) {
      line = ev.at_expr_->line;
      column = ev.at_expr_->column;
    } else if (ev.at_node_) {
      line = ev.at_node_->line;
      column = ev.at_node_->column;
    }
    throw Error(origin_ + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
                e.message);
  }
  return out;
}

}  // namespace loom::jinja
