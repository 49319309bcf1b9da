// Every golden in ../shared/fixtures/golden: logits and greedy ids against transformers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "loom/loom.h"
#include "model/loaded_model.h"
#include "model/rope_freq.h"
#include "simd/cpu.h"
#include "simd/kernels.h"
#include "support/float_checks.h"

namespace {

using loom::test::bits_of;
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

// What a KV cache type does to one checkpoint's outputs, over all its golden cases.
struct Accuracy {
  double max_err = 0;    // max |logit - transformers|: full rows, top-5s, last rows
  double max_logit = 0;  // max |logit| of transformers' top-5s
  int argmax_agree = 0;  // prompt positions whose argmax is the golden's top-1
  int positions = 0;
  int greedy_agree = 0;       // greedy steps equal to transformers' before the first difference
  int greedy_steps = 0;       // of this many
  int greedy_before_tie = 0;  // steps before each case's first near-tie (margin < 1e-3)
  bool greedy_ok = true;      // every step before the first near-tie matched
};

Accuracy measure(const json& g, const loom::Model& model, loom::DType kv_type,
                 loom::Bf16Prompts prompts = loom::Bf16Prompts::Exact,
                 std::vector<float>* logits = nullptr, bool greedy = true) {
  const int vocab = model.config().vocab_size;
  Accuracy a;
  for (const json& c : g["cases"]) {
    SCOPED_TRACE(c["prompt"].get<std::string>());
    const auto ids = c["ids"].get<std::vector<int>>();
    loom::Session session(
        model, {.ctx_size = 512, .threads = 2, .kv_type = kv_type, .bf16_prompts = prompts});
    const std::vector<float> all = session.prefill_all_logits(ids);
    if (logits) logits->insert(logits->end(), all.begin(), all.end());
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
        const double want = c["top5_logits"][p][k].get<double>();
        err = std::max(err, std::abs(all[p * vocab + id] - want));
        a.max_logit = std::max(a.max_logit, std::abs(want));
      }
      const float* row = all.data() + p * vocab;
      a.argmax_agree += std::max_element(row, row + vocab) - row == c["top5_ids"][p][0].get<int>();
      ++a.positions;
    }
    const auto last = c["last_logits"].get<std::vector<double>>();
    for (int v = 0; v < vocab; ++v)
      err = std::max(err, std::abs(all[(n - 1) * vocab + v] - last[v]));
    a.max_err = std::max(a.max_err, err);

    if (!greedy || !c.contains("greedy_ids")) continue;
    const auto want = c["greedy_ids"].get<std::vector<int>>();
    const auto margins = c["greedy_margins"].get<std::vector<double>>();
    session.reset();
    loom::GenerateOptions go{.max_tokens = static_cast<int>(want.size()),
                             .ignore_eos = true,
                             .sampling = loom::SamplerParams::greedy()};
    const auto got = loom::generate(session, ids, go).ids;
    EXPECT_EQ(got.size(), want.size());
    size_t same = 0, before_tie = 0;
    while (same < std::min(got.size(), want.size()) && got[same] == want[same]) ++same;
    while (before_tie < want.size() && margins[before_tie] >= 1e-3) ++before_tie;
    a.greedy_agree += static_cast<int>(same);
    a.greedy_steps += static_cast<int>(want.size());
    a.greedy_before_tie += static_cast<int>(before_tie);
    a.greedy_ok = a.greedy_ok && same >= before_tie;
    if (same < before_tie) {
      std::printf("[ golden ]   %s KV: greedy differs at step %zu (transformers' margin %.3g)\n",
                  loom::dtype_name(kv_type), same, margins[same]);
    }
  }
  return a;
}

class Golden : public ::testing::TestWithParam<GoldenCase> {};

constexpr double kTol = 1e-3;
constexpr double kF16Tol = 0.04;
constexpr double kBf16Tol = 0.35;

TEST_P(Golden, LogitsAndGreedy) {
  const GoldenCase& gc = GetParam();
  const json g = read_json(kShared + "/fixtures/golden/" + gc.golden);
  const loom::Model model = loom::Model::load(gc.model);
  ASSERT_EQ(model.config().vocab_size, g["vocab_size"].get<int>());

  // RoPE frequencies, scaling included.
  auto inv = loom::model::rope_inv_freq(model.config().rope, model.config().head_dim);
  auto want_inv = g["inv_freq"].get<std::vector<double>>();
  ASSERT_EQ(inv.size(), want_inv.size());
  for (size_t i = 0; i < inv.size(); ++i) EXPECT_NEAR(inv[i], want_inv[i], 1e-6 * want_inv[i]);

  for (const json& c : g["cases"]) {
    const auto ids = c["ids"].get<std::vector<int>>();
    if (c["prompt"].get<std::string>()[0] != '<') {
      EXPECT_EQ(model.tokenizer().encode(c["prompt"].get<std::string>(), true), ids);
    }
  }
  const Accuracy a = measure(g, model, loom::DType::F32);
  EXPECT_LT(a.max_err, kTol);
  // Every greedy step before the first near-tie matched, and there were some.
  EXPECT_TRUE(a.greedy_ok);
  EXPECT_GT(a.greedy_before_tie, 0);
  std::printf("[ golden ] %s: max |logit - transformers| = %.3g\n", gc.golden.c_str(), a.max_err);
}

