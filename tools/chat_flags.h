// The tools' chat flags, llama.cpp's names: --messages FILE (a conversation to render with the
// folder's chat template), --chat-template FILE and --chat-template-kwargs JSON.
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

// The messages of --messages FILE, checked: a list of {"role", "content"} objects.
inline nlohmann::ordered_json read_messages(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("--messages: cannot open " + path + ": " + std::strerror(errno));
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
  check_messages(j, path);
  return j;
}

// The template the flags choose: --chat-template FILE, else the folder DIR's own.
inline ChatTemplate load_chat_template(const ChatFlags& f, const std::string& dir) {
  if (!f.chat_template.empty()) return ChatTemplate::from_file(f.chat_template, dir);
  return ChatTemplate::load(dir);
}

}  // namespace loom::tools
