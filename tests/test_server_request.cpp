// OpenAI request bodies read as the server will: every field's type and range, unknown and
// unsupported fields, combinations OpenAI refuses, and the error object each gives.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "server/request.h"

namespace {

using loom::server::ApiError;
using loom::server::Endpoint;
using loom::server::Request;
using nlohmann::json;
using ::testing::HasSubstr;

constexpr int kVocab = 1000;

loom::SamplerParams defaults() {
  loom::SamplerParams p;
  p.temperature = 0.7f;
  p.top_k = 30;
  p.top_p = 0.9f;
  p.min_p = 0.0f;
  return p;
}

Request chat(const std::string& extra) {
  return loom::server::parse_request(
      Endpoint::Chat, R"({"messages": [{"role": "user", "content": "Hi"}])" + extra + "}",
      defaults(), kVocab);
}

Request completion(const std::string& body) {
  return loom::server::parse_request(Endpoint::Completion, body, defaults(), kVocab);
}

// The ApiError BODY gives at ENDPOINT: its status, param, code and message.
ApiError error_of(Endpoint endpoint, const std::string& body) {
  try {
    loom::server::parse_request(endpoint, body, defaults(), kVocab);
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "no error for " << body;
  return ApiError(0, "", "");
}
ApiError chat_error(const std::string& extra) {
  return error_of(Endpoint::Chat,
                  R"({"messages": [{"role": "user", "content": "Hi"}])" + extra + "}");
}

TEST(ServerRequest, ChatFieldsOverTheModelsDefaults) {
  const Request r = chat(R"(, "model": "m", "temperature": 1.5, "top_p": 0.5, "n": 3,
      "max_tokens": 40, "stop": ["\n\n", "END"], "seed": 12, "presence_penalty": 0.5,
      "frequency_penalty": -1, "logit_bias": {"7": -100, "42": 2.5}, "top_k": 5, "min_p": 0.1,
      "repeat_penalty": 1.1, "stream": true, "stream_options": {"include_usage": true},
      "logprobs": true, "top_logprobs": 3, "user": "u1")");
  EXPECT_EQ(r.endpoint, Endpoint::Chat);
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0]["content"], "Hi");
  const loom::SamplerParams& s = r.options.sampling;
  EXPECT_FLOAT_EQ(s.temperature, 1.5f);
  EXPECT_FLOAT_EQ(s.top_p, 0.5f);
  EXPECT_EQ(s.top_k, 5);
  EXPECT_FLOAT_EQ(s.min_p, 0.1f);
  EXPECT_FLOAT_EQ(s.repeat_penalty, 1.1f);
  EXPECT_FLOAT_EQ(s.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(s.frequency_penalty, -1.0f);
  EXPECT_EQ(s.seed, 12u);
  EXPECT_EQ(r.seed, 12u);
  ASSERT_EQ(s.logit_bias.size(), 2u);
  EXPECT_EQ(s.logit_bias[0], (std::pair<int, float>{42, 2.5f}));  // (the object's key order)
  EXPECT_EQ(s.logit_bias[1], (std::pair<int, float>{7, -100.0f}));
  EXPECT_EQ(r.n, 3);
  EXPECT_EQ(r.max_tokens, 40);
  EXPECT_EQ(r.options.max_tokens, 40);
  EXPECT_EQ(r.options.stop, (std::vector<std::string>{"\n\n", "END"}));
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_EQ(r.logprobs, 3);
  EXPECT_EQ(r.options.top_logprobs, 3);
}

TEST(ServerRequest, LeftOutOrNullFieldsKeepTheDefaults) {
  const Request r = chat(R"(, "temperature": null, "stop": null, "max_tokens": null)");
  EXPECT_FLOAT_EQ(r.options.sampling.temperature, 0.7f);
  EXPECT_EQ(r.options.sampling.top_k, 30);
  EXPECT_FALSE(r.max_tokens.has_value());
  EXPECT_FALSE(r.seed.has_value());
  EXPECT_EQ(chat(R"(, "seed": 0)").seed, 0u);
  EXPECT_TRUE(r.options.stop.empty());
  EXPECT_EQ(r.n, 1);
  EXPECT_FALSE(r.stream);
  EXPECT_EQ(r.logprobs, -1);
  EXPECT_EQ(r.options.top_logprobs, -1);
  EXPECT_EQ(chat(R"(, "stop": "###")").options.stop, std::vector<std::string>{"###"});
  EXPECT_EQ(chat(R"(, "max_completion_tokens": 9)").max_tokens, 9);
  EXPECT_EQ(chat(R"(, "logprobs": true)").logprobs, 0);
  EXPECT_EQ(chat(R"(, "n": 2.0)").n, 2);  // an integral decimal is an integer
}

TEST(ServerRequest, ContentPartsJoinAndAssistantContentMayBeNull) {
  const Request r = loom::server::parse_request(
      Endpoint::Chat,
      R"({"messages": [{"role": "system", "content": [{"type": "text", "text": "a"},
          {"type": "text", "text": "b"}]}, {"role": "assistant", "content": null},
          {"role": "user", "content": "c", "name": "bob"}]})",
      defaults(), kVocab);
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[0]["content"], "a\nb");
  EXPECT_TRUE(r.messages[1]["content"].is_null());
  EXPECT_EQ(r.messages[2]["name"], "bob");
}

