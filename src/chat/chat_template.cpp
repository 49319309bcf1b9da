// ChatTemplate: where transformers finds a folder's chat template, the variables it renders it
// with (tokenizer.special_tokens_map, then the caller's kwargs) and the rendering itself.
#include <algorithm>

#include "io/files.h"
#include "io/gguf.h"
#include "jinja/template.h"
#include "loom/chat.h"
#include "loom/error.h"
#include "tokenizer/tokenizer_config.h"

namespace loom {
namespace fs = std::filesystem;

namespace {

// transformers 5's special_tokens_map: the named special tokens that are set (not None), as
// strings. It leaves out extra_special_tokens (additional_special_tokens in older files): a
// template sees those only through the kwargs.
bool is_gguf(const fs::path& p) {
  return p.extension() == ".gguf" && fs::is_regular_file(p);
}

nlohmann::ordered_json special_tokens_of(const fs::path& dir) {
  if (is_gguf(dir)) {
    // bos_token and eos_token, as the template reads them: the tokens' texts.
    const io::GgufFile f = io::GgufFile::open(dir);
    nlohmann::ordered_json tokens = nlohmann::ordered_json::object();
    if (!f.has("tokenizer.ggml.tokens")) return tokens;
    const std::vector<std::string> vocab = f.get_string_array("tokenizer.ggml.tokens");
    for (const auto& [key, name] : {std::pair{"tokenizer.ggml.bos_token_id", "bos_token"},
                                    std::pair{"tokenizer.ggml.eos_token_id", "eos_token"}}) {
      const std::optional<uint64_t> id = f.find_uint(key);
      if (id && *id < vocab.size()) tokens[name] = vocab[*id];
    }
    return tokens;
  }
  const detail::TokenizerConfig config = detail::read_tokenizer_config(dir);
  nlohmann::ordered_json tokens = nlohmann::ordered_json::object();
  for (const auto& [key, value] : config.named_tokens) {
    if (value) tokens[key] = *value;
  }
  return tokens;
}

// Named templates, in the order found, and where each came from.
struct Source {
  std::string name;
  std::string text;
  std::string origin;
};

std::string names_of(const std::vector<Source>& sources) {
  std::string s;
  for (const Source& t : sources) s += (s.empty() ? "" : ", ") + ("\"" + t.name + "\"");
  return s;
}

// The template called NAME among SOURCES (FROM names where they came from, for errors).
const Source& pick(const std::vector<Source>& sources, std::string_view name,
                   const std::string& from) {
  for (const Source& t : sources) {
    if (t.name == name) return t;
  }
  if (name == "default") {
    throw Error(from + " has several chat templates and none named \"default\": choose one of " +
                names_of(sources));
  }
  throw Error(from + " has no chat template named \"" + std::string(name) + "\" (it has " +
              names_of(sources) + ")");
}

// tokenizer_config.json's chat_template: a string, or a list of {"name", "template"} objects.
std::vector<Source> config_templates(const nlohmann::json& value, const fs::path& file) {
  const std::string where = file.string() + ": key 'chat_template'";
  if (value.is_string()) {
    return {{"default", value.get<std::string>(), file.string() + " (chat_template)"}};
  }
  if (!value.is_array()) {
    throw Error(where + " must be a string or a list of {\"name\", \"template\"} objects, got " +
                value.dump());
  }
  std::vector<Source> out;
  for (size_t i = 0; i < value.size(); ++i) {
    const nlohmann::json& e = value[i];
    const auto name = e.is_object() ? e.find("name") : e.end();
    const auto text = e.is_object() ? e.find("template") : e.end();
    if (!e.is_object() || name == e.end() || !name->is_string() || text == e.end() ||
        !text->is_string()) {
      throw Error(where + "[" + std::to_string(i) +
                  "] must be an object with string \"name\" and \"template\", got " +
                  e.dump().substr(0, 200));
    }
    const std::string n = name->get<std::string>();
    out.push_back({n, text->get<std::string>(), file.string() + " (chat_template \"" + n + "\")"});
  }
  if (out.empty()) throw Error(where + " is an empty list");
  return out;
}

nlohmann::json read_json(const fs::path& file) {
  const std::string text = io::read_file(file);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(file.string() + ": invalid JSON: " + e.what());
  }
}

// The folder's templates where transformers 5's AutoTokenizer finds them: chat_template.jinja
// (as "default") and additional_chat_templates/NAME.jinja take priority over
// tokenizer_config.json's chat_template. chat_template.json's "chat_template" (where processors
// keep theirs) is the last resort. Empty when the folder has none.
std::vector<Source> folder_templates(const fs::path& dir, std::string& from) {
  std::vector<Source> files;
  if (is_gguf(dir)) {
    // tokenizer.chat_template, and llama.cpp's named ones: tokenizer.chat_template.NAME.
    const io::GgufFile f = io::GgufFile::open(dir);
    from = dir.string();
    const std::string key = "tokenizer.chat_template";
    if (auto t = f.find_string(key)) files.push_back({"default", *t, from + " (" + key + ")"});
    for (const std::string& k : f.keys()) {
      if (k.rfind(key + ".", 0) == 0 && f.type_of(k) == io::GgufType::String) {
        files.push_back({k.substr(key.size() + 1), f.get_string(k), from + " (" + k + ")"});
      }
    }
    return files;
  }
  const fs::path jinja_file = dir / "chat_template.jinja";
  if (fs::is_regular_file(jinja_file)) {
    files.push_back({"default", io::read_file(jinja_file), jinja_file.string()});
  }
  const fs::path extra_dir = dir / "additional_chat_templates";
  if (fs::is_directory(extra_dir)) {
    std::vector<fs::path> extra;
    for (const auto& e : fs::directory_iterator(extra_dir)) {
      if (e.is_regular_file() && e.path().extension() == ".jinja") extra.push_back(e.path());
    }
    std::sort(extra.begin(), extra.end());
    for (const fs::path& p : extra) {
      files.push_back({p.stem().string(), io::read_file(p), p.string()});
    }
  }
  if (!files.empty()) {
    from = dir.string();
    return files;
  }

  const fs::path config_file = dir / "tokenizer_config.json";
  if (fs::is_regular_file(config_file)) {
    const nlohmann::json config = read_json(config_file);
    if (config.is_object()) {
      const auto it = config.find("chat_template");
      if (it != config.end() && !it->is_null()) {
        from = config_file.string();
        return config_templates(*it, config_file);
      }
    }
  }

  const fs::path json_file = dir / "chat_template.json";
  if (fs::is_regular_file(json_file)) {
    const nlohmann::json j = read_json(json_file);
    const auto it = j.is_object() ? j.find("chat_template") : j.end();
    if (it == j.end() || !it->is_string()) {
      throw Error(json_file.string() + ": key 'chat_template' must be a string");
    }
    from = json_file.string();
    return {{"default", it->get<std::string>(), json_file.string()}};
  }
  return {};
}

}  // namespace

