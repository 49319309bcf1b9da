// OpenAI's response objects for one completion request: the whole reply, or its server-sent
// events (chat.completion.chunk / text_completion), token texts and log-probabilities as
// OpenAI lists them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "loom/generate.h"
#include "loom/tokenizer.h"
#include "server/request.h"
#include "server/scheduler.h"

namespace loom::server {

// "stop" (EOS or a stop string) or "length".
const char* finish_reason(StopReason r);

// usage: prompt, completion and total tokens, prompt_tokens_details.cached_tokens.
nlohmann::json usage(const std::vector<TaskResult>& results);

// The replies to REQUEST, choice index = prompt * n + choice. ECHO: each prompt's text, for
// completions with echo.
class Replies {
 public:
  Replies(const Tokenizer& tok, const Request& request, std::vector<std::string> echo,
          std::string id, long long created, const std::string& model);

  // Events ("data: {...}\n\n"); the fields every chunk repeats are serialized once.
  // The first of a choice: the assistant's role (chat) or the echoed prompt; "" when none.
  std::string first_event(int index) const;
  std::string token_event(int index, const TokenEvent& e) const;
  std::string last_event(int index, StopReason stop) const;
  std::string usage_event(const std::vector<TaskResult>& results) const;

  // The whole reply (chat.completion or text_completion).
  nlohmann::json response(const std::vector<TaskResult>& results) const;

 private:
  nlohmann::json chat_logprob(int id, float logprob, const std::vector<TokenLogprob>& top) const;
  nlohmann::json completion_logprobs(const std::vector<int>& ids,
                                     const std::vector<StepLogprobs>& steps, size_t offset) const;
  nlohmann::json choice(int index) const;
  std::string event(const nlohmann::json& choices) const;

  const Tokenizer& tok_;
  const Request& r_;
  std::vector<std::string> echo_;
  std::string id_;
  long long created_;
  std::string model_;
  std::string head_;  // 'data: {"id":...,"object":...,"created":...,"model":...,"choices":'
};

}  // namespace loom::server
