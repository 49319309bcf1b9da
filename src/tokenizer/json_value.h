// Reading tokenizer.json: a parsed document (simdjson, which replaces nlohmann for this file: a
// 10 MB tokenizer.json parses in milliseconds) and a view of one value that knows its key path
// ("model.merges[3]"), so every error names the file and the key.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loom::detail {

class JsonValue;

// A short JSON rendering of E for error messages (cut at 80 characters).
std::string json_text(simdjson::dom::element e);

// A parsed JSON file. Values point into it: keep it alive while they are used.
class JsonDocument {
 public:
  // Throws loom::Error naming FILE and, for malformed JSON, the line and column.
  static std::unique_ptr<JsonDocument> load(const std::filesystem::path& file);
  // TEXT parsed as if read from a file called NAME (what errors name).
  static std::unique_ptr<JsonDocument> parse(std::string_view text,
                                             const std::filesystem::path& name);
  JsonValue root() const;
  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path file_;
  simdjson::padded_string text_;
  simdjson::dom::parser parser_;
  simdjson::dom::element root_;
};

class JsonValue {
 public:
  JsonValue(simdjson::dom::element e, const std::filesystem::path* file, std::string path)
      : e_(e), file_(file), path_(std::move(path)) {}

  bool is_null() const { return e_.is_null(); }
  bool is_string() const { return e_.is_string(); }
  bool is_object() const { return e_.is_object(); }
  bool is_array() const { return e_.is_array(); }

  // The member KEY of this object; throws "missing key" naming the path when it is absent.
  JsonValue at(std::string_view key) const;
  // The member KEY, or nothing when absent or null.
  std::optional<JsonValue> get(std::string_view key) const;
  std::string_view str() const;
  bool boolean() const;
  int64_t integer() const;
  double number() const;
  std::vector<JsonValue> items() const;  // an array's elements
  // An optional member with a default: absent or null gives DEF.
  bool get_bool(std::string_view key, bool def) const;
  std::optional<std::string_view> get_str(std::string_view key) const;

  const std::string& path() const { return path_; }
  const std::filesystem::path& file() const { return *file_; }
  simdjson::dom::element raw() const { return e_; }
  // "FILE: key 'PATH' WHAT": for errors about this value.
  [[noreturn]] void fail(const std::string& what) const;
  // A short JSON rendering of this value for error messages.
  std::string dump() const;

 private:
  std::string child_path(std::string_view key) const;
  simdjson::dom::element e_;
  const std::filesystem::path* file_;
  std::string path_;
};

}  // namespace loom::detail
