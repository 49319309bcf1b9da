#include "tokenizer/json_value.h"

#include <nlohmann/json.hpp>
#include <sstream>

#include "loom/error.h"

namespace loom::detail {
namespace fs = std::filesystem;

namespace {

// simdjson reports what is wrong but not where; nlohmann, run only on a file that failed, says
// where (byte offset), which becomes a line and column.
std::string locate_error(const simdjson::padded_string& text) {
  try {
    const nlohmann::json j = nlohmann::json::parse(std::string_view(text.data(), text.size()));
    (void)j;
  } catch (const nlohmann::json::parse_error& e) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i + 1 < e.byte && i < text.size(); ++i) {
      if (text.data()[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..."
    if (auto p = what.find(": "); p != std::string::npos) what = what.substr(p + 2);
    return "line " + std::to_string(line) + ", column " + std::to_string(col) + " (byte " +
           std::to_string(e.byte) + "): " + what;
  } catch (const std::exception&) {
  }
  return "";
}

}  // namespace

namespace {
// Parses TEXT into ROOT; FILE is what errors name.
void parse_into(simdjson::dom::parser& parser, const simdjson::padded_string& text,
                simdjson::dom::element& root, const fs::path& file) {
  if (auto err = parser.parse(text).get(root); err) {
    std::string where = locate_error(text);
    throw Error(file.string() + ": malformed JSON at " +
                (where.empty() ? std::string(simdjson::error_message(err)) : where));
  }
}
}  // namespace

std::unique_ptr<JsonDocument> JsonDocument::load(const fs::path& file) {
  auto doc = std::make_unique<JsonDocument>();
  doc->file_ = file;
  if (simdjson::padded_string::load(file.string()).get(doc->text_)) {
    throw Error(file.string() + ": cannot read the file");
  }
  parse_into(doc->parser_, doc->text_, doc->root_, file);
  return doc;
}

std::unique_ptr<JsonDocument> JsonDocument::parse(std::string_view text, const fs::path& name) {
  auto doc = std::make_unique<JsonDocument>();
  doc->file_ = name;
  doc->text_ = simdjson::padded_string(text);
  parse_into(doc->parser_, doc->text_, doc->root_, name);
  return doc;
}

JsonValue JsonDocument::root() const {
  return JsonValue(root_, &file_, "");
}

std::string JsonValue::child_path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

void JsonValue::fail(const std::string& what) const {
  throw Error(file_->string() + ": " + (path_.empty() ? "the document" : "key '" + path_ + "'") +
              " " + what);
}

std::string json_text(simdjson::dom::element e) {
  std::ostringstream os;
  os << e;
  std::string s = os.str();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

std::string JsonValue::dump() const {
  return json_text(e_);
}

JsonValue JsonValue::at(std::string_view key) const {
  if (!e_.is_object()) fail("must be an object, got " + dump());
  simdjson::dom::element c;
  if (e_.get_object().value_unsafe().at_key(key).get(c)) {
    throw Error(file_->string() + ": missing key '" + child_path(key) + "'");
  }
  return JsonValue(c, file_, child_path(key));
}

std::optional<JsonValue> JsonValue::get(std::string_view key) const {
  if (!e_.is_object()) fail("must be an object, got " + dump());
  simdjson::dom::element c;
  if (e_.get_object().value_unsafe().at_key(key).get(c) || c.is_null()) return std::nullopt;
  return JsonValue(c, file_, child_path(key));
}

std::string_view JsonValue::str() const {
  std::string_view s;
  if (e_.get_string().get(s)) fail("must be a string, got " + dump());
  return s;
}

bool JsonValue::boolean() const {
  bool b = false;
  if (e_.get_bool().get(b)) fail("must be true or false, got " + dump());
  return b;
}

int64_t JsonValue::integer() const {
  int64_t v = 0;
  if (e_.get_int64().get(v)) fail("must be an integer, got " + dump());
  return v;
}

double JsonValue::number() const {
  double v = 0;
  if (e_.is_int64()) return static_cast<double>(e_.get_int64().value_unsafe());
  if (e_.get_double().get(v)) fail("must be a number, got " + dump());
  return v;
}

std::vector<JsonValue> JsonValue::items() const {
  simdjson::dom::array a;
  if (e_.get_array().get(a)) fail("must be an array, got " + dump());
  std::vector<JsonValue> out;
  out.reserve(a.size());
  size_t i = 0;
  for (simdjson::dom::element c : a) {
    out.emplace_back(c, file_, path_ + "[" + std::to_string(i++) + "]");
  }
  return out;
}

bool JsonValue::get_bool(std::string_view key, bool def) const {
  auto v = get(key);
  return v ? v->boolean() : def;
}

std::optional<std::string_view> JsonValue::get_str(std::string_view key) const {
  auto v = get(key);
  if (!v) return std::nullopt;
  return v->str();
}

}  // namespace loom::detail
