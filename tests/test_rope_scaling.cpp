// RoPE yarn and dynamic (NTK) scaling against Hugging Face transformers' own rotary embedding
// (tests/data/rope_reference.json, written by scripts/rope_reference.py on the device), and
// what they do in a session: yarn's attention factor, dynamic's per-call frequencies.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "io/hf_config.h"
#include "loom/loom.h"
#include "model/rope_freq.h"
#include "support/checkpoint_writer.h"

namespace {

namespace fs = std::filesystem;
using loom::test::json;
using loom::test::TempDir;

const std::string kShared = LOOM_SHARED_DIR;
const fs::path kStories = kShared + "/models/stories260K";

const json& reference() {
  static const json j =
      loom::test::read_json(std::string(LOOM_SOURCE_DIR) + "/tests/data/rope_reference.json");
  return j;
}

// fp32 pow and division in torch against ours (each rounded once from double): a few ulp of the
// frequency, amplified by log(base) where the base itself is an fp32 result (dynamic). Measured
// at most 2.2e-7 (two ulp) over these cases.
constexpr double kFreqTol = 5e-7;
// cos and sin at position p: the angle p * inv_freq carries the frequency's error times p, and
// torch's fp32 cos/sin and the factor's product a few ulp more.
double trig_tol(double p, double inv, double factor) {
  return factor * (p * inv * kFreqTol + 3e-7);
}

// Every case, every call: the frequencies transformers used in that call (dynamic ones change
// between calls as in one generate()), its attention scaling, and the cos/sin of the call's last
// position.
TEST(RopeReference, MatchesTransformers) {
  const json& ref = reference();
  std::printf("[ rope ] reference from transformers %s, torch %s\n",
              ref["transformers"].get<std::string>().c_str(),
              ref["torch"].get<std::string>().c_str());
  ASSERT_GE(ref["cases"].size(), 8u);
  for (const json& c : ref["cases"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    // The RoPE keys are read alike for every model_type (Qwen2's rotary embedding is Llama's).
    json config = c["config"];
    config["model_type"] = "llama";
    const loom::ModelConfig cfg = loom::io::parse_hf_config(config.dump(), name);
    const bool dynamic = cfg.rope.scaling == loom::RopeScalingType::Dynamic;
    EXPECT_EQ(cfg.rope.scaling, name.starts_with("yarn") ? loom::RopeScalingType::Yarn
                                                         : loom::RopeScalingType::Dynamic);
    loom::model::DynamicRope dyn(cfg.rope, cfg.head_dim);
    double worst_freq = 0, worst_trig = 0;
    for (const json& call : c["calls"]) {
      const int pos0 = call["pos0"], n = call["n"];
      SCOPED_TRACE(testing::Message() << "call at " << pos0 << " of " << n);
      dyn.update(pos0 + n);
      const std::vector<float> inv =
          dynamic ? dyn.inv_freq() : loom::model::rope_inv_freq(cfg.rope, cfg.head_dim);
      const auto want = call["inv_freq"].get<std::vector<double>>();
      ASSERT_EQ(inv.size(), want.size());
      for (size_t i = 0; i < inv.size(); ++i) {
        const double rel = std::fabs(inv[i] - want[i]) / want[i];
        worst_freq = std::max(worst_freq, rel);
        EXPECT_LE(rel, kFreqTol) << "i=" << i << ": " << inv[i] << " vs " << want[i];
      }
      const double factor = call["attention_scaling"];
      EXPECT_NEAR(loom::model::rope_attention_factor(cfg.rope), factor, 1e-7 * factor);

      const int p = pos0 + n - 1;
      std::vector<float> cs(inv.size()), sn(inv.size());
      loom::model::rope_rows(inv, loom::model::rope_attention_factor(cfg.rope), p, 1, cs.data(),
                             sn.data());
      const auto want_cos = call["cos_last"].get<std::vector<double>>();
      const auto want_sin = call["sin_last"].get<std::vector<double>>();
      for (size_t i = 0; i < inv.size(); ++i) {
        const double tol = trig_tol(p, want[i], factor);
        const double err = std::max(std::fabs(cs[i] - want_cos[i]), std::fabs(sn[i] - want_sin[i]));
        worst_trig = std::max(worst_trig, err / tol);
        EXPECT_LE(err, tol) << "i=" << i << " at position " << p;
      }
    }
    std::printf("[ rope ] %-24s inv_freq max rel err %.2g, cos/sin max err %.2f of tolerance\n",
                name.c_str(), worst_freq, worst_trig);
  }
}

// The reference's configs: what each exercises is actually there.
TEST(RopeReference, CoversTheParameters) {
  std::vector<std::string> names;
  for (const json& c : reference()["cases"]) names.push_back(c["name"]);
  for (const char* want :
       {"yarn_qwen25", "yarn_small", "yarn_mscale_notruncate", "yarn_attention_factor",
        "yarn_rope_parameters", "dynamic_small", "dynamic_original_max", "dynamic_hd128"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  }
}

// --- config errors ---

json rope_config(const json& scaling) {
  return {{"model_type", "llama"},          {"hidden_size", 64},        {"intermediate_size", 128},
          {"num_hidden_layers", 1},         {"num_attention_heads", 4}, {"vocab_size", 100},
          {"max_position_embeddings", 256}, {"rope_scaling", scaling}};
}

std::string error_of(const json& scaling) {
  try {
    loom::io::parse_hf_config(rope_config(scaling).dump(), "config.json");
  } catch (const loom::Error& e) {
    return e.what();
  }
  return "";
}

TEST(RopeConfigErrors, UnsupportedTypesAndBadValuesAreNamed) {
  EXPECT_EQ(error_of({{"rope_type", "longrope"}, {"short_factor", {1}}, {"long_factor", {1}}}),
            "config.json: rope_scaling: rope type 'longrope' is not supported (supported: default, "
            "linear, llama3, yarn, dynamic)");
  EXPECT_EQ(error_of({{"type", "dynamic"}}),
            "config.json: rope_scaling: missing required key 'factor'");
  EXPECT_NE(error_of({{"type", "dynamic"}, {"factor", -2}}).find("key 'factor' must be a positive"),
            std::string::npos);
  EXPECT_NE(error_of({{"type", "yarn"}, {"factor", 4}, {"beta_fast", "x"}}).find("key 'beta_fast'"),
            std::string::npos);
  EXPECT_NE(error_of({{"type", "yarn"}, {"factor", 4}, {"truncate", 1}}).find("key 'truncate'"),
            std::string::npos);
  EXPECT_NE(error_of({{"type", "yarn"}, {"factor", 4}, {"original_max_position_embeddings", 0}})
                .find("original_max_position_embeddings"),
            std::string::npos);
  EXPECT_EQ(error_of({{"type", "yarn"}, {"factor", 4}}), "");
}

// --- sessions ---

loom::Model load_variant(const TempDir& dir, const std::function<void(json&)>& edit) {
  for (const auto& e : fs::directory_iterator(kStories)) {
    if (e.path().filename() != "config.json") {
      fs::create_symlink(e.path(), dir.path() / e.path().filename());
    }
  }
  json c = loom::test::read_json(kStories / "config.json");
  edit(c);
  loom::test::write_json(dir.path() / "config.json", c);
  return loom::Model::load(dir.path());
}

std::vector<int> some_ids(int n, int vocab) {
  std::vector<int> ids{1};
  for (int i = 1; i < n; ++i) ids.push_back((i * 7919 + 13) % vocab);
  return ids;
}

std::vector<float> all_logits(const loom::Model& m, const std::vector<int>& ids, int batch = 512) {
  loom::Session s(m, {.ctx_size = 2048, .threads = 2, .batch_size = batch});
  return s.prefill_all_logits(ids);
}

// A yarn config loads and runs; its frequencies and attention factor change the logits.
TEST(RopeSession, YarnLoadsAndRuns) {
  TempDir plain_dir, yarn_dir;
  const loom::Model plain = load_variant(plain_dir, [](json&) {});
  const loom::Model yarn = load_variant(yarn_dir, [](json& c) {
    c["rope_scaling"] = {
        {"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 128}};
  });
  EXPECT_EQ(yarn.config().rope.scaling, loom::RopeScalingType::Yarn);
  EXPECT_FLOAT_EQ(loom::model::rope_attention_factor(yarn.config().rope),
                  static_cast<float>(0.1 * std::log(4.0) + 1));
  const auto ids = some_ids(40, plain.config().vocab_size);
  const std::vector<float> a = all_logits(plain, ids), b = all_logits(yarn, ids);
  for (float x : b) ASSERT_TRUE(std::isfinite(x));
  EXPECT_NE(a, b);
}

// Dynamic: within max_position_embeddings (512) the plain model's bits. Beyond it, one call's
// frequencies serve all of its batches (one transformers forward), so the batch size changes
// nothing; a prompt fed in two calls differs from one call, as it does in transformers (its
// first keys keep the rotation they were written with). reset() returns to the original
// frequencies.
TEST(RopeSession, DynamicChangesPerCallAsTransformers) {
  TempDir plain_dir, dyn_dir;
  const loom::Model plain = load_variant(plain_dir, [](json&) {});
  const loom::Model dyn = load_variant(dyn_dir, [](json& c) {
    c["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}};
  });
  const int vocab = plain.config().vocab_size;
  const auto short_ids = some_ids(300, vocab), long_ids = some_ids(700, vocab);
  EXPECT_EQ(all_logits(dyn, short_ids), all_logits(plain, short_ids));

  const std::vector<float> one_call = all_logits(dyn, long_ids);
  EXPECT_EQ(all_logits(dyn, long_ids, 64), one_call);
  // Position 1's row already differs: the whole call used the grown base.
  const std::vector<float> plain_long = all_logits(plain, long_ids);
  EXPECT_NE(std::vector<float>(one_call.begin() + vocab, one_call.begin() + 2 * vocab),
            std::vector<float>(plain_long.begin() + vocab, plain_long.begin() + 2 * vocab));

  loom::Session two(dyn, {.ctx_size = 2048, .threads = 2});
  two.prefill(std::span(long_ids).first(400));
  const auto last = two.prefill(std::span(long_ids).subspan(400));
  const std::vector<float> want_last(one_call.end() - vocab, one_call.end());
  EXPECT_NE(std::vector<float>(last.begin(), last.end()), want_last);

  two.reset();
  const auto again = two.prefill(short_ids);
  const std::vector<float> plain_short = all_logits(plain, short_ids);
  EXPECT_EQ(std::vector<float>(again.begin(), again.end()),
            std::vector<float>(plain_short.end() - vocab, plain_short.end()));
}

}  // namespace
