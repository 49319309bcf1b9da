// Sliding-window attention in a whole model: which configs have a window, that it applies from
// exactly its length on, that the bounded ring cache gives the bits a whole cache gives, that
// memory does not grow with the context, and truncation within and beyond what the ring holds.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "io/hf_config.h"
#include "loom/loom.h"
#include "model/kv_cache.h"
#include "support/checkpoint_writer.h"

namespace {

namespace fs = std::filesystem;
using loom::test::json;
using loom::test::TempDir;

const std::string kShared = LOOM_SHARED_DIR;
const fs::path kStories = kShared + "/models/stories260K";

// stories260K's files linked into DIR, with its config.json edited by EDIT.
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

void mistral(json& c, int window) {
  c["model_type"] = "mistral";
  c["architectures"] = {"MistralForCausalLM"};
  c["sliding_window"] = window;
}

std::vector<int> some_ids(int n, int vocab) {
  std::vector<int> ids{1};
  for (int i = 1; i < n; ++i) ids.push_back((i * 7919 + 13) % vocab);
  return ids;
}

std::vector<float> row(const std::vector<float>& all, int p, int vocab) {
  return {all.begin() + static_cast<long>(p) * vocab,
          all.begin() + static_cast<long>(p + 1) * vocab};
}

// --- which configs have a window (transformers' config classes) ---

loom::ModelConfig parse(const json& c) {
  return loom::io::parse_hf_config(c.dump(), "config.json");
}

json base_config(const std::string& model_type) {
  return {{"model_type", model_type}, {"hidden_size", 64},        {"intermediate_size", 128},
          {"num_hidden_layers", 4},   {"num_attention_heads", 4}, {"vocab_size", 100}};
}

TEST(SlidingWindowConfig, MistralDefaultsTo4096AndNullTurnsItOff) {
  json c = base_config("mistral");
  EXPECT_EQ(parse(c).sliding_window, 4096);  // MistralConfig's default
  c["sliding_window"] = 100;
  const loom::ModelConfig m = parse(c);
  EXPECT_EQ(m.sliding_window, 100);
  for (int l = 0; l < 4; ++l) EXPECT_EQ(m.window_of(l), 100);
  c["sliding_window"] = nullptr;  // Mistral 7B v0.2 and later
  EXPECT_EQ(parse(c).sliding_window, 0);
  EXPECT_EQ(parse(c).window_of(0), 0);
  c["sliding_window"] = 0;
  EXPECT_THROW(parse(c), loom::Error);
}

TEST(SlidingWindowConfig, LlamaHasNone) {
  json c = base_config("llama");
  c["sliding_window"] = 16;  // LlamaConfig has no such key: transformers ignores it
  EXPECT_EQ(parse(c).window_of(0), 0);
}

// Qwen2/Qwen3: only with use_sliding_window, on layer_types' sliding layers or on the layers from
// max_window_layers on. Skipped while this build does not run model_type qwen2.
TEST(SlidingWindowConfig, QwenUsesLayerTypesOrMaxWindowLayers) {
  json c = base_config("qwen2");
  try {
    parse(c);
  } catch (const loom::Error& e) {
    GTEST_SKIP() << "model_type qwen2 is not supported in this build: " << e.what();
  }
  c["sliding_window"] = 32;
  EXPECT_EQ(parse(c).window_of(3), 0);  // use_sliding_window false: Qwen2Config drops it
  c["use_sliding_window"] = true;
  c["max_window_layers"] = 2;
  loom::ModelConfig m = parse(c);
  EXPECT_EQ(m.window_of(1), 0);
  EXPECT_EQ(m.window_of(2), 32);
  EXPECT_EQ(m.window_of(3), 32);
  c["layer_types"] = {"sliding_attention", "full_attention", "sliding_attention", "full_attention"};
  m = parse(c);
  EXPECT_EQ(m.window_of(0), 32);
  EXPECT_EQ(m.window_of(1), 0);
  EXPECT_EQ(m.window_of(2), 32);
  c["layer_types"] = {"sliding_attention"};
  EXPECT_THROW(parse(c), loom::Error);
  c["layer_types"] = {"full_attention", "full_attention", "chunked_attention", "full_attention"};
  try {
    parse(c);
    FAIL() << "an unknown layer type accepted";
  } catch (const loom::Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer_types[2] is \"chunked_attention\""),
              std::string::npos)
        << e.what();
  }
}