std::vector<std::string> ChatTemplate::names(const fs::path& dir) {
  std::string from;
  std::vector<std::string> out;
  for (const Source& t : folder_templates(dir, from)) out.push_back(t.name);
  return out;
}

ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;
ChatTemplate::~ChatTemplate() = default;

ChatTemplate ChatTemplate::load(const fs::path& dir, std::string_view name) {
  std::string from;
  const std::vector<Source> sources = folder_templates(dir, from);
  if (sources.empty()) {
    throw Error(dir.string() +
                (is_gguf(dir) ? " has no chat template (tokenizer.chat_template)"
                              : " has no chat template (tokenizer_config.json chat_template, "
                                "chat_template.jinja)") +
                "; give one with --chat-template FILE");
  }
  const Source& t = pick(sources, name, from);
  return from_source(t.text, t.origin, special_tokens_of(dir));
}

nlohmann::ordered_json ChatTemplate::special_tokens(const fs::path& dir) {
  return special_tokens_of(dir);
}

ChatTemplate ChatTemplate::from_file(const fs::path& file, const fs::path& dir) {
  return from_source(io::read_file(file), file.string(), special_tokens_of(dir));
}

ChatTemplate ChatTemplate::from_source(std::string_view source, std::string origin,
                                       nlohmann::ordered_json special_tokens) {
  if (!special_tokens.is_object()) {
    throw Error(origin + ": the special tokens must be a JSON object, got " +
                special_tokens.dump());
  }
  ChatTemplate t;
  t.tmpl_ = std::make_unique<jinja::Template>(source, origin);
  t.origin_ = std::move(origin);
  t.source_ = std::string(source);
  t.special_tokens_ = std::move(special_tokens);
  return t;
}

std::string ChatTemplate::render(const nlohmann::ordered_json& messages,
                                 const ChatRenderOptions& options) const {
  check_messages(messages, "messages");
  if (!options.tools.is_null() && !options.tools.is_array()) {
    throw Error("tools must be a JSON list of tool definitions, got " +
                options.tools.dump().substr(0, 200));
  }
  if (!options.extra.is_null() && !options.extra.is_object()) {
    throw Error("the chat template's extra variables must be a JSON object, got " +
                options.extra.dump().substr(0, 200));
  }
  // As transformers' apply_chat_template: the special tokens, overridden by the kwargs, then
  // messages, tools and documents (None when not given: defined, and `none`) and
  // add_generation_prompt, which the kwargs cannot replace (Python rejects a keyword given twice).
  nlohmann::ordered_json context = special_tokens_;
  if (options.extra.is_object()) {
    for (const auto& [key, value] : options.extra.items()) {
      if (key == "messages" || key == "tools" || key == "documents" ||
          key == "add_generation_prompt") {
        throw Error("the chat template's extra variables cannot set \"" + key +
                    "\": the conversation gives it");
      }
      context[key] = value;
    }
  }
  context["messages"] = messages;
  context["tools"] = options.tools;
  context["documents"] = nullptr;
  context["add_generation_prompt"] = options.add_generation_prompt;
  return tmpl_->render(context, jinja::RenderOptions{.now = options.now});
}

const std::string& ChatTemplate::origin() const {
  return origin_;
}
const std::string& ChatTemplate::source() const {
  return source_;
}

}  // namespace loom
