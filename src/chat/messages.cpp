// A conversation's shape (OpenAI's list of role/content messages) and its prompt's token ids.
#include "loom/chat.h"
#include "loom/error.h"

namespace loom {

namespace {

std::string shown(const nlohmann::ordered_json& v) {
  std::string s = v.dump();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

}  // namespace

void check_messages(const nlohmann::ordered_json& messages, std::string_view origin) {
  const std::string where(origin);
  if (!messages.is_array()) {
    throw Error(where +
                ": the messages must be a JSON list of {\"role\", \"content\"} objects, got " +
                shown(messages));
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    const nlohmann::ordered_json& m = messages[i];
    const std::string at = where + ": message " + std::to_string(i) + ": ";
    if (!m.is_object()) {
      throw Error(at + "must be an object with \"role\" and \"content\", got " + shown(m));
    }
    const auto role = m.find("role");
    if (role == m.end()) throw Error(at + "has no \"role\"");
    if (!role->is_string()) throw Error(at + "\"role\" must be a string, got " + shown(*role));
    const auto content = m.find("content");
    if (content == m.end()) {
      // An assistant message that only calls tools may leave its content out, as OpenAI's API
      // allows; any other message needs one.
      if (m.contains("tool_calls")) continue;
      throw Error(at + "has no \"content\"");
    }
    if (content->is_string() || content->is_null()) continue;
    if (!content->is_array()) {
      throw Error(at + "\"content\" must be a string, null or a list of content parts, got " +
                  shown(*content));
    }
    for (size_t p = 0; p < content->size(); ++p) {
      const nlohmann::ordered_json& part = (*content)[p];
      const auto type = part.is_object() ? part.find("type") : part.end();
      if (type == part.end() || !type->is_string()) {
        throw Error(at + "content part " + std::to_string(p) +
                    " must be an object with a string \"type\", got " + shown(part));
      }
    }
  }
}

std::vector<int> encode_chat_prompt(const Tokenizer& tokenizer, std::string_view prompt) {
  // apply_chat_template(tokenize=True) calls the tokenizer with add_special_tokens=False: the
  // template wrote its own BOS, and the special tokens it wrote ("<|eot_id|>") are parsed.
  return tokenizer.encode(prompt, /*add_special=*/false, /*parse_special=*/true);
}

}  // namespace loom
