// Session behaviour: prefill/decode consistency, thread and batch invariance, reset, and the
// llama2.c reference text for stories260K.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "loom/loom.h"

namespace {

const std::string kShared = LOOM_SHARED_DIR;
const loom::SamplerParams kGreedy = loom::SamplerParams::greedy();

const loom::Model& gqa_model() {
  static const loom::Model m = loom::Model::load(kShared + "/fixtures/llama2-gqa-bf16");
  return m;
}

std::vector<int> some_ids(int n, int vocab) {
  std::vector<int> ids{1};
  for (int i = 1; i < n; ++i) ids.push_back((i * 7919 + 13) % vocab);
  return ids;
}

// Prefill of a prefix, then one decode step per remaining token, gives the logits one prefill of
// the whole sequence gives, up to the rounding of summing in another order (decode's products sum
// eight partial sums, a prompt's one chain in k order), and the same argmax.
TEST(Session, PrefillThenDecodeMatchesOnePrefill) {
  const loom::Model& model = gqa_model();
  const int vocab = model.config().vocab_size;
  const auto ids = some_ids(40, vocab);

  loom::Session whole(model,
                      {.ctx_size = 64, .threads = 2, .bf16_prompts = loom::Bf16Prompts::Exact});
  const std::vector<float> all = whole.prefill_all_logits(ids);

  loom::Session steps(model,
                      {.ctx_size = 64, .threads = 2, .bf16_prompts = loom::Bf16Prompts::Exact});
  std::span<const float> got = steps.prefill(std::span(ids).first(10));
  for (size_t p = 9; p < ids.size(); ++p) {
    if (p > 9) got = steps.decode(ids[p]);
    const float* want = all.data() + p * vocab;
    float scale = 0;
    for (int v = 0; v < vocab; ++v) scale = std::max(scale, std::fabs(want[v]));
    for (int v = 0; v < vocab; ++v) {
      ASSERT_NEAR(got[v], want[v], 1e-5f * scale) << "position " << p << ", token " << v;
    }
    ASSERT_EQ(std::max_element(got.begin(), got.end()) - got.begin(),
              std::max_element(want, want + vocab) - want)
        << "position " << p;
  }
  EXPECT_EQ(steps.position(), 40);
}

TEST(Session, ThreadCountAndBatchSizeDoNotChangeLogits) {
  const loom::Model& model = gqa_model();
  const auto ids = some_ids(70, model.config().vocab_size);
  loom::Session ref(model, {.ctx_size = 128, .threads = 1});
  const std::vector<float> want = ref.prefill_all_logits(ids);
  for (int threads : {2, 3, 5}) {
    for (int batch : {1, 7, 64, 512}) {
      loom::Session s(model, {.ctx_size = 128, .threads = threads, .batch_size = batch});
      EXPECT_EQ(s.prefill_all_logits(ids), want) << threads << " threads, batch " << batch;
    }
  }
}

// A 16-bit KV cache: half the bytes, the same invariances (decode = prefill bit for bit is not
// claimed, only the f32 bound above; thread count and batch size change nothing).
TEST(Session, KvTypeHalvesTheCacheAndKeepsTheInvariances) {
  const loom::Model& model = gqa_model();
  const int vocab = model.config().vocab_size;
  const auto ids = some_ids(40, vocab);
  loom::Session f32(model, {.ctx_size = 64});
  EXPECT_EQ(f32.kv_type(), loom::DType::F32);
  const size_t f32_bytes = 2ull * model.config().n_layers * model.config().kv_dim() * 64 * 4;
  EXPECT_EQ(f32.kv_cache_bytes(), f32_bytes);
  for (loom::DType t : {loom::DType::F16, loom::DType::BF16}) {
    SCOPED_TRACE(loom::dtype_name(t));
    loom::Session one(
        model,
        {.ctx_size = 64, .threads = 1, .kv_type = t, .bf16_prompts = loom::Bf16Prompts::Exact});
    EXPECT_EQ(one.kv_type(), t);
    EXPECT_EQ(one.kv_cache_bytes(), f32_bytes / 2);
    const std::vector<float> want = one.prefill_all_logits(ids);
    for (int threads : {2, 3}) {
      for (int batch : {1, 7}) {
        loom::Session s(model, {.ctx_size = 64,
                                .threads = threads,
                                .batch_size = batch,
                                .kv_type = t,
                                .bf16_prompts = loom::Bf16Prompts::Exact});
        EXPECT_EQ(s.prefill_all_logits(ids), want) << threads << " threads, batch " << batch;
      }
    }
    // Decoding reads what prefill wrote: the same logits up to the products' summation order.
    loom::Session steps(
        model,
        {.ctx_size = 64, .threads = 2, .kv_type = t, .bf16_prompts = loom::Bf16Prompts::Exact});
    steps.prefill(std::span(ids).first(39));
    const std::span<const float> got = steps.decode(ids[39]);
    const float* last = want.data() + 39 * vocab;
    float scale = 0;
    for (int v = 0; v < vocab; ++v) scale = std::max(scale, std::fabs(last[v]));
    for (int v = 0; v < vocab; ++v) ASSERT_NEAR(got[v], last[v], 1e-5f * scale) << v;
  }
}

TEST(Session, BadKvTypeAndTooLargeCacheAreClearErrors) {
  const loom::Model& model = gqa_model();
  try {
    loom::Session s(model, {.kv_type = loom::DType::Q8_0});
    FAIL() << "q8_0 accepted";
  } catch (const loom::Error& e) {
    EXPECT_STREQ(e.what(), "kv_type must be f32, f16 or bf16, got q8_0");
  }
  // The refusal names the cache's real size: 2 bytes an element for f16.
  const int ctx = std::numeric_limits<int>::max();
  const double f16_bytes = 2.0 * model.config().n_layers * model.config().kv_dim() * ctx * 2;
  const std::string gib = std::to_string(f16_bytes / (1u << 30)).substr(0, 6) + " GiB (f16)";
  try {
    loom::Session s(model, {.ctx_size = ctx, .kv_type = loom::DType::F16});
    FAIL() << "a cache of " << gib << " accepted";
  } catch (const loom::Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs a KV cache of " + gib), std::string::npos)
        << e.what();
  }
}

TEST(Session, ResetStartsOver) {
  const loom::Model& model = gqa_model();
  const auto ids = some_ids(12, model.config().vocab_size);
  loom::Session s(model, {.ctx_size = 32});
  const auto logits = s.prefill(ids);
  const std::vector<float> first(logits.begin(), logits.end());
  s.reset();
  EXPECT_EQ(s.position(), 0);
  const auto again = s.prefill(ids);
  EXPECT_EQ(std::vector<float>(again.begin(), again.end()), first);
  EXPECT_EQ(s.position(), 12);
}

TEST(Session, ContextDefaultsToModelLengthCapped) {
  loom::Session s(gqa_model());
  EXPECT_EQ(s.ctx_size(), 2048);  // max_position_embeddings 2048 < the 4096 cap
  EXPECT_GT(s.threads(), 0);
}

TEST(Generate, StopsAtMaxTokensAndReportsIt) {
  const loom::Model& model = gqa_model();
  loom::Session s(model, {.ctx_size = 64});
  const auto r = loom::generate(s, some_ids(5, 100),
                                {.max_tokens = 7, .ignore_eos = true, .sampling = kGreedy});
  EXPECT_EQ(r.ids.size(), 7u);
  EXPECT_EQ(r.stop, loom::StopReason::MaxTokens);
  EXPECT_EQ(r.n_decoded, 6);
}

TEST(Generate, StopsWhenTheContextIsFull) {
  const loom::Model& model = gqa_model();
  loom::Session s(model, {.ctx_size = 16});
  const auto r = loom::generate(s, some_ids(5, 100),
                                {.max_tokens = 100, .ignore_eos = true, .sampling = kGreedy});
  EXPECT_EQ(r.stop, loom::StopReason::ContextFull);
  EXPECT_EQ(s.position(), 16);
  EXPECT_EQ(r.ids.size(), 12u);  // 16 - 5 evaluated, plus the one sampled from the last logits
}

TEST(Generate, CallbackCanStop) {
  loom::Session s(gqa_model(), {.ctx_size = 64});
  int seen = 0;
  const auto r = loom::generate(s, some_ids(5, 100),
                                {.max_tokens = 20, .ignore_eos = true, .sampling = kGreedy},
                                [&](const loom::TokenEvent&) { return ++seen < 3; });
  EXPECT_EQ(r.stop, loom::StopReason::Callback);
  EXPECT_EQ(r.ids.size(), 3u);
}

// llama2.c's run.c, temperature 0, 256 steps, prompt "Once upon a time": it prints the prompt
// after BOS and 252 generated tokens, then a newline.
TEST(Llama2c, StoriesGreedyTextMatches) {
  const std::string dir = kShared + "/models/stories260K-llama2c";
  std::ifstream in(dir + "/greedy_once_upon_a_time_n256.txt");
  ASSERT_TRUE(in) << dir;
  std::stringstream want;
  want << in.rdbuf();

  const loom::Model model = loom::Model::load(kShared + "/models/stories260K");
  loom::Session s(model, {.ctx_size = 256});
  const std::string prompt = "Once upon a time";
  const auto ids = model.tokenizer().encode(prompt, true);
  ASSERT_EQ(ids.size(), 5u);
  const auto r =
      loom::generate(s, ids, {.max_tokens = 256 - 4, .ignore_eos = true, .sampling = kGreedy});
  EXPECT_EQ(prompt + r.text + "\n", want.str());
}

}  // namespace