TEST(ServerRequest, CompletionPrompts) {
  const Request a = completion(R"({"prompt": "Once", "echo": true, "logprobs": 2})");
  ASSERT_EQ(a.prompts.size(), 1u);
  EXPECT_EQ(std::get<std::string>(a.prompts[0]), "Once");
  EXPECT_TRUE(a.echo);
  EXPECT_EQ(a.logprobs, 2);
  const Request b = completion(R"({"prompt": [1, 2, 999]})");
  ASSERT_EQ(b.prompts.size(), 1u);
  EXPECT_EQ(std::get<std::vector<int>>(b.prompts[0]), (std::vector<int>{1, 2, 999}));
  const Request c = completion(R"({"prompt": ["x", [5, 6]], "n": 2})");
  ASSERT_EQ(c.prompts.size(), 2u);
  EXPECT_EQ(std::get<std::string>(c.prompts[0]), "x");
  EXPECT_EQ(std::get<std::vector<int>>(c.prompts[1]), (std::vector<int>{5, 6}));
}

TEST(ServerRequest, ErrorObjectShape) {
  const ApiError e = chat_error(R"(, "temperature": 3)");
  const json b = loom::server::error_body(e);
  EXPECT_EQ(b["error"]["type"], "invalid_request_error");
  EXPECT_EQ(b["error"]["param"], "temperature");
  EXPECT_EQ(b["error"]["code"], "invalid_value");
  EXPECT_THAT(b["error"]["message"].get<std::string>(), HasSubstr("but got 3 instead"));
  const json none =
      loom::server::error_body(ApiError(401, "Invalid API key.", "authentication_error"));
  EXPECT_TRUE(none["error"]["param"].is_null());
  EXPECT_TRUE(none["error"]["code"].is_null());
}

struct BadCase {
  const char* extra;  // appended to a valid chat body
  const char* param;
  const char* code;
  const char* says;
};

TEST(ServerRequest, EachBadFieldIsA400NamingIt) {
  const BadCase cases[] = {
      {R"(, "temperature": "hot")", "temperature", "invalid_type",
       "expected a decimal, but got a string"},
      {R"(, "temperature": -0.1)", "temperature", "invalid_value", "from 0 to 2"},
      {R"(, "top_p": 1.5)", "top_p", "invalid_value", "from 0 to 1"},
      {R"(, "n": 0)", "n", "invalid_value", "from 1 to 128"},
      {R"(, "n": 1.5)", "n", "invalid_type", "expected an integer"},
      {R"(, "n": 200)", "n", "invalid_value", "from 1 to 128"},
      {R"(, "max_tokens": 0)", "max_tokens", "invalid_value", "from 1"},
      {R"(, "max_completion_tokens": "9")", "max_completion_tokens", "invalid_type", "an integer"},
      {R"(, "stream": "yes")", "stream", "invalid_type", "a boolean"},
      {R"(, "stream_options": {"include_usage": true})", "stream_options", "invalid_value",
       "only allowed when 'stream' is enabled"},
      {R"(, "stream": true, "stream_options": {"usage": true})", "stream_options.usage",
       "unknown_parameter", "stream_options.usage"},
      {R"(, "stop": 5)", "stop", "invalid_type", "a string or an array of strings"},
      {R"(, "stop": ["a", "b", "c", "d", "e"])", "stop", "invalid_value", "at most 4"},
      {R"(, "stop": [""])", "stop", "invalid_value", "empty"},
      {R"(, "seed": "1")", "seed", "invalid_type", "an integer"},
      {R"(, "presence_penalty": 2.5)", "presence_penalty", "invalid_value", "from -2 to 2"},
      {R"(, "frequency_penalty": -3)", "frequency_penalty", "invalid_value", "from -2 to 2"},
      {R"(, "logit_bias": [1])", "logit_bias", "invalid_type", "an object"},
      {R"(, "logit_bias": {"abc": 1})", "logit_bias", "invalid_value", "'abc' is not a token id"},
      {R"(, "logit_bias": {"1000": 1})", "logit_bias", "invalid_value", "0 to 999"},
      {R"(, "logit_bias": {"5": 101})", "logit_bias.5", "invalid_value", "from -100 to 100"},
      {R"(, "logprobs": 1)", "logprobs", "invalid_type", "a boolean"},
      {R"(, "top_logprobs": 2)", "top_logprobs", "invalid_value", "requires 'logprobs'"},
      {R"(, "logprobs": true, "top_logprobs": 21)", "top_logprobs", "invalid_value",
       "from 0 to 20"},
      {R"(, "top_k": -1)", "top_k", "invalid_value", "from 0"},
      {R"(, "min_p": 2)", "min_p", "invalid_value", "from 0 to 1"},
      {R"(, "repeat_penalty": 0)", "repeat_penalty", "invalid_value", "from 0.01"},
      {R"(, "model": 3)", "model", "invalid_type", "a string"},
      {R"(, "user": 3)", "user", "invalid_type", "a string"},
      {R"(, "temprature": 1)", "temprature", "unknown_parameter",
       "Unrecognized request argument supplied: temprature"},
      {R"(, "prompt": "x")", "prompt", "unknown_parameter", "Unrecognized"},
      {R"(, "tools": [])", "tools", "unsupported_parameter", "not supported"},
      {R"(, "response_format": {"type": "json_object"})", "response_format", "unsupported_value",
       "only {\"type\": \"text\"}"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.extra);
    const ApiError e = chat_error(c.extra);
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.type, "invalid_request_error");
    EXPECT_EQ(e.param, c.param);
    EXPECT_EQ(e.code, c.code);
    EXPECT_THAT(e.what(), HasSubstr(c.says));
  }
}

