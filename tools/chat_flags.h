// The tools' chat flags, llama.cpp's names: --messages FILE (a conversation to render with the
// folder's chat template), --chat-template FILE and --chat-template-kwargs JSON; and --tools FILE
// (the definitions a template shows the model, as transformers' tools=).
#pragma once

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "loom/chat.h"
#include "loom/error.h"

namespace loom::tools {

struct ChatFlags {
  std::string messages;       // --messages FILE
  std::string chat_template;  // --chat-template FILE
  std::string kwargs;         // --chat-template-kwargs JSON
  std::string tools;          // --tools FILE
};

inline void add_chat_flags(CLI::App& app, ChatFlags& f, const std::string& group = "Chat") {
  app.add_option("--messages", f.messages,
                 "a conversation to answer: a JSON list of {\"role\", \"content\"} messages "
                 "(OpenAI's shape), rendered with the chat template and its generation prompt")
      ->type_name("FILE")
      ->group(group);
  app.add_option("--chat-template", f.chat_template,
                 "the Jinja chat template in FILE instead of the model folder's "
                 "(tokenizer_config.json's chat_template, or chat_template.jinja)")
      ->type_name("FILE")
      ->group(group);
  app.add_option("--chat-template-kwargs", f.kwargs,
                 "more variables for the template, a JSON object such as "
                 "'{\"enable_thinking\": false}'")
      ->type_name("JSON")
      ->group(group);
  app.add_option("--tools", f.tools,
                 "tool definitions for the template: a JSON list in OpenAI's shape "
                 "([{\"type\": \"function\", \"function\": {...}}]); a folder with a "
                 "\"tool_use\" template then uses it, as transformers does")
      ->type_name("FILE")
      ->group(group);
}

// Both are read as ordered_json: a template's tojson then writes objects' keys (tool-call
// arguments, kwargs) in the order the user gave them, as transformers does.

// --chat-template-kwargs: a JSON object, or null when not given.
inline nlohmann::ordered_json parse_template_kwargs(const std::string& text) {
  if (text.empty()) return nullptr;
  const nlohmann::ordered_json j =
      nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    throw Error("--chat-template-kwargs: '" + text + "' is not valid JSON (want an object such " +
                "as '{\"enable_thinking\": false}')");
  }
  if (!j.is_object()) {
    throw Error("--chat-template-kwargs: '" + text + "' is a JSON " + j.type_name() +
                ", not an object (want e.g. '{\"enable_thinking\": false}')");
  }
  return j;
}

// The JSON in FILE, read for FLAG.
inline nlohmann::ordered_json read_json_flag(const std::string& flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(flag + ": cannot open " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(ss.str());
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 2, column 3: ...".
    std::string what = e.what();
    const size_t at = what.find("] ");
    throw Error(path +
                ": not valid JSON: " + (at == std::string::npos ? what : what.substr(at + 2)));
  }
  return j;
}

// The messages of --messages FILE, checked: a list of {"role", "content"} objects.
inline nlohmann::ordered_json read_messages(const std::string& path) {
  nlohmann::ordered_json j = read_json_flag("--messages", path);
  check_messages(j, path);
  return j;
}

// The tool definitions of --tools FILE: a list of objects (null when not given).
inline nlohmann::ordered_json read_tools(const std::string& path) {
  if (path.empty()) return nullptr;
  nlohmann::ordered_json j = read_json_flag("--tools", path);
  if (!j.is_array()) {
    throw Error(path + ": --tools wants a JSON list of tool definitions, not a JSON " +
                j.type_name());
  }
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_object()) {
      throw Error(path + ": tool " + std::to_string(i) + " must be an object, not a JSON " +
                  j[i].type_name());
    }
  }
  return j;
}

// What the template sees besides the messages: --chat-template-kwargs and --tools.
inline ChatRenderOptions render_options(const ChatFlags& f) {
  ChatRenderOptions render;
  render.extra = parse_template_kwargs(f.kwargs);
  render.tools = read_tools(f.tools);
  return render;
}

// The template the flags choose: --chat-template FILE, else the folder DIR's own: its "tool_use"
// template when --tools is given and it has one (as transformers picks), else its default.
inline ChatTemplate load_chat_template(const ChatFlags& f, const std::string& dir) {
  if (!f.chat_template.empty()) return ChatTemplate::from_file(f.chat_template, dir);
  if (!f.tools.empty()) {
    for (const std::string& name : ChatTemplate::names(dir)) {
      if (name == "tool_use") return ChatTemplate::load(dir, name);
    }
  }
  return ChatTemplate::load(dir);
}

}  // namespace loom::tools