// A 16-bit KV cache rounds every key and value once, as written: by up to 2^-11 of the value
// (f16) or 2^-8 (bf16), where the f32 path's 1e-3 bound covers rounding of 2^-24 per operation.
// So neither meets 1e-3; their bounds come from the figures measured here (docs/performance.md,
// "KV cache type"), against transformers in fp32:
// - f16: worst 0.020 (stories260K, 0.1% of its largest logit); bound 0.04, argmax agreement at
//   >= 99% of positions and the greedy text equal up to each case's first near-tie. Transformers
//   itself, run in fp16, is off by 0.03-0.05 (golden/native-dtype-error.json).
// - bf16: 8 times coarser steps, measured 6-11 times the f16 error (worst 0.22); bound 0.35 (8x
//   f16's, inside transformers' own 0.26-0.36 in bf16), argmax agreement at >= 95% (measured
//   97.7-99.6%; transformers in bf16: 92-98%), and no greedy-text requirement: one llama2-gqa
//   case takes another token at step 5, where transformers' own margin is 0.009.
TEST_P(Golden, KvCacheTypes) {
  const GoldenCase& gc = GetParam();
  const json g = read_json(kShared + "/fixtures/golden/" + gc.golden);
  const loom::Model model = loom::Model::load(gc.model);
  for (loom::DType t : {loom::DType::F32, loom::DType::F16, loom::DType::BF16}) {
    SCOPED_TRACE(loom::dtype_name(t));
    const Accuracy a = measure(g, model, t);
    std::printf(
        "[ golden ] %s, %s KV: max |logit err| %.3g (max |logit| %.3g), argmax agrees at %d/%d "
        "positions, greedy %d/%d steps before the first difference (%d before the first "
        "near-tie)\n",
        gc.golden.c_str(), loom::dtype_name(t), a.max_err, a.max_logit, a.argmax_agree, a.positions,
        a.greedy_agree, a.greedy_steps, a.greedy_before_tie);
    switch (t) {
      case loom::DType::F32:
        EXPECT_LT(a.max_err, kTol);
        EXPECT_TRUE(a.greedy_ok);
        break;
      case loom::DType::F16:
        EXPECT_LT(a.max_err, kF16Tol);
        EXPECT_GE(a.argmax_agree, 0.99 * a.positions);
        EXPECT_TRUE(a.greedy_ok);
        break;
      default:
        EXPECT_LT(a.max_err, kBf16Tol);
        EXPECT_GE(a.argmax_agree, 0.95 * a.positions);
    }
  }
}

// Bf16Prompts::Bf16Activations rounds the activations of prompts' products with bf16 weights
// to bf16, where the CPU has AVX-512 BF16. Elsewhere, and on checkpoints without bf16 weights,
// it must change nothing: the logits are the exact path's bit for bit. On the bf16 checkpoint
// (llama2-gqa-bf16, random weights) with the fast kernel the error against transformers' fp32
// logits measured 0.162 with argmax agreement at 385/394 positions (docs/performance.md): under
// half of transformers' own error in bf16 there (0.36, 92.4% agreement,
// golden/native-dtype-error.json) and under what a bf16 KV cache costs on it (0.22), but not the
// tenfold margin fp32 sums alone would suggest: this random-weight checkpoint amplifies any
// rounding of its activations, and every product's input is rounded. It is the default (Auto)
// only where it is much faster (AMD Zen 4/5); the goldens above hold the Exact path. Bounds:
// kBf16ActsTol = 0.2 (measured plus a quarter, still under kBf16Tol and transformers' 0.36) and
// argmax agreement at >= 97% of positions.
constexpr double kBf16ActsTol = 0.2;

TEST_P(Golden, Bf16Activations) {
  const GoldenCase& gc = GetParam();
  const json g = read_json(kShared + "/fixtures/golden/" + gc.golden);
  const loom::Model model = loom::Model::load(gc.model);
  const bool applies = loom::simd::kernels().gemm_bf16_acts != nullptr &&
                       loom::detail::loaded(model).weights.layers[0].wq.dtype == loom::DType::BF16;
  std::vector<float> exact, fast, automatic;
  measure(g, model, loom::DType::F32, loom::Bf16Prompts::Exact, &exact, false);
  const Accuracy a =
      measure(g, model, loom::DType::F32, loom::Bf16Prompts::Bf16Activations, &fast, false);
  // Auto is one of the two, bit for bit: bf16 activations exactly where they pay.
  measure(g, model, loom::DType::F32, loom::Bf16Prompts::Auto, &automatic, false);
  const std::vector<float>& want_auto = loom::simd::bf16_dot_pays() ? fast : exact;
  ASSERT_EQ(automatic.size(), want_auto.size());
  EXPECT_EQ(std::memcmp(automatic.data(), want_auto.data(), automatic.size() * sizeof(float)), 0);
  std::printf("[ golden ] %s, bf16 activations (%s): max |logit err| %.3g, argmax %d/%d\n",
              gc.golden.c_str(), applies ? "AVX-512 BF16 kernel" : "no effect here", a.max_err,
              a.argmax_agree, a.positions);
  ASSERT_EQ(fast.size(), exact.size());
  if (!applies) {
    size_t at = 0;
    while (at < exact.size() && bits_of(exact[at]) == bits_of(fast[at])) ++at;
    EXPECT_EQ(at, exact.size()) << "logit " << at << " moved";
    return;
  }
  EXPECT_LT(a.max_err, kBf16ActsTol);
  EXPECT_GE(a.argmax_agree, 0.97 * a.positions);
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