TEST(ServerRequest, BadBodiesAndMessages) {
  struct Case {
    Endpoint endpoint;
    const char* body;
    const char* param;
    const char* code;
  };
  const Case cases[] = {
      {Endpoint::Chat, R"({"messages": [)", "", "invalid_json"},
      {Endpoint::Chat, R"([1, 2])", "", "invalid_json"},
      {Endpoint::Chat, R"({})", "messages", "missing_required_parameter"},
      {Endpoint::Chat, R"({"messages": []})", "messages", "empty_array"},
      {Endpoint::Chat, R"({"messages": "Hi"})", "messages", "invalid_type"},
      {Endpoint::Chat, R"({"messages": [{"content": "Hi"}]})", "messages[0].role", "invalid_type"},
      {Endpoint::Chat, R"({"messages": [{"role": "robot", "content": "Hi"}]})", "messages[0].role",
       "invalid_value"},
      {Endpoint::Chat, R"({"messages": [{"role": "user"}]})", "messages[0].content",
       "missing_required_parameter"},
      {Endpoint::Chat, R"({"messages": [{"role": "user", "content": 5}]})", "messages[0].content",
       "invalid_type"},
      {Endpoint::Chat,
       R"({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]})",
       "messages[0].content[0].type", "unsupported_value"},
      {Endpoint::Completion, R"({})", "prompt", "missing_required_parameter"},
      {Endpoint::Completion, R"({"prompt": []})", "prompt", "empty_array"},
      {Endpoint::Completion, R"({"prompt": 5})", "prompt", "invalid_type"},
      {Endpoint::Completion, R"({"prompt": [1, 1000]})", "prompt[1]", "invalid_value"},
      {Endpoint::Completion, R"({"prompt": [1, "a"]})", "prompt[1]", "invalid_type"},
      {Endpoint::Completion, R"({"prompt": [[1], []]})", "prompt[1]", "invalid_type"},
      {Endpoint::Completion, R"({"prompt": "x", "logprobs": 6})", "logprobs", "invalid_value"},
      {Endpoint::Completion, R"({"prompt": "x", "logprobs": true})", "logprobs", "invalid_type"},
      {Endpoint::Completion, R"({"prompt": "x", "messages": []})", "messages", "unknown_parameter"},
      {Endpoint::Completion, R"({"prompt": "x", "suffix": "y"})", "suffix",
       "unsupported_parameter"},
      {Endpoint::Completion, R"({"prompt": ["a", "b", "c"], "n": 50})", "n", "invalid_value"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    const ApiError e = error_of(c.endpoint, c.body);
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.param, c.param);
    EXPECT_EQ(e.code, c.code);
  }
}

}  // namespace