// Windowed layers get a ring of window + batch - 1 slots rounded up to the attention span, never
// more than the context; the others the whole context (a Qwen2 model with full layers below
// max_window_layers).
TEST(SlidingWindowConfig, SlotsPerLayer) {
  loom::ModelConfig c;
  c.n_layers = 3;
  c.sliding_window = 100;
  c.sliding_layers = {false, true, true};
  EXPECT_EQ(loom::model::KvCache::layer_slots(c, 4096, 64), (std::vector<int>{4096, 256, 256}));
  EXPECT_EQ(loom::model::KvCache::layer_slots(c, 200, 64), (std::vector<int>{200, 200, 200}));
  EXPECT_EQ(loom::model::kv_slots(1 << 20, 4096, 512), 4608);  // Mistral 7B v0.1
  EXPECT_EQ(loom::model::kv_slots(1 << 20, 100, 157), 256);
  EXPECT_EQ(loom::model::kv_slots(1 << 20, 100, 158), 512);
  EXPECT_EQ(loom::model::kv_slots(1 << 20, 0, 512), 1 << 20);
}

// --- sessions ---

// Positions before the window's length see every key, as without a window: the same bits. At
// position W the window drops key 0, and every later row differs.
TEST(SlidingWindow, AppliesFromExactlyItsLength) {
  const int w = 24, n = 80;
  TempDir plain_dir, windowed_dir;
  const loom::Model plain = load_variant(plain_dir, [](json&) {});
  const loom::Model windowed = load_variant(windowed_dir, [&](json& c) { mistral(c, w); });
  EXPECT_EQ(windowed.config().sliding_window, w);
  const int vocab = plain.config().vocab_size;
  const auto ids = some_ids(n, vocab);
  loom::Session a(plain, {.ctx_size = n, .threads = 2});
  loom::Session b(windowed, {.ctx_size = n, .threads = 2});
  const std::vector<float> pa = a.prefill_all_logits(ids), pb = b.prefill_all_logits(ids);
  for (int p = 0; p < n; ++p) {
    if (p < w) {
      EXPECT_EQ(row(pa, p, vocab), row(pb, p, vocab)) << "position " << p;
    } else {
      EXPECT_NE(row(pa, p, vocab), row(pb, p, vocab)) << "position " << p;
    }
  }
}

// A ring of 256 or 512 slots (batches of 16 or 300, window 40) gives the logits a cache holding
// every position gives, bit for bit, in prefill and in decode steps past several wraps.
TEST(SlidingWindow, RingGivesTheWholeCachesLogits) {
  const int w = 40, n = 600, steps = 40;
  TempDir dir;
  const loom::Model model = load_variant(dir, [&](json& c) { mistral(c, w); });
  const int vocab = model.config().vocab_size;
  const auto ids = some_ids(n + steps, vocab);
  const std::span<const int> prompt = std::span(ids).first(n);

  // ctx = batch = n + steps: fewer positions than a ring would need, so every one is kept.
  loom::Session whole(model, {.ctx_size = n + steps, .threads = 2, .batch_size = n + steps});
  const size_t layer_bytes = 2ull * model.config().kv_dim() * 4;
  ASSERT_EQ(whole.kv_cache_bytes(), layer_bytes * model.config().n_layers * (n + steps));
  const std::vector<float> want = whole.prefill_all_logits(prompt);
  std::vector<std::vector<float>> want_steps;
  for (int i = n; i < n + steps; ++i) {
    const auto l = whole.decode(ids[i]);
    want_steps.emplace_back(l.begin(), l.end());
  }
  for (const auto& [batch, slots] : {std::pair{16, 256}, std::pair{300, 512}}) {
    SCOPED_TRACE(testing::Message() << "batch " << batch);
    loom::Session ring(model, {.ctx_size = 4096, .threads = 2, .batch_size = batch});
    EXPECT_EQ(ring.kv_cache_bytes(), layer_bytes * model.config().n_layers * slots);
    EXPECT_EQ(ring.prefill_all_logits(prompt), want);
    for (int i = n; i < n + steps; ++i) {
      const auto l = ring.decode(ids[i]);
      ASSERT_EQ(std::vector<float>(l.begin(), l.end()), want_steps[i - n]) << "position " << i;
    }
  }
}

