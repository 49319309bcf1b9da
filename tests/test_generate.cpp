// generate(): sampling reproducibility, stop conditions, streamed text, logprobs, prefix reuse,
// and sessions sharing one model across threads.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "generate/stop_strings.h"
#include "loom/loom.h"

namespace {

using ::testing::HasSubstr;
const std::string kShared = LOOM_SHARED_DIR;

const loom::Model& stories() {
  static const loom::Model m = loom::Model::load(kShared + "/models/stories260K");
  return m;
}
const loom::Model& llama2() {
  static const loom::Model m = loom::Model::load(kShared + "/fixtures/llama2-gqa-bf16");
  return m;
}

std::vector<int> prompt_ids(const loom::Model& m, const std::string& text) {
  return m.tokenizer().encode(text, true);
}

loom::GenerateOptions sampled(uint64_t seed, int n) {
  loom::GenerateOptions o;
  o.max_tokens = n;
  o.ignore_eos = true;
  o.sampling.seed = seed;
  o.sampling.temperature = 1.0f;  // a wide distribution, so a different thread count would show
  return o;
}

TEST(Generate, SameSeedSameTokensWhateverTheThreadCount) {
  const auto ids = prompt_ids(stories(), "Once upon a time");
  std::vector<int> first;
  for (int threads : {1, 2, 3}) {
    for (int batch : {1, 512}) {
      loom::Session s(stories(), {.ctx_size = 256, .threads = threads, .batch_size = batch});
      const auto r = loom::generate(s, ids, sampled(1234, 100));
      if (first.empty()) first = r.ids;
      EXPECT_EQ(r.ids, first) << threads << " threads, batch " << batch;
    }
  }
  loom::Session s(stories(), {.ctx_size = 256});
  EXPECT_NE(loom::generate(s, ids, sampled(1235, 100)).ids, first);
}

TEST(Generate, TopK1IsGreedy) {
  const auto ids = prompt_ids(llama2(), "The quick brown fox");
  loom::Session a(llama2(), {.ctx_size = 64});
  loom::Session b(llama2(), {.ctx_size = 64});
  auto o = sampled(7, 30);
  o.sampling.top_k = 1;
  const auto greedy = loom::generate(
      a, ids, {.max_tokens = 30, .ignore_eos = true, .sampling = loom::SamplerParams::greedy()});
  EXPECT_EQ(loom::generate(b, ids, o).ids, greedy.ids);
}

TEST(Generate, StopStringSpanningTokensEndsGenerationAndIsNotInTheText) {
  // Greedy stories260K continues "Once upon a time" with ", there was a little girl named Lily".
  loom::Session s(stories(), {.ctx_size = 128});
  loom::GenerateOptions o{.max_tokens = 40, .sampling = loom::SamplerParams::greedy()};
  o.stop = {"tle gi", "never appears"};
  std::string streamed;
  const auto r = loom::generate(s, prompt_ids(stories(), "Once upon a time"), o,
                                [&](const loom::TokenEvent& e) {
                                  streamed += e.text;
                                  return true;
                                });
  EXPECT_EQ(r.stop, loom::StopReason::StopString);
  EXPECT_EQ(r.text, ", there was a lit");
  EXPECT_EQ(streamed, r.text);
  // The token that completed the stop string is the last generated.
  const loom::Tokenizer& tok = stories().tokenizer();
  EXPECT_THAT(tok.decode(r.ids), HasSubstr("tle gi"));
  EXPECT_THAT(tok.decode(std::span(r.ids).first(r.ids.size() - 1)),
              ::testing::Not(HasSubstr("tle gi")));
}

TEST(Generate, EosEndsGenerationUnlessIgnored) {
  const loom::Model& m = stories();
  ASSERT_EQ(m.config().eos_token_ids, std::vector<int>{2});
  loom::GenerateOptions o{.max_tokens = 10, .sampling = loom::SamplerParams::greedy()};
  o.sampling.logit_bias = {{2, 100.0f}};  // make EOS the model's first choice
  loom::Session s(m, {.ctx_size = 64});
  const auto ids = prompt_ids(m, "Once upon a time");
  const auto r = loom::generate(s, ids, o);
  EXPECT_EQ(r.stop, loom::StopReason::Eos);
  EXPECT_TRUE(r.ids.empty());  // the EOS that ended generation is not part of the result

  s.reset();
  o.ignore_eos = true;
  const auto all = loom::generate(s, ids, o);
  EXPECT_EQ(all.stop, loom::StopReason::MaxTokens);
  EXPECT_EQ(all.ids, std::vector<int>(10, 2));
}

TEST(Generate, LogprobsAreTheModelsDistribution) {
  const loom::Model& m = llama2();
  const auto ids = prompt_ids(m, "Hello");
  loom::Session s(m, {.ctx_size = 64, .bf16_prompts = loom::Bf16Prompts::Exact});
  auto o = sampled(3, 5);
  o.top_logprobs = 4;
  const auto r = loom::generate(s, ids, o);
  ASSERT_EQ(r.logprobs.size(), r.ids.size());

  // Recompute the steps' logits by prefilling prompt + generated ids.
  loom::Session ref(m, {.ctx_size = 64, .bf16_prompts = loom::Bf16Prompts::Exact});
  std::vector<int> seq = ids;
  seq.insert(seq.end(), r.ids.begin(), r.ids.end() - 1);
  const std::vector<float> all = ref.prefill_all_logits(seq);
  const int vocab = m.config().vocab_size;
  for (size_t i = 0; i < r.ids.size(); ++i) {
    const float* row = all.data() + (ids.size() - 1 + i) * vocab;
    double mx = row[0], sum = 0;
    for (int v = 0; v < vocab; ++v) mx = std::max<double>(mx, row[v]);
    for (int v = 0; v < vocab; ++v) sum += std::exp(row[v] - mx);
    const double lse = mx + std::log(sum);
    EXPECT_NEAR(r.logprobs[i].logprob, row[r.ids[i]] - lse, 1e-4);
    ASSERT_EQ(r.logprobs[i].top.size(), 4u);
    for (const auto& t : r.logprobs[i].top) EXPECT_NEAR(t.logprob, row[t.id] - lse, 1e-4);
    const double best = *std::max_element(row, row + vocab) - lse;
    EXPECT_NEAR(r.logprobs[i].top[0].logprob, best, 1e-4);
  }
}

TEST(Generate, TruncateReusesAPromptPrefix) {
  const loom::Model& m = llama2();
  const auto shared = prompt_ids(m, "A long shared document about foxes.");
  const std::vector<int> q1 = {450, 4996}, q2 = {17966};
  auto greedy = loom::GenerateOptions{
      .max_tokens = 6, .ignore_eos = true, .sampling = loom::SamplerParams::greedy()};

  loom::Session s(m, {.ctx_size = 128});
  s.prefill(shared);
  const int base = s.position();
  const auto a1 = loom::generate(s, q1, greedy);
  s.truncate(base);
  const auto a2 = loom::generate(s, q2, greedy);

  // The same as evaluating each question from scratch.
  for (const auto& [q, got] : {std::pair{q1, a1}, std::pair{q2, a2}}) {
    std::vector<int> whole = shared;
    whole.insert(whole.end(), q.begin(), q.end());
    loom::Session fresh(m, {.ctx_size = 128});
    EXPECT_EQ(loom::generate(fresh, whole, greedy).ids, got.ids);
  }
  EXPECT_THROW(s.truncate(s.position() + 1), loom::Error);
}

TEST(Generate, SessionsShareOneModelAcrossThreads) {
  const loom::Model& m = llama2();
  const auto ids = prompt_ids(m, "Once upon a time");
  constexpr int kThreads = 4;
  std::vector<std::vector<int>> want(kThreads), got(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    loom::Session s(m, {.ctx_size = 64, .threads = 1});
    want[i] = loom::generate(s, ids, sampled(100 + i, 20)).ids;
  }
  std::vector<std::thread> pool;
  for (int i = 0; i < kThreads; ++i) {
    pool.emplace_back([&, i] {
      loom::Session s(m, {.ctx_size = 64, .threads = 2});
      got[i] = loom::generate(s, ids, sampled(100 + i, 20)).ids;
    });
  }
  for (auto& t : pool) t.join();
  EXPECT_EQ(got, want);
}

TEST(Generate, InvalidOptionsAreClearErrors) {
  loom::Session s(stories(), {.ctx_size = 32});
  const auto ids = prompt_ids(stories(), "Hi");
  auto o = sampled(1, 4);
  o.sampling.top_p = 1.5f;
  try {
    loom::generate(s, ids, o);
    FAIL() << "no error";
  } catch (const loom::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("top_p"));
    EXPECT_THAT(e.what(), HasSubstr("(0, 1]"));
  }
  o = sampled(1, 4);
  o.stop = {""};
  EXPECT_THROW(loom::generate(s, ids, o), loom::Error);
}

