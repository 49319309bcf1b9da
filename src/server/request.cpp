#include "server/request.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <utility>

namespace loom::server {

ApiError::ApiError(int status, std::string message, std::string type, std::string param,
                   std::string code)
    : std::runtime_error(std::move(message)),
      status(status),
      type(std::move(type)),
      param(std::move(param)),
      code(std::move(code)) {}

nlohmann::json error_body(const ApiError& e) {
  auto or_null = [](const std::string& s) {
    return s.empty() ? nlohmann::json() : nlohmann::json(s);
  };
  return {{"error",
           {{"message", e.what()},
            {"type", e.type},
            {"param", or_null(e.param)},
            {"code", or_null(e.code)}}}};
}

namespace {

using json = nlohmann::json;

ApiError invalid(const std::string& param, const std::string& message, const char* code) {
  return ApiError(400, message, "invalid_request_error", param, code);
}

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    case json::value_t::number_float:
      return "a decimal";
    default:
      return "an integer";
  }
}

ApiError wrong_type(const std::string& param, const char* expected, const json& got) {
  return invalid(param,
                 "Invalid type for '" + param + "': expected " + expected + ", but got " +
                     type_name(got) + " instead.",
                 "invalid_type");
}

// X as people write it: 2, 0.5, 0.01.
std::string decimal(double x) {
  std::ostringstream out;
  out << x;
  return out.str();
}

// The value as a number in [LO, HI], else a 400 naming PARAM.
double number_in(const std::string& param, const json& v, double lo, double hi) {
  if (!v.is_number()) throw wrong_type(param, "a decimal", v);
  const double x = v.get<double>();
  if (!(x >= lo) || !(x <= hi)) {
    throw invalid(param,
                  "Invalid '" + param + "': expected a value from " + decimal(lo) + " to " +
                      decimal(hi) + ", but got " + v.dump() + " instead.",
                  "invalid_value");
  }
  return x;
}

// An integer (a decimal with no fraction counts) in [LO, HI].
long long integer_in(const std::string& param, const json& v, long long lo, long long hi) {
  const bool integral =
      v.is_number_integer() || (v.is_number_float() && std::isfinite(v.get<double>()) &&
                                v.get<double>() == std::floor(v.get<double>()));
  if (!integral) throw wrong_type(param, "an integer", v);
  const double x = v.get<double>();
  if (x < static_cast<double>(lo) || x > static_cast<double>(hi)) {
    throw invalid(param,
                  "Invalid '" + param + "': expected an integer from " + std::to_string(lo) +
                      " to " + std::to_string(hi) + ", but got " + v.dump() + " instead.",
                  "invalid_value");
  }
  return v.is_number_integer() ? v.get<long long>() : static_cast<long long>(x);
}

bool boolean(const std::string& param, const json& v) {
  if (!v.is_boolean()) throw wrong_type(param, "a boolean", v);
  return v.get<bool>();
}

int token_id(const std::string& param, const json& v, int vocab_size) {
  return static_cast<int>(integer_in(param, v, 0, vocab_size - 1));
}

std::vector<std::string> stop_strings(const json& v) {
  std::vector<std::string> out;
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
  } else if (v.is_array()) {
    if (v.size() > 4) {
      throw invalid("stop",
                    "Invalid 'stop': at most 4 stop strings, got " + std::to_string(v.size()) + ".",
                    "invalid_value");
    }
    for (const json& s : v) {
      if (!s.is_string()) throw wrong_type("stop", "a string or an array of strings", v);
      out.push_back(s.get<std::string>());
    }
  } else {
    throw wrong_type("stop", "a string or an array of strings", v);
  }
  for (const std::string& s : out) {
    if (s.empty())
      throw invalid("stop", "Invalid 'stop': a stop string is empty.", "invalid_value");
  }
  return out;
}