// The cache's size does not depend on the context; a session runs far beyond the window (and
// beyond the ring's slots many times over).
TEST(SlidingWindow, MemoryIsBoundedAtAnyContext) {
  TempDir dir;
  const loom::Model model = load_variant(dir, [](json& c) { mistral(c, 100); });
  const loom::SessionOptions o{.threads = 2, .batch_size = 64};
  loom::SessionOptions small = o, huge = o;
  small.ctx_size = 4096;
  huge.ctx_size = 1 << 22;
  loom::Session a(model, small), b(model, huge);
  // 100 + 64 - 1 rounded up to the span, 256 slots of 5 layers x 4 KV heads x 8 floats, K and V.
  EXPECT_EQ(a.kv_cache_bytes(), 2ull * 5 * 32 * 256 * 4);
  EXPECT_EQ(b.kv_cache_bytes(), a.kv_cache_bytes());
  EXPECT_EQ(b.ctx_size(), 1 << 22);
  const auto ids = some_ids(3000, model.config().vocab_size);
  b.prefill(ids);
  const auto l = b.decode(5);
  for (float x : l) ASSERT_TRUE(std::isfinite(x));
  EXPECT_EQ(b.position(), 3001);
}

// Truncating within what the ring still holds continues exactly as a fresh session would; further
// back is a clear error, not a silent use of overwritten keys.
TEST(SlidingWindow, TruncateWithinTheRingOrFailsClearly) {
  const int w = 40;
  TempDir dir;
  const loom::Model model = load_variant(dir, [&](json& c) { mistral(c, w); });
  const auto ids = some_ids(600, model.config().vocab_size);
  const loom::SessionOptions o{.ctx_size = 2048, .threads = 2, .batch_size = 16};  // 256 slots
  loom::Session s(model, o);
  s.prefill(ids);
  // The ring holds positions 344 .. 599; position n needs n - 39 .. n - 1.
  for (const int n : {590, 420, 383}) {
    s.truncate(n);
    const auto got = s.decode(ids[n]);
    loom::Session fresh(model, o);
    fresh.prefill(std::span(ids).first(n));
    const auto want = fresh.decode(ids[n]);
    EXPECT_EQ(std::vector<float>(got.begin(), got.end()),
              std::vector<float>(want.begin(), want.end()))
        << "truncated to " << n;
    EXPECT_EQ(s.position(), n + 1);
  }
  try {
    s.truncate(300);
    FAIL() << "a truncation beyond the ring accepted";
  } catch (const loom::Error& e) {
    EXPECT_NE(
        std::string(e.what()).find("no longer holds position 261, which position 300 attends to"),
        std::string::npos)
        << e.what();
  }
  EXPECT_EQ(s.position(), 384);  // unchanged by the refusal
  s.reset();
  s.prefill(std::span(ids).first(200));
  s.truncate(10);  // fewer positions than slots: all still held
  EXPECT_EQ(s.position(), 10);
}

}  // namespace