TEST(StopStrings, HoldsBackAPossibleStartAndReleasesItAtTheEnd) {
  loom::StopStringFilter f({"</s>", "STOP"});
  EXPECT_EQ(f.push("Hello <"), "Hello ");
  EXPECT_EQ(f.push("/"), "");
  EXPECT_EQ(f.push("x"), "</x");
  EXPECT_EQ(f.push("ST"), "");
  EXPECT_EQ(f.finish(""), "ST");
  EXPECT_FALSE(f.stopped());

  loom::StopStringFilter g({"STOP"});
  EXPECT_EQ(g.push("abcST"), "abc");
  EXPECT_EQ(g.push("OPdef"), "");
  EXPECT_TRUE(g.stopped());
  EXPECT_EQ(g.push("more"), "");
}

TEST(TextStream, NeverSplitsAMultiByteCharacter) {
  const loom::Tokenizer& tok = llama2().tokenizer();
  const std::string text = "naïve ☃ snowman 𝄞 clef";
  const auto ids = tok.encode(text, false);
  loom::TextStream stream(tok);
  std::string joined;
  for (int id : ids) {
    const std::string piece(stream.push(id));
    // Every piece is whole UTF-8: no piece ends inside a character.
    for (size_t i = 0; i < piece.size();) {
      const auto c = static_cast<unsigned char>(piece[i]);
      const size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      ASSERT_LE(i + len, piece.size()) << "split character in piece '" << piece << "'";
      i += len;
    }
    joined += piece;
  }
  joined += stream.flush();
  EXPECT_EQ(joined, text);
}

