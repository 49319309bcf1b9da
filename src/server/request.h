// OpenAI's request bodies for /v1/chat/completions and /v1/completions, read into generation
// options, and OpenAI's error objects. No networking here: the server hands a body in and gets
// a Request, or an ApiError to send back as {"error": {...}} with its HTTP status.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "loom/generate.h"
#include "loom/sampler.h"

namespace loom::server {

// An error for the client: HTTP STATUS and OpenAI's error object. PARAM names the request field
// at fault (empty: none, sent as null); CODE is OpenAI's machine-readable code (empty: null).
struct ApiError : std::runtime_error {
  int status;
  std::string type;  // invalid_request_error, authentication_error, server_error, ...
  std::string param;
  std::string code;
  ApiError(int status, std::string message, std::string type, std::string param = {},
           std::string code = {});
};

// {"error": {"message", "type", "param", "code"}}.
nlohmann::json error_body(const ApiError& e);

enum class Endpoint { Chat, Completion };

// A completion prompt: text (BOS added as the tokenizer says) or token ids (as given).
using Prompt = std::variant<std::string, std::vector<int>>;

struct Request {
  Endpoint endpoint = Endpoint::Chat;
  std::string model;                // as the client named it ("" when left out)
  nlohmann::ordered_json messages;  // Chat: the conversation, for the chat template
  std::vector<Prompt> prompts;      // Completion: one or more prompts, n choices each
  int n = 1;                        // choices per prompt, sharing its cache
  bool stream = false;              // server-sent events
  bool include_usage = false;       // stream_options.include_usage: a last chunk with usage
  bool echo = false;                // Completion: the prompt's text before the completion
  int logprobs = -1;                // -1: none; else alternatives per token (0: the token's own)
  std::optional<int> max_tokens;    // none: until EOS or the context's end
  std::optional<uint64_t> seed;     // none: the server draws one
  GenerateOptions options;          // sampling (over the model's defaults), stop strings
};

// BODY as a JSON object, else a 400 (invalid_json).
nlohmann::json parse_body(std::string_view body);

// Fields of a parsed body, checked as parse_request checks its own: a 400 naming KEY when it is
// missing (where required) or of the wrong type. Null reads as left out.
std::string string_field(const nlohmann::json& obj, const std::string& key, bool required);
bool bool_field(const nlohmann::json& obj, const std::string& key, bool fallback);
// An array of ids in [0, VOCAB_SIZE).
std::vector<int> token_ids_field(const nlohmann::json& obj, const std::string& key, int vocab_size);

// Reads BODY for ENDPOINT, over DEFAULTS (the model's sampling defaults), checking every field
// as OpenAI does (types, ranges, unknown fields, combinations) and token ids against
// VOCAB_SIZE. Throws ApiError (400) naming the field.
Request parse_request(Endpoint endpoint, std::string_view body, const SamplerParams& defaults,
                      int vocab_size);

}  // namespace loom::server