std::vector<std::pair<int, float>> logit_bias(const json& v, int vocab_size) {
  if (!v.is_object()) throw wrong_type("logit_bias", "an object", v);
  std::vector<std::pair<int, float>> out;
  for (const auto& [key, bias] : v.items()) {
    size_t used = 0;
    long long id = -1;
    try {
      id = std::stoll(key, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != key.size() || key.empty() || id < 0 || id >= vocab_size) {
      throw invalid("logit_bias",
                    "Invalid 'logit_bias': key '" + key + "' is not a token id (0 to " +
                        std::to_string(vocab_size - 1) + ").",
                    "invalid_value");
    }
    out.emplace_back(static_cast<int>(id),
                     static_cast<float>(number_in("logit_bias." + key, bias, -100, 100)));
  }
  return out;
}

// A message's content: a string, null (an assistant turn that called tools), or text parts,
// joined by newlines (what templates that expect a string can render).
json message_content(const json& m, size_t i) {
  const std::string param = "messages[" + std::to_string(i) + "].content";
  if (!m.contains("content") || m["content"].is_null()) {
    if (m["role"] == "assistant") return json();
    throw invalid(param, "Missing required parameter: '" + param + "'.",
                  "missing_required_parameter");
  }
  const json& c = m["content"];
  if (c.is_string()) return c;
  if (!c.is_array()) throw wrong_type(param, "a string or an array of content parts", c);
  std::string text;
  for (size_t p = 0; p < c.size(); ++p) {
    const std::string part = param + "[" + std::to_string(p) + "]";
    const json& x = c[p];
    if (!x.is_object() || !x.contains("type") || !x["type"].is_string()) {
      throw wrong_type(part, "a content part with a 'type'", x);
    }
    if (x["type"] != "text") {
      throw invalid(part + ".type",
                    "Content parts of type '" + x["type"].get<std::string>() +
                        "' are not supported: this model reads text only.",
                    "unsupported_value");
    }
    if (!x.contains("text") || !x["text"].is_string()) {
      throw wrong_type(part + ".text", "a string", x.value("text", json()));
    }
    if (!text.empty()) text += '\n';
    text += x["text"].get<std::string>();
  }
  return text;
}

json messages(const json& v) {
  if (!v.is_array()) throw wrong_type("messages", "an array", v);
  if (v.empty()) {
    throw invalid("messages", "Invalid 'messages': empty array. Expected at least one message.",
                  "empty_array");
  }
  static const std::set<std::string> kRoles = {"system", "developer", "user", "assistant", "tool"};
  json out = json::array();
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string param = "messages[" + std::to_string(i) + "]";
    const json& m = v[i];
    if (!m.is_object()) throw wrong_type(param, "an object", m);
    if (!m.contains("role") || !m["role"].is_string()) {
      throw wrong_type(param + ".role", "a string", m.value("role", json()));
    }
    const std::string role = m["role"].get<std::string>();
    if (!kRoles.contains(role)) {
      throw invalid(param + ".role",
                    "Invalid value: '" + role +
                        "'. Supported values are: 'system', 'developer', 'user', 'assistant' "
                        "and 'tool'.",
                    "invalid_value");
    }
    json copy = m;
    copy["content"] = message_content(m, i);
    out.push_back(std::move(copy));
  }
  return out;
}

// A list of ids, each in the vocabulary.
std::vector<int> id_list(const std::string& param, const json& v, int vocab_size) {
  std::vector<int> ids;
  for (size_t i = 0; i < v.size(); ++i) {
    ids.push_back(token_id(param + "[" + std::to_string(i) + "]", v[i], vocab_size));
  }
  return ids;
}

// A string, an array of strings, an array of token ids, or an array of arrays of them.
std::vector<Prompt> prompts(const json& v, int vocab_size) {
  const char* expected = "a string, an array of strings, an array of token ids or an array of them";
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) throw wrong_type("prompt", expected, v);
  if (v.empty()) {
    throw invalid("prompt", "Invalid 'prompt': empty array. Expected at least one prompt.",
                  "empty_array");
  }
  std::vector<Prompt> out;
  if (v[0].is_number()) return {id_list("prompt", v, vocab_size)};
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string param = "prompt[" + std::to_string(i) + "]";
    if (v[i].is_string()) {
      out.emplace_back(v[i].get<std::string>());
    } else if (v[i].is_array() && !v[i].empty()) {
      out.emplace_back(id_list(param, v[i], vocab_size));
    } else {
      throw wrong_type(param, "a string or a non-empty array of token ids", v[i]);
    }
  }
  return out;
}

}  // namespace