TEST(SamplerDefaults, FollowGenerationConfigOrLlamaCpp) {
  // stories260K's generation_config.json says do_sample false: transformers' greedy.
  const loom::SamplerParams st = loom::sampler_defaults(stories().config());
  EXPECT_EQ(st.temperature, 0.0f);
  EXPECT_EQ(st.chain, loom::hf_order());
  // The llama2 fixture's generation_config.json has only token ids: llama.cpp's defaults.
  const loom::SamplerParams ll = loom::sampler_defaults(llama2().config());
  EXPECT_EQ(ll.temperature, 0.8f);
  EXPECT_EQ(ll.top_k, 40);
  EXPECT_EQ(ll.top_p, 0.95f);
  EXPECT_EQ(ll.min_p, 0.05f);
  EXPECT_EQ(ll.chain, loom::llamacpp_order());
  // do_sample true with nothing else: transformers' own defaults (top_k 50).
  loom::ModelConfig c;
  c.generation.has_sampling_keys = true;
  c.generation.do_sample = true;
  c.generation.temperature = 0.6f;
  c.generation.top_p = 0.9f;
  const loom::SamplerParams hf = loom::sampler_defaults(c);
  EXPECT_EQ(hf.temperature, 0.6f);
  EXPECT_EQ(hf.top_k, 50);
  EXPECT_EQ(hf.top_p, 0.9f);
  EXPECT_EQ(hf.min_p, 0.0f);
  EXPECT_EQ(hf.repeat_last_n, -1);
}

}  // namespace
