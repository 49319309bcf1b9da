// Conversations: a folder's Jinja chat template rendered as transformers' apply_chat_template
// renders it, and a chat that keeps one session's KV cache across turns.
#pragma once

#include <ctime>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loom/generate.h"
#include "loom/model.h"
#include "loom/session.h"

#pragma GCC visibility push(default)  // the public API: what libloom.so exports
namespace loom {

namespace jinja {
class Template;
}

// JSON values here are nlohmann::ordered_json: objects keep their key order, as Python's dicts
// do, so a template's tojson writes tools and tool-call arguments in the order transformers
// writes them. A nlohmann::json converts implicitly, with its keys sorted.
struct ChatRenderOptions {
  bool add_generation_prompt = true;
  // OpenAI-shaped tool definitions (a JSON list); null: the template sees `tools` as none (defined,
  // as transformers passes tools=None; `documents` is always none).
  nlohmann::ordered_json tools;
  // More variables for the template, as transformers' **kwargs and llama.cpp's
  // --chat-template-kwargs ({"enable_thinking": false}); a JSON object, or null.
  nlohmann::ordered_json extra;
  // The time strftime_now() formats; empty: now.
  std::optional<std::time_t> now;
};

class ChatTemplate {
 public:
  // The template of the tokenizer folder DIR, where transformers 5 finds it:
  // DIR/chat_template.jinja (named "default") and DIR/additional_chat_templates/NAME.jinja when
  // there are such files, else tokenizer_config.json's chat_template (a string, or a list of
  // {"name", "template"}), else chat_template.json's "chat_template". NAME picks one ("default" by
  // default; an unknown name is an error listing the names). The special tokens the template sees
  // are transformers' special_tokens_map: the named ones that are set (bos_token, eos_token,
  // unk_token, sep_token, pad_token, cls_token, mask_token) of tokenizer_config.json /
  // special_tokens_map.json, not the extra special tokens. Throws loom::Error when DIR has no
  // template (saying --chat-template gives one), or naming the file, line and column of a syntax
  // error.
  static ChatTemplate load(const std::filesystem::path& dir, std::string_view name = "default");
  // The names of DIR's templates, in the order load() finds them (["default"] for one template;
  // empty when DIR has none). As transformers, a caller with tools picks "tool_use" where it
  // is among them.
  static std::vector<std::string> names(const std::filesystem::path& dir);
  // The template in FILE (--chat-template), with DIR's special tokens.
  static ChatTemplate from_file(const std::filesystem::path& file,
                                const std::filesystem::path& dir);
  // The special tokens DIR (a folder or a GGUF file) gives a template, {"bos_token": "<s>", ...},
  // as load() and from_file() pass them to from_source().
  static nlohmann::ordered_json special_tokens(const std::filesystem::path& dir);
  // SOURCE itself; ORIGIN names it in errors. SPECIAL_TOKENS: {"bos_token": "<s>", ...}.
  static ChatTemplate from_source(
      std::string_view source, std::string origin,
      nlohmann::ordered_json special_tokens = nlohmann::ordered_json::object());

  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;
  ~ChatTemplate();

  // The prompt text of MESSAGES: a JSON list of objects with "role" and "content" (OpenAI's
  // shape; other keys, such as tool_calls, pass through to the template). Throws loom::Error for
  // messages of the wrong shape, and with the template's message when it calls raise_exception.
  std::string render(const nlohmann::ordered_json& messages,
                     const ChatRenderOptions& options = {}) const;
  // Where the template came from ("DIR/tokenizer_config.json", a file).
  const std::string& origin() const;
  const std::string& source() const;

 private:
  ChatTemplate() = default;
  std::string origin_;
  std::string source_;
  nlohmann::ordered_json special_tokens_;
  std::unique_ptr<jinja::Template> tmpl_;
};

// Checks that MESSAGES is a list of objects with a string "role" and a "content" that is a string
// (or null, or a list of content parts, objects with a string "type"; an assistant message with
// "tool_calls" may leave it out); throws loom::Error naming ORIGIN and the index at fault, from 0
// ("messages.json: message 2: \"role\" must be a string, got 5").
void check_messages(const nlohmann::ordered_json& messages, std::string_view origin);

// Token ids of a rendered prompt, as apply_chat_template(tokenize=True) gives them: special
// tokens parsed, nothing added (the template writes its own BOS).
std::vector<int> encode_chat_prompt(const Tokenizer& tokenizer, std::string_view prompt);

struct ChatOptions {
  std::string system;  // a system message first, when not empty
  ChatRenderOptions render;
  SessionOptions session;
};

struct ChatTurn {
  GenerateResult result;  // the reply (result.text), stop reason and timings
  int prompt_tokens = 0;  // the whole rendered conversation, in tokens
  int reused_tokens = 0;  // of those, already in the KV cache and not evaluated again
};

// One conversation with a model: the messages so far and a session whose KV cache holds them.
// Each turn renders the whole conversation, keeps the longest prefix of tokens the cache already
// holds and evaluates only the rest (templates that rewrite earlier turns cost only from the
// first changed token).
class Chat {
 public:
  Chat(const Model& model, ChatTemplate tmpl, const ChatOptions& options = {});

  // Adds a user message, generates the assistant's reply (streamed through ON_TOKEN; stops at the
  // model's end-of-turn tokens) and adds it to the conversation. A reply stopped by the callback
  // (Ctrl-C) is kept as far as it went.
  ChatTurn send(std::string_view user_text, const GenerateOptions& options,
                const TokenCallback& on_token = {});
  // Forgets the conversation (the system message stays). The KV cache is kept: the next turn
  // reuses the tokens it shares with it (the system message's).
  void clear();
  const nlohmann::ordered_json& messages() const;
  const Session& session() const;

 private:
  const Model* model_;
  ChatTemplate tmpl_;
  ChatOptions options_;
  Session session_;
  nlohmann::ordered_json messages_;
  std::vector<int> cached_;  // the tokens the session's KV cache holds, in order
};

}  // namespace loom
#pragma GCC visibility pop
