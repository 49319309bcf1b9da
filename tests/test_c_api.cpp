// The C API (loom/c.h): the same tokens, logits and text as the C++ API and llama2.c's reference,
// and every failure a status with a message, never an exception or a crash.
#include "loom/c.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "loom/loom.h"
#include "support/arch_checkpoint.h"
#include "support/checkpoint_writer.h"

namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;
const std::string kShared = LOOM_SHARED_DIR;
const std::string kStories = kShared + "/models/stories260K";

struct Handles {
  loom_model* model = nullptr;
  loom_session* session = nullptr;
  ~Handles() {
    loom_session_free(session);
    loom_model_free(model);
  }
};

std::string read(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST(CApi, VersionIsTheProjects) {
  EXPECT_STREQ(loom_version(), LOOM_VERSION_STRING);
  EXPECT_STREQ(loom::version(), LOOM_VERSION_STRING);
  EXPECT_EQ(std::to_string(LOOM_VERSION_MAJOR) + "." + std::to_string(LOOM_VERSION_MINOR) + "." +
                std::to_string(LOOM_VERSION_PATCH),
            LOOM_VERSION_STRING);
}

// Greedy generation through the callback: llama2.c's text for stories260K, token for token the
// C++ API's ids, and the callback's stop honoured.
TEST(CApi, GreedyGenerationIsLlama2cs) {
  Handles h;
  ASSERT_EQ(loom_model_load(kStories.c_str(), nullptr, &h.model), LOOM_OK) << loom_last_error();
  ASSERT_EQ(loom_session_create(h.model, nullptr, &h.session), LOOM_OK);
  EXPECT_EQ(loom_model_n_vocab(h.model), 512);
  EXPECT_EQ(loom_model_bos(h.model), 1);
  EXPECT_TRUE(loom_model_is_eos(h.model, 2));
  EXPECT_FALSE(loom_model_is_eos(h.model, 1));

  const char* prompt = "Once upon a time";
  size_t n = 0;
  ASSERT_EQ(loom_tokenize(h.model, prompt, std::strlen(prompt), 1, nullptr, 0, &n),
            LOOM_ERR_BUFFER_TOO_SMALL);
  std::vector<int32_t> ids(n);
  ASSERT_EQ(loom_tokenize(h.model, prompt, std::strlen(prompt), 1, ids.data(), n, &n), LOOM_OK);
  const loom::Model cpp = loom::Model::load(kStories);
  const std::vector<int> want_ids = cpp.tokenizer().encode(prompt, true);
  EXPECT_EQ(std::vector<int>(ids.begin(), ids.end()), want_ids);

  struct Seen {
    std::vector<int32_t> ids;
    std::string text;
  } seen;
  loom_generate_options o = loom_generate_default_options();
  o.max_tokens = 200;
  o.sampling.temperature = 0;
  int32_t generated = 0;
  auto cb = [](int32_t id, const char* text, size_t len, void* user) {
    auto* s = static_cast<Seen*>(user);
    if (id >= 0) s->ids.push_back(id);
    s->text.append(text, len);
    return 0;
  };
  ASSERT_EQ(loom_generate(h.session, ids.data(), n, &o, cb, &seen, &generated), LOOM_OK)
      << loom_last_error();
  EXPECT_EQ(generated, static_cast<int32_t>(seen.ids.size()));
  // llama2.c's greedy text for this prompt starts with the prompt itself.
  const std::string llama2c =
      read(kShared + "/models/stories260K-llama2c/greedy_once_upon_a_time_n256.txt");
  ASSERT_FALSE(llama2c.empty());
  EXPECT_THAT(llama2c, HasSubstr(std::string(prompt) + seen.text.substr(0, 60)));

  loom::Session s(cpp);
  loom::GenerateOptions g;
  g.max_tokens = 200;
  g.sampling = loom::SamplerParams::greedy();
  EXPECT_EQ(std::vector<int>(seen.ids.begin(), seen.ids.end()), loom::generate(s, want_ids, g).ids);

  // A callback returning nonzero stops at once.
  ASSERT_EQ(loom_session_truncate(h.session, 0), LOOM_OK);
  int calls = 0;
  auto stop_at_3 = [](int32_t, const char*, size_t, void* user) {
    return ++*static_cast<int*>(user) == 3 ? 1 : 0;
  };
  ASSERT_EQ(loom_generate(h.session, ids.data(), n, &o, stop_at_3, &calls, &generated), LOOM_OK);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(generated, 3);
}

// Prefill, decode and the sampler by hand give the C++ session's logits and greedy tokens.
TEST(CApi, PrefillDecodeAndSamplerMatchTheSession) {
  Handles h;
  ASSERT_EQ(loom_model_load(kStories.c_str(), nullptr, &h.model), LOOM_OK);
  loom_session_options so = loom_session_default_options();
  so.ctx_size = 32;
  so.threads = 2;
  ASSERT_EQ(loom_session_create(h.model, &so, &h.session), LOOM_OK);
  EXPECT_EQ(loom_session_ctx_size(h.session), 32);
  const std::vector<int32_t> ids = {1, 403, 407, 261, 378};
  const float* logits = nullptr;
  ASSERT_EQ(loom_session_prefill(h.session, ids.data(), ids.size(), &logits), LOOM_OK);

  const loom::Model cpp = loom::Model::load(kStories);
  loom::Session s(cpp, {.ctx_size = 32, .threads = 2});
  std::span<const float> want = s.prefill(std::vector<int>(ids.begin(), ids.end()));
  ASSERT_EQ(0, std::memcmp(logits, want.data(), want.size() * sizeof(float)));

  loom_sampler_params sp = loom_sampler_default_params();
  EXPECT_FLOAT_EQ(sp.temperature, 0.8f);
  EXPECT_EQ(sp.top_k, 40);
  sp.temperature = 0;
  loom_sampler* sampler = nullptr;
  ASSERT_EQ(loom_sampler_create(h.model, &sp, &sampler), LOOM_OK);
  for (int i = 0; i < 8; ++i) {
    int32_t token = -1;
    ASSERT_EQ(loom_sampler_sample(sampler, logits, 512, &token), LOOM_OK);
    const int argmax = static_cast<int>(std::max_element(want.begin(), want.end()) - want.begin());
    EXPECT_EQ(token, argmax);
    ASSERT_EQ(loom_session_decode(h.session, token, &logits), LOOM_OK);
    want = s.decode(argmax);
    ASSERT_EQ(0, std::memcmp(logits, want.data(), want.size() * sizeof(float)));
  }
  EXPECT_EQ(loom_session_position(h.session), 13);
  int32_t token = 0;
  EXPECT_EQ(loom_sampler_sample(sampler, logits, 511, &token), LOOM_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(loom_last_error(), HasSubstr("511"));
  loom_sampler_free(sampler);
}

TEST(CApi, DetokenizeGrowsIntoTheBuffer) {
  Handles h;
  ASSERT_EQ(loom_model_load(kStories.c_str(), nullptr, &h.model), LOOM_OK);
  const char* text = "Lily liked the big red ball.";
  std::vector<int32_t> ids(64);
  size_t n = 0;
  ASSERT_EQ(loom_tokenize(h.model, text, std::strlen(text), 0, ids.data(), ids.size(), &n),
            LOOM_OK);
  char small[8];
  size_t len = 0;
  EXPECT_EQ(loom_detokenize(h.model, ids.data(), n, 0, small, sizeof small, &len),
            LOOM_ERR_BUFFER_TOO_SMALL);
  EXPECT_EQ(len, std::strlen(text));
  std::vector<char> buf(len + 1);
  ASSERT_EQ(loom_detokenize(h.model, ids.data(), n, 0, buf.data(), buf.size(), &len), LOOM_OK);
  EXPECT_STREQ(buf.data(), text);
  const int32_t bad[] = {5, 512};
  EXPECT_EQ(loom_detokenize(h.model, bad, 2, 0, buf.data(), buf.size(), &len),
            LOOM_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(loom_last_error(), HasSubstr("token 512 (at 1)"));
}

TEST(CApi, ChatTemplates) {
  loom::test::TempDir tmp;
  loom::test::write_arch_checkpoint("qwen3", tmp.path() / "ck",
                                    fs::path(kShared) / "fixtures/tokenizers");
  Handles h;
  ASSERT_EQ(loom_model_load((tmp.path() / "ck").c_str(), nullptr, &h.model), LOOM_OK)
      << loom_last_error();
  loom_chat_template* t = nullptr;
  ASSERT_EQ(loom_chat_template_from_model(h.model, &t), LOOM_OK) << loom_last_error();
  const loom_chat_message msgs[] = {{"system", "Be brief."}, {"user", "Hi!"}};
  char buf[512];
  size_t len = 0;
  ASSERT_EQ(loom_chat_apply(t, msgs, 2, 1, buf, sizeof buf, &len), LOOM_OK) << loom_last_error();
  EXPECT_EQ(std::string(buf, len),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(loom_chat_apply(t, msgs, 2, 1, buf, 10, &len), LOOM_ERR_BUFFER_TOO_SMALL);
  loom_chat_template_free(t);

  ASSERT_EQ(
      loom_chat_template_create(h.model,
                                "{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}"
                                "{% if add_generation_prompt %}{{ eos_token }}{% endif %}",
                                &t),
      LOOM_OK);
  ASSERT_EQ(loom_chat_apply(t, msgs, 2, 1, buf, sizeof buf, &len), LOOM_OK);
  EXPECT_STREQ(buf, "[system:Be brief.][user:Hi!]<|im_end|>");
  const loom_chat_message bad[] = {{"user", nullptr}};
  EXPECT_EQ(loom_chat_apply(t, bad, 1, 1, buf, sizeof buf, &len), LOOM_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(loom_last_error(), HasSubstr("message 0"));
  loom_chat_template_free(t);

  EXPECT_EQ(loom_chat_template_create(h.model, "{% for %}", &t), LOOM_ERR_LOAD);
  EXPECT_EQ(t, nullptr);
  EXPECT_THAT(loom_last_error(), HasSubstr("the chat template"));
}

// Bad input: a status, a message naming what was wrong, handles left NULL, nothing thrown.
TEST(CApi, ErrorsAreStatusesWithMessages) {
  loom_model* m = reinterpret_cast<loom_model*>(1);
  EXPECT_EQ(loom_model_load("/nonexistent/model", nullptr, &m), LOOM_ERR_LOAD);
  EXPECT_EQ(m, nullptr);
  EXPECT_THAT(loom_last_error(), HasSubstr("/nonexistent/model"));
  EXPECT_EQ(loom_model_load(nullptr, nullptr, &m), LOOM_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(loom_last_error(), HasSubstr("path is NULL"));
  EXPECT_EQ(loom_model_load(kStories.c_str(), nullptr, nullptr), LOOM_ERR_INVALID_ARGUMENT);
  loom_model_options mo = loom_model_default_options();
  mo.quantize = "q3_x";
  EXPECT_EQ(loom_model_load(kStories.c_str(), &mo, &m), LOOM_ERR_RUNTIME);
  EXPECT_THAT(loom_last_error(), HasSubstr("'q3_x' is not a quantized type"));

  Handles h;
  mo.quantize = "q8_0";
  ASSERT_EQ(loom_model_load(kStories.c_str(), &mo, &h.model), LOOM_OK) << loom_last_error();
  loom_session_options so = loom_session_default_options();
  so.ctx_size = 8;
  ASSERT_EQ(loom_session_create(h.model, &so, &h.session), LOOM_OK);
  const std::vector<int32_t> ten(10, 5);
  EXPECT_EQ(loom_session_prefill(h.session, ten.data(), ten.size(), nullptr),
            LOOM_ERR_CONTEXT_FULL);
  EXPECT_THAT(loom_last_error(), HasSubstr("10 tokens do not fit"));
  EXPECT_EQ(loom_session_prefill(h.session, ten.data(), 0, nullptr), LOOM_ERR_INVALID_ARGUMENT);
  ASSERT_EQ(loom_session_prefill(h.session, ten.data(), 8, nullptr), LOOM_OK);
  EXPECT_EQ(loom_session_decode(h.session, 5, nullptr), LOOM_ERR_CONTEXT_FULL);
  EXPECT_EQ(loom_session_truncate(h.session, 9), LOOM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(loom_session_decode(nullptr, 5, nullptr), LOOM_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(loom_last_error(), HasSubstr("session is NULL"));

  loom_sampler* s = nullptr;
  loom_sampler_params sp = loom_sampler_default_params();
  sp.top_p = 2;
  EXPECT_EQ(loom_sampler_create(h.model, &sp, &s), LOOM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(s, nullptr);
  EXPECT_THAT(loom_last_error(), HasSubstr("top_p"));
  loom_generate_options go = loom_generate_default_options();
  go.max_tokens = -1;
  ASSERT_EQ(loom_session_truncate(h.session, 0), LOOM_OK);
  EXPECT_EQ(loom_session_decode(h.session, 9999, nullptr), LOOM_ERR_RUNTIME);
  EXPECT_THAT(loom_last_error(), HasSubstr("token id 9999"));
  EXPECT_EQ(loom_generate(h.session, ten.data(), 2, &go, nullptr, nullptr, nullptr),
            LOOM_ERR_INVALID_ARGUMENT);
  EXPECT_THAT(loom_last_error(), HasSubstr("max_tokens -1"));

  // Freeing NULL does nothing; the message is per thread.
  loom_model_free(nullptr);
  loom_session_free(nullptr);
  loom_sampler_free(nullptr);
  loom_chat_template_free(nullptr);
  std::string other;
  std::thread([&] { other = loom_last_error(); }).join();
  EXPECT_EQ(other, "");
}

}  // namespace
