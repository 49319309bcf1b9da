#include "server/response.h"

#include <utility>

namespace loom::server {

namespace {

using json = nlohmann::json;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// A token's bytes as OpenAI lists them (its text may be part of a character).
json byte_list(std::string_view s) {
  json out = json::array();
  for (unsigned char c : s) out.push_back(c);
  return out;
}

}  // namespace

const char* finish_reason(StopReason r) {
  switch (r) {
    case StopReason::Eos:
    case StopReason::StopString:
      return "stop";
    default:
      return "length";
  }
}

json usage(const std::vector<TaskResult>& results) {
  long long prompt = 0, completion = 0, cached = 0;
  for (const TaskResult& t : results) {
    prompt += t.prompt_tokens;
    cached += t.cached_tokens;
    for (const GenerateResult& g : t.choices) completion += static_cast<long long>(g.ids.size());
  }
  return {{"prompt_tokens", prompt},
          {"completion_tokens", completion},
          {"total_tokens", prompt + completion},
          {"prompt_tokens_details", {{"cached_tokens", cached}}}};
}

Replies::Replies(const Tokenizer& tok, const Request& request, std::vector<std::string> echo,
                 std::string id, long long created, const std::string& model)
    : tok_(tok),
      r_(request),
      echo_(std::move(echo)),
      id_(std::move(id)),
      created_(created),
      model_(model) {
  const bool chat = r_.endpoint == Endpoint::Chat;
  // Keys in OpenAI's order; the choices close each event.
  head_ = "data: {\"id\":" + dump(id_) + ",\"object\":\"" +
          (chat ? "chat.completion.chunk" : "text_completion") +
          "\",\"created\":" + std::to_string(created_) + ",\"model\":" + dump(model_) +
          ",\"choices\":";
}

std::string Replies::event(const json& choices) const {
  return head_ + dump(choices) + "}\n\n";
}

json Replies::choice(int index) const {
  return {{"index", index}, {"finish_reason", nullptr}, {"logprobs", nullptr}};
}

json Replies::chat_logprob(int id, float logprob, const std::vector<TokenLogprob>& top) const {
  json alts = json::array();
  for (const TokenLogprob& t : top) {
    alts.push_back({{"token", tok_.token_bytes(t.id)},
                    {"logprob", t.logprob},
                    {"bytes", byte_list(tok_.token_bytes(t.id))}});
  }
  return {{"token", tok_.token_bytes(id)},
          {"logprob", logprob},
          {"bytes", byte_list(tok_.token_bytes(id))},
          {"top_logprobs", alts}};
}

json Replies::completion_logprobs(const std::vector<int>& ids,
                                  const std::vector<StepLogprobs>& steps, size_t offset) const {
  json tokens = json::array(), lps = json::array(), tops = json::array(), offsets = json::array();
  for (size_t i = 0; i < ids.size() && i < steps.size(); ++i) {
    const std::string t(tok_.token_bytes(ids[i]));
    tokens.push_back(t);
    lps.push_back(steps[i].logprob);
    json top = json::object();
    for (const TokenLogprob& a : steps[i].top) top[std::string(tok_.token_bytes(a.id))] = a.logprob;
    tops.push_back(top);
    offsets.push_back(offset);
    offset += t.size();
  }
  return {{"tokens", tokens},
          {"token_logprobs", lps},
          {"top_logprobs", tops},
          {"text_offset", offsets}};
}

std::string Replies::first_event(int index) const {
  json c = choice(index);
  if (r_.endpoint == Endpoint::Chat) {
    c["delta"] = {{"role", "assistant"}, {"content", ""}};
  } else {
    if (!r_.echo) return "";
    c["text"] = echo_[index / r_.n];
  }
  return event(json::array({c}));
}

std::string Replies::token_event(int index, const TokenEvent& e) const {
  json c = choice(index);
  const bool lp = r_.logprobs >= 0 && e.logprobs && e.id >= 0;
  if (r_.endpoint == Endpoint::Chat) {
    c["delta"] = {{"content", std::string(e.text)}};
    if (lp) {
      c["logprobs"] = {
          {"content", json::array({chat_logprob(e.id, e.logprobs->logprob, e.logprobs->top)})}};
    }
  } else {
    c["text"] = std::string(e.text);
    if (lp) c["logprobs"] = completion_logprobs({e.id}, {*e.logprobs}, 0);
  }
  return event(json::array({c}));
}

std::string Replies::last_event(int index, StopReason stop) const {
  json c = choice(index);
  c["finish_reason"] = finish_reason(stop);
  if (r_.endpoint == Endpoint::Chat) {
    c["delta"] = json::object();
  } else {
    c["text"] = "";
  }
  return event(json::array({c}));
}

std::string Replies::usage_event(const std::vector<TaskResult>& results) const {
  // The choices close the head: usage goes in before them.
  return head_ + "[],\"usage\":" + dump(usage(results)) + "}\n\n";
}

json Replies::response(const std::vector<TaskResult>& results) const {
  const bool chat = r_.endpoint == Endpoint::Chat;
  json j = {{"id", id_},
            {"object", chat ? "chat.completion" : "text_completion"},
            {"created", created_},
            {"model", model_}};
  json choices = json::array();
  for (size_t p = 0; p < results.size(); ++p) {
    for (size_t i = 0; i < results[p].choices.size(); ++i) {
      const GenerateResult& g = results[p].choices[i];
      json c = choice(static_cast<int>(p) * r_.n + static_cast<int>(i));
      c["finish_reason"] = finish_reason(g.stop);
      if (chat) {
        c["message"] = {{"role", "assistant"}, {"content", g.text}};
        if (r_.logprobs >= 0) {
          json content = json::array();
          for (size_t k = 0; k < g.ids.size() && k < g.logprobs.size(); ++k) {
            content.push_back(chat_logprob(g.ids[k], g.logprobs[k].logprob, g.logprobs[k].top));
          }
          c["logprobs"] = {{"content", content}};
        }
      } else {
        const std::string prefix = r_.echo ? echo_[p] : "";
        c["text"] = prefix + g.text;
        if (r_.logprobs >= 0) c["logprobs"] = completion_logprobs(g.ids, g.logprobs, prefix.size());
      }
      choices.push_back(c);
    }
  }
  j["choices"] = choices;
  j["usage"] = usage(results);
  return j;
}

}  // namespace loom::server