json parse_body(std::string_view body) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::parse_error& e) {
    throw ApiError(400,
                   std::string("We could not parse the JSON body of your request: ") + e.what(),
                   "invalid_request_error", "", "invalid_json");
  }
  if (!j.is_object()) {
    throw ApiError(400, "The request body must be a JSON object.", "invalid_request_error", "",
                   "invalid_json");
  }
  return j;
}

std::string string_field(const json& obj, const std::string& key, bool required) {
  if (!obj.contains(key) || obj[key].is_null()) {
    if (!required) return "";
    throw invalid(key, "Missing required parameter: '" + key + "'.", "missing_required_parameter");
  }
  if (!obj[key].is_string()) throw wrong_type(key, "a string", obj[key]);
  return obj[key].get<std::string>();
}

bool bool_field(const json& obj, const std::string& key, bool fallback) {
  if (!obj.contains(key) || obj[key].is_null()) return fallback;
  return boolean(key, obj[key]);
}

std::vector<int> token_ids_field(const json& obj, const std::string& key, int vocab_size) {
  if (!obj.contains(key)) {
    throw invalid(key, "Missing required parameter: '" + key + "'.", "missing_required_parameter");
  }
  if (!obj[key].is_array()) throw wrong_type(key, "an array of token ids", obj[key]);
  return id_list(key, obj[key], vocab_size);
}

