// Chat: one conversation whose KV cache is kept across turns. Each turn renders the whole
// conversation, as a stateless apply_chat_template would, and evaluates only what the cache does
// not already hold.
#include <algorithm>

#include "loom/chat.h"
#include "loom/error.h"

namespace loom {

namespace {

nlohmann::ordered_json message(const char* role, std::string_view content) {
  return {{"role", role}, {"content", std::string(content)}};
}

}  // namespace

Chat::Chat(const Model& model, ChatTemplate tmpl, const ChatOptions& options)
    : model_(&model),
      tmpl_(std::move(tmpl)),
      options_(options),
      session_(model, options.session),
      messages_(nlohmann::ordered_json::array()) {
  if (!options_.system.empty()) messages_.push_back(message("system", options_.system));
}

ChatTurn Chat::send(std::string_view user_text, const GenerateOptions& options,
                    const TokenCallback& on_token) {
  messages_.push_back(message("user", user_text));
  std::vector<int> ids;
  try {
    ChatRenderOptions render = options_.render;
    render.add_generation_prompt = true;
    ids = encode_chat_prompt(model_->tokenizer(), tmpl_.render(messages_, render));
    if (ids.empty()) throw Error(tmpl_.origin() + ": the chat template rendered an empty prompt");
    if (static_cast<int>(ids.size()) >= session_.ctx_size()) {
      throw Error("the conversation is " + std::to_string(ids.size()) +
                  " tokens: it does not fit the context of " + std::to_string(session_.ctx_size()) +
                  " tokens with room for a reply (clear it, or give the session a larger context)");
    }
  } catch (...) {
    messages_.erase(messages_.end() - 1);  // the conversation stays as it was
    throw;
  }

  // The longest prefix the cache already holds; at least one token is evaluated, for the logits
  // the reply starts from.
  const size_t common =
      std::mismatch(ids.begin(), ids.end(), cached_.begin(), cached_.end()).first - ids.begin();
  int reuse = static_cast<int>(std::min(common, ids.size() - 1));
  try {
    session_.truncate(reuse);
  } catch (const Error&) {
    // A sliding-window cache no longer holds what position REUSE attends to: start over.
    session_.reset();
    reuse = 0;
  }
  cached_.resize(reuse);

  // The sampler penalizes the whole conversation, as transformers does given the whole prompt.
  GenerateOptions go = options;
  go.history = std::span<const int>(ids).first(reuse);
  const std::span<const int> rest = std::span<const int>(ids).subspan(reuse);
  ChatTurn turn;
  turn.prompt_tokens = static_cast<int>(ids.size());
  turn.reused_tokens = reuse;
  try {
    turn.result = generate(session_, rest, go, on_token);
  } catch (...) {
    // generate() checks its options and the prompt before evaluating anything.
    messages_.erase(messages_.end() - 1);
    cached_.resize(std::min(cached_.size(), static_cast<size_t>(session_.position())));
    throw;
  }

  // The cache now holds the prompt and the generated tokens that were fed back: not the last one
  // sampled (generation stopped before evaluating it), nor an EOS that ended it.
  cached_ = std::move(ids);
  const std::vector<int>& out = turn.result.ids;
  const size_t fed =
      std::min(out.size(), static_cast<size_t>(session_.position()) - cached_.size());
  cached_.insert(cached_.end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(fed));
  messages_.push_back(message("assistant", turn.result.text));
  return turn;
}

void Chat::clear() {
  // The cache is kept: the next turn reuses what it shares with it (the system message).
  messages_ = nlohmann::ordered_json::array();
  if (!options_.system.empty()) messages_.push_back(message("system", options_.system));
}

const nlohmann::ordered_json& Chat::messages() const {
  return messages_;
}
const Session& Chat::session() const {
  return session_;
}

}  // namespace loom
