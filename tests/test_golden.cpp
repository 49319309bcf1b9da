// Every golden in ../shared/fixtures/golden: logits and greedy ids against transformers.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "loom/loom.h"
#include "model/rope_freq.h"

namespace {

using nlohmann::json;
const std::string kShared = LOOM_SHARED_DIR;

json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  return json::parse(in);
}

struct GoldenCase {
  std::string golden;  // file under fixtures/golden
  std::string model;   // folder
};

class Golden : public ::testing::TestWithParam<GoldenCase> {};

constexpr double kTol = 1e-3;

TEST_P(Golden, LogitsAndGreedy) {
  const GoldenCase& gc = GetParam();
  const json g = read_json(kShared + "/fixtures/golden/" + gc.golden);
  const loom::Model model = loom::Model::load(gc.model);
  const int vocab = model.config().vocab_size;
  ASSERT_EQ(vocab, g["vocab_size"].get<int>());

  // RoPE frequencies, scaling included.
  auto inv = loom::model::rope_inv_freq(model.config().rope, model.config().head_dim);
  auto want_inv = g["inv_freq"].get<std::vector<double>>();
  ASSERT_EQ(inv.size(), want_inv.size());
  for (size_t i = 0; i < inv.size(); ++i) EXPECT_NEAR(inv[i], want_inv[i], 1e-6 * want_inv[i]);

  double worst = 0;
  for (const json& c : g["cases"]) {
    SCOPED_TRACE(c["prompt"].get<std::string>());
    const auto ids = c["ids"].get<std::vector<int>>();
    if (c["prompt"].get<std::string>()[0] != '<') {
      EXPECT_EQ(model.tokenizer().encode(c["prompt"].get<std::string>(), true), ids);
    }
    loom::Session session(model, {.ctx_size = 512, .threads = 2});
    const std::vector<float> all = session.prefill_all_logits(ids);
    const size_t n = ids.size();

    // Full rows where the golden has them, top-5 at every position, the whole last row.
    double err = 0;
    if (c.contains("all_logits")) {
      const auto& rows = c["all_logits"];
      for (size_t p = 0; p < n; ++p)
        for (int v = 0; v < vocab; ++v)
          err = std::max(err, std::abs(all[p * vocab + v] - rows[p][v].get<double>()));
    }
    for (size_t p = 0; p < n; ++p) {
      for (int k = 0; k < 5; ++k) {
        int id = c["top5_ids"][p][k].get<int>();
        err = std::max(err, std::abs(all[p * vocab + id] - c["top5_logits"][p][k].get<double>()));
      }
    }
    const auto last = c["last_logits"].get<std::vector<double>>();
    for (int v = 0; v < vocab; ++v)
      err = std::max(err, std::abs(all[(n - 1) * vocab + v] - last[v]));
    EXPECT_LT(err, kTol);
    worst = std::max(worst, err);

    if (!c.contains("greedy_ids")) continue;
    const auto want = c["greedy_ids"].get<std::vector<int>>();
    const auto margins = c["greedy_margins"].get<std::vector<double>>();
    session.reset();
    loom::GenerateOptions go{.max_tokens = static_cast<int>(want.size()),
                             .ignore_eos = true,
                             .sampling = loom::SamplerParams::greedy()};
    const auto got = loom::generate(session, ids, go).ids;
    ASSERT_EQ(got.size(), want.size());
    size_t checked = 0;
    for (; checked < want.size() && margins[checked] >= 1e-3; ++checked) {
      ASSERT_EQ(got[checked], want[checked]) << "greedy step " << checked;
    }
    // At least the steps before the first near-tie matched.
    EXPECT_GT(checked, 0u);
  }
  std::printf("[ golden ] %s: max |logit - transformers| = %.3g\n", gc.golden.c_str(), worst);
}

INSTANTIATE_TEST_SUITE_P(
    AllCheckpoints, Golden,
    ::testing::Values(GoldenCase{"stories260K.json", kShared + "/models/stories260K"},
                      GoldenCase{"llama2-gqa-bf16.json", kShared + "/fixtures/llama2-gqa-bf16"},
                      GoldenCase{"llama3-rope-f16.json", kShared + "/fixtures/llama3-rope-f16"}),
    [](const auto& info) {
      std::string s = info.param.golden.substr(0, info.param.golden.find('.'));
      for (char& ch : s)
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return s;
    });

}  // namespace