Request parse_request(Endpoint endpoint, std::string_view body, const SamplerParams& defaults,
                      int vocab_size) {
  const json j = parse_body(body);
  const bool chat = endpoint == Endpoint::Chat;
  Request r;
  r.endpoint = endpoint;
  r.options.sampling = defaults;
  SamplerParams& sp = r.options.sampling;
  bool want_logprobs = false;  // chat: logprobs true
  std::optional<int> top_logprobs;

  using Field = std::function<void(const json&)>;
  std::map<std::string, Field> fields = {
      {"model",
       [&](const json& v) {
         if (!v.is_string()) throw wrong_type("model", "a string", v);
         r.model = v.get<std::string>();
       }},
      {"max_tokens",
       [&](const json& v) {
         r.max_tokens = static_cast<int>(integer_in("max_tokens", v, 1, 1 << 30));
       }},
      {"temperature",
       [&](const json& v) {
         sp.temperature = static_cast<float>(number_in("temperature", v, 0, 2));
       }},
      {"top_p", [&](const json& v) { sp.top_p = static_cast<float>(number_in("top_p", v, 0, 1)); }},
      {"n", [&](const json& v) { r.n = static_cast<int>(integer_in("n", v, 1, 128)); }},
      {"stream", [&](const json& v) { r.stream = boolean("stream", v); }},
      {"stream_options",
       [&](const json& v) {
         if (!v.is_object()) throw wrong_type("stream_options", "an object", v);
         for (const auto& [k, x] : v.items()) {
           if (k != "include_usage") {
             throw invalid("stream_options." + k,
                           "Unrecognized request argument supplied: stream_options." + k,
                           "unknown_parameter");
           }
           r.include_usage = boolean("stream_options.include_usage", x);
         }
       }},
      {"stop", [&](const json& v) { r.options.stop = stop_strings(v); }},
      {"seed",
       [&](const json& v) {
         r.seed = sp.seed =
             static_cast<uint64_t>(integer_in("seed", v, std::numeric_limits<long long>::min(),
                                              std::numeric_limits<long long>::max()));
       }},
      {"presence_penalty",
       [&](const json& v) {
         sp.presence_penalty = static_cast<float>(number_in("presence_penalty", v, -2, 2));
       }},
      {"frequency_penalty",
       [&](const json& v) {
         sp.frequency_penalty = static_cast<float>(number_in("frequency_penalty", v, -2, 2));
       }},
      {"logit_bias", [&](const json& v) { sp.logit_bias = logit_bias(v, vocab_size); }},
      {"user",
       [&](const json& v) {
         if (!v.is_string()) throw wrong_type("user", "a string", v);
       }},
      // llama.cpp's extras.
      {"top_k",
       [&](const json& v) { sp.top_k = static_cast<int>(integer_in("top_k", v, 0, vocab_size)); }},
      {"min_p", [&](const json& v) { sp.min_p = static_cast<float>(number_in("min_p", v, 0, 1)); }},
      {"repeat_penalty",
       [&](const json& v) {
         sp.repeat_penalty = static_cast<float>(number_in("repeat_penalty", v, 0.01, 100));
       }},
  };
  if (chat) {
    fields["messages"] = [&](const json& v) { r.messages = messages(v); };
    fields["max_completion_tokens"] = [&](const json& v) {
      r.max_tokens = static_cast<int>(integer_in("max_completion_tokens", v, 1, 1 << 30));
    };
    fields["logprobs"] = [&](const json& v) { want_logprobs = boolean("logprobs", v); };
    fields["top_logprobs"] = [&](const json& v) {
      top_logprobs = static_cast<int>(integer_in("top_logprobs", v, 0, 20));
    };
    fields["response_format"] = [&](const json& v) {
      if (!v.is_object() || !v.contains("type") || v["type"] != "text") {
        throw invalid("response_format",
                      "Invalid 'response_format': only {\"type\": \"text\"} is supported.",
                      "unsupported_value");
      }
    };
  } else {
    fields["prompt"] = [&](const json& v) { r.prompts = prompts(v, vocab_size); };
    fields["logprobs"] = [&](const json& v) {
      r.logprobs = static_cast<int>(integer_in("logprobs", v, 0, 5));
    };
    fields["echo"] = [&](const json& v) { r.echo = boolean("echo", v); };
  }
  // Known to OpenAI, not served here: refused by name rather than ignored.
  static const std::set<std::string> kUnsupported = {
      "tools",      "tool_choice", "functions", "function_call", "parallel_tool_calls", "audio",
      "modalities", "prediction",  "suffix",    "best_of",       "reasoning_effort"};

  for (const auto& [key, value] : j.items()) {
    if (kUnsupported.contains(key)) {
      throw invalid(key, "'" + key + "' is not supported by this server.", "unsupported_parameter");
    }
    const auto f = fields.find(key);
    if (f == fields.end()) {
      throw invalid(key, "Unrecognized request argument supplied: " + key, "unknown_parameter");
    }
    if (!value.is_null()) f->second(value);  // null: as if left out, as OpenAI reads it
  }

  const char* required = chat ? "messages" : "prompt";
  if (chat ? r.messages.is_null() : r.prompts.empty()) {
    throw invalid(required, std::string("Missing required parameter: '") + required + "'.",
                  "missing_required_parameter");
  }
  if (j.contains("stream_options") && !j["stream_options"].is_null() && !r.stream) {
    throw invalid("stream_options",
                  "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                  "invalid_value");
  }
  if (chat) {
    if (top_logprobs && !want_logprobs) {
      throw invalid("top_logprobs", "'top_logprobs' requires 'logprobs' to be true.",
                    "invalid_value");
    }
    if (want_logprobs) r.logprobs = top_logprobs.value_or(0);
  }
  if (r.n * static_cast<int>(std::max<size_t>(1, r.prompts.size())) > 128) {
    throw invalid("n", "Invalid 'n': at most 128 choices a request (n times the prompts).",
                  "invalid_value");
  }
  r.options.top_logprobs = r.logprobs;
  if (r.max_tokens) r.options.max_tokens = *r.max_tokens;
  return r;
}

}  // namespace loom::server
