// The architectures beyond Llama 2 (model/arch.h): config.json read as transformers reads it
// (model_type, the bias and q/k-norm flags, Qwen's sliding-window keys), the tensors each binds
// and the errors for those it lacks or does not use, identities the forward pass must keep
// whatever the weights (a v bias is its image under o_proj; Qwen3's q/k norms make each head's
// scale vanish), the quantized cache, and the synthetic shapes. The logits themselves are held to
// transformers' by test_golden's goldens.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "io/hf_config.h"
#include "loom/loom.h"
#include "model/arch.h"
#include "model/loaded_model.h"
#include "model/synthetic.h"
#include "support/checkpoint_writer.h"
#include "support/error_of.h"

namespace {

using loom::Arch;
using loom::DType;
using loom::test::error_of;
using loom::test::json;
using loom::test::ModelFolder;
using loom::test::Tensor;
using loom::test::Tensors;
using ::testing::AllOf;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

const fs::path kStories = fs::path(LOOM_SHARED_DIR) / "models/stories260K";
// stories260K: hidden 64, 8 query heads and 4 KV heads of 8, intermediate 172, 5 layers, f32.
constexpr int kHidden = 64, kHeads = 8, kKvHeads = 4, kHeadDim = 8, kInter = 172, kLayers = 5;
const std::vector<int> kIds = {1, 403, 14, 261, 77, 5, 300, 42, 9};

// ---------------------------------------------------------------------------------------------
// config.json

loom::ModelConfig parse(const json& j) {
  return loom::io::parse_hf_config(j.dump(), "config.json");
}

json base_config(const std::string& model_type, const std::string& cls) {
  return {{"model_type", model_type}, {"architectures", {cls}}, {"hidden_size", 64},
          {"intermediate_size", 128}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
          {"num_key_value_heads", 2}, {"vocab_size", 100}};
}

TEST(ArchConfig, EachArchitectureAndItsFlags) {
  const loom::ModelConfig llama = parse(base_config("llama", "LlamaForCausalLM"));
  EXPECT_EQ(llama.arch, Arch::Llama);
  EXPECT_EQ(llama.model_type, "llama");
  EXPECT_FALSE(llama.attention_bias || llama.mlp_bias || llama.qk_norm);
  json j = base_config("llama", "LlamaForCausalLM");
  j["attention_bias"] = true;
  j["mlp_bias"] = true;
  const loom::ModelConfig biased = parse(j);
  EXPECT_TRUE(biased.attention_bias && biased.mlp_bias);

  // Mistral's layers have no biases whatever the keys say (transformers does not read them).
  j = base_config("mistral", "MistralForCausalLM");
  j["attention_bias"] = true;
  const loom::ModelConfig mistral = parse(j);
  EXPECT_EQ(mistral.arch, Arch::Mistral);
  EXPECT_FALSE(mistral.attention_bias);

  // Qwen2: q/k/v biases always; head_dim from hidden / heads.
  j = base_config("qwen2", "Qwen2ForCausalLM");
  j["attention_bias"] = false;
  j["mlp_bias"] = true;
  const loom::ModelConfig qwen2 = parse(j);
  EXPECT_EQ(qwen2.arch, Arch::Qwen2);
  EXPECT_EQ(qwen2.model_type, "qwen2");
  EXPECT_TRUE(qwen2.attention_bias);
  EXPECT_FALSE(qwen2.mlp_bias || qwen2.qk_norm);
  EXPECT_EQ(qwen2.head_dim, 16);

  // Qwen3: q/k norms always, attention_bias as given, head_dim 128 unless given (Qwen3Config's
  // default, not hidden / heads).
  const loom::ModelConfig qwen3 = parse(base_config("qwen3", "Qwen3ForCausalLM"));
  EXPECT_EQ(qwen3.arch, Arch::Qwen3);
  EXPECT_TRUE(qwen3.qk_norm);
  EXPECT_FALSE(qwen3.attention_bias || qwen3.mlp_bias);
  EXPECT_EQ(qwen3.head_dim, 128);
  EXPECT_EQ(qwen3.q_dim(), 512);
  j = base_config("qwen3", "Qwen3ForCausalLM");
  j["head_dim"] = 32;
  j["attention_bias"] = true;
  EXPECT_EQ(parse(j).head_dim, 32);
  EXPECT_TRUE(parse(j).attention_bias);

  // No model_type: the class says.
  j = base_config("qwen3", "Qwen3ForCausalLM");
  j.erase("model_type");
  EXPECT_EQ(parse(j).arch, Arch::Qwen3);
  EXPECT_EQ(parse(j).model_type, "qwen3");
  EXPECT_STREQ(loom::arch_name(Arch::Mistral), "mistral");
}

TEST(ArchConfig, UnsupportedArchitecturesListTheSupportedOnes) {
  json j = base_config("gemma", "GemmaForCausalLM");
  std::string msg = error_of([&] { parse(j); });
  EXPECT_THAT(msg, AllOf(HasSubstr("config.json"), HasSubstr("GemmaForCausalLM"),
                         HasSubstr("LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM and "
                                   "Qwen3ForCausalLM")));
  j["architectures"] = {"Qwen2ForCausalLM"};
  msg = error_of([&] { parse(j); });
  EXPECT_THAT(msg, AllOf(HasSubstr("model_type 'gemma'"),
                         HasSubstr("llama, mistral, qwen2 and qwen3"), HasSubstr("unsupported")));
}

TEST(ArchConfig, QwenSlidingWindowOnlyWithUseSlidingWindow) {
  // Qwen2.5's files: a sliding_window that no layer uses.
  json j = base_config("qwen2", "Qwen2ForCausalLM");
  j["sliding_window"] = 131072;
  j["use_sliding_window"] = false;
  j["max_window_layers"] = 21;
  EXPECT_EQ(parse(j).sliding_window, 0);
  j.erase("use_sliding_window");  // false by default
  EXPECT_EQ(parse(j).sliding_window, 0);

  // From max_window_layers on: none of 2 layers, all of them, or the second only.
  j["use_sliding_window"] = true;
  j["sliding_window"] = 256;
  auto windows = [&] {
    const loom::ModelConfig c = parse(j);
    return std::vector<int>{c.window_of(0), c.window_of(1)};
  };
  j["max_window_layers"] = 2;
  EXPECT_EQ(windows(), (std::vector<int>{0, 0}));
  j["max_window_layers"] = 0;
  EXPECT_EQ(windows(), (std::vector<int>{256, 256}));
  j["max_window_layers"] = 1;
  EXPECT_EQ(windows(), (std::vector<int>{0, 256}));

  // layer_types, where given, decide.
  j["max_window_layers"] = 0;
  j["layer_types"] = {"full_attention", "full_attention"};
  EXPECT_EQ(windows(), (std::vector<int>{0, 0}));
  j["layer_types"] = {"sliding_attention", "full_attention"};
  EXPECT_EQ(windows(), (std::vector<int>{256, 0}));
  j["layer_types"] = {"sliding_attention"};
  EXPECT_THAT(error_of([&] { parse(j); }),
              AllOf(HasSubstr("layer_types"), HasSubstr("num_hidden_layers")));
  j["layer_types"] = {"sliding_attention", "chunked"};
  EXPECT_THAT(error_of([&] { parse(j); }), HasSubstr("layer_types"));
}

// ---------------------------------------------------------------------------------------------
// Checkpoints: stories260K's weights under another architecture, with tensors added

std::string bytes_of(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}
std::vector<float> floats_of(const Tensor& t) {
  std::vector<float> v(t.bytes.size() / sizeof(float));
  std::memcpy(v.data(), t.bytes.data(), t.bytes.size());
  return v;
}
std::vector<float> uniform(size_t n, float lo, float hi, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// A copy of stories260K as MODEL_TYPE, with CONFIG_EDIT applied, and a tensor of each layer
// for each of ADD (name under model.layers.N., length), filled by FILL(name, length).
struct Folder {
  ModelFolder m{kStories};
  Folder(const std::string& model_type, const std::string& cls,
         const std::vector<std::pair<std::string, int>>& add,
         const std::function<std::vector<float>(const std::string&, int)>& fill,
         const std::function<void(json&)>& config_edit = {}) {
    m.edit_config([&](json& c) {
      c["model_type"] = model_type;
      c["architectures"] = {cls};
      if (config_edit) config_edit(c);
    });
    m.edit_tensors("model.safetensors", [&](Tensors& t) {
      for (int l = 0; l < kLayers; ++l) {
        for (const auto& [name, n] : add) {
          const std::string full = "model.layers." + std::to_string(l) + "." + name;
          t[full] = {"F32", {n}, bytes_of(fill(full, n))};
        }
      }
    });
  }
  const fs::path& dir() const { return m.dir(); }
};

const std::vector<std::pair<std::string, int>> kQkvBiases = {
    {"self_attn.q_proj.bias", kHeads* kHeadDim},
    {"self_attn.k_proj.bias", kKvHeads* kHeadDim},
    {"self_attn.v_proj.bias", kKvHeads* kHeadDim}};
const std::vector<std::pair<std::string, int>> kQkNorms = {{"self_attn.q_norm.weight", kHeadDim},
                                                           {"self_attn.k_norm.weight", kHeadDim}};

auto zeros = [](const std::string&, int n) { return std::vector<float>(n, 0.0f); };

std::vector<float> logits(const loom::Model& m, int threads = 2) {
  loom::Session s(m, {.ctx_size = 64, .threads = threads});
  return s.prefill_all_logits(kIds);
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float d = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

TEST(ArchLoad, BindsEachArchitecturesTensors) {
  const Folder qwen2("qwen2", "Qwen2ForCausalLM", kQkvBiases, zeros);
  const loom::Model m2 = loom::Model::load(qwen2.dir());
  EXPECT_EQ(m2.config().arch, Arch::Qwen2);
  const loom::model::LayerWeights& l2 = loom::detail::loaded(m2).weights.layers[4];
  EXPECT_EQ(l2.q_bias.size(), 64u);
  EXPECT_EQ(l2.k_bias.size(), 32u);
  EXPECT_EQ(l2.v_bias.size(), 32u);
  EXPECT_TRUE(l2.o_bias.empty() && l2.q_norm.empty() && l2.gate_bias.empty());
  // The biases count as parameters and as fp32 bytes.
  const loom::Model llama = loom::Model::load(kStories);
  EXPECT_EQ(m2.n_params(), llama.n_params() + kLayers * 128);
  EXPECT_EQ(m2.weight_bytes(), llama.weight_bytes() + kLayers * 128 * 4);

  const Folder qwen3("qwen3", "Qwen3ForCausalLM", kQkNorms, zeros,
                     [](json& c) { c["head_dim"] = kHeadDim; });
  const loom::Model m3 = loom::Model::load(qwen3.dir());
  EXPECT_EQ(m3.config().arch, Arch::Qwen3);
  EXPECT_EQ(loom::detail::loaded(m3).weights.layers[0].q_norm.size(), 8u);
  EXPECT_TRUE(loom::detail::loaded(m3).weights.layers[0].q_bias.empty());
  EXPECT_EQ(m3.n_params(), llama.n_params() + kLayers * 16);
}

TEST(ArchLoad, MissingOrUnusedTensorsAreNamed) {
  // Qwen2's biases are its architecture's; Llama's and Qwen3's come with the config's flags.
  const Folder no_biases("qwen2", "Qwen2ForCausalLM", {}, zeros);
  EXPECT_THAT(error_of([&] { loom::Model::load(no_biases.dir()); }),
              AllOf(HasSubstr("'model.layers.0.self_attn.q_proj.bias' is missing"),
                    HasSubstr("model_type qwen2 has q, k and v biases")));
  const Folder llama_bias("llama", "LlamaForCausalLM", kQkvBiases, zeros,
                          [](json& c) { c["attention_bias"] = true; });
  EXPECT_THAT(error_of([&] { loom::Model::load(llama_bias.dir()); }),
              AllOf(HasSubstr("'model.layers.0.self_attn.o_proj.bias' is missing"),
                    HasSubstr("attention_bias is true")));
  const Folder mlp_bias("llama", "LlamaForCausalLM", {}, zeros,
                        [](json& c) { c["mlp_bias"] = true; });
  EXPECT_THAT(error_of([&] { loom::Model::load(mlp_bias.dir()); }),
              AllOf(HasSubstr("'model.layers.0.mlp.gate_proj.bias' is missing"),
                    HasSubstr("mlp_bias is true")));
  const Folder no_norms("qwen3", "Qwen3ForCausalLM", {}, zeros,
                        [](json& c) { c["head_dim"] = kHeadDim; });
  EXPECT_THAT(error_of([&] { loom::Model::load(no_norms.dir()); }),
              AllOf(HasSubstr("'model.layers.0.self_attn.q_norm.weight' is missing"),
                    HasSubstr("qwen3 normalizes each head")));
  // Qwen3 without head_dim: 128, which stories' q_proj (64 rows) does not have.
  const Folder default_head("qwen3", "Qwen3ForCausalLM", kQkNorms, zeros);
  EXPECT_THAT(error_of([&] { loom::Model::load(default_head.dir()); }),
              AllOf(HasSubstr("'model.layers.0.self_attn.q_proj.weight'"),
                    HasSubstr("config.json implies [1024, 64]")));

  // A bias of the wrong length.
  const Folder short_bias("qwen2", "Qwen2ForCausalLM", kQkvBiases, zeros);
  short_bias.m.edit_tensors("model.safetensors", [](Tensors& t) {
    t["model.layers.2.self_attn.k_proj.bias"] = {"F32", {16}, std::string(64, '\0')};
  });
  EXPECT_THAT(error_of([&] { loom::Model::load(short_bias.dir()); }),
              AllOf(HasSubstr("'model.layers.2.self_attn.k_proj.bias' has shape [16]"),
                    HasSubstr("config.json implies [32]")));

  // Tensors the architecture never has (Qwen2 has no o_proj bias; Llama without the flag has
  // none) are rejected, as a checkpoint that does not match its config.
  Folder o_bias("qwen2", "Qwen2ForCausalLM", kQkvBiases, zeros);
  o_bias.m.edit_tensors("model.safetensors", [](Tensors& t) {
    t["model.layers.1.self_attn.o_proj.bias"] = {"F32", {64}, std::string(256, '\0')};
  });
  EXPECT_THAT(error_of([&] { loom::Model::load(o_bias.dir()); }),
              AllOf(HasSubstr("'model.layers.1.self_attn.o_proj.bias'"), HasSubstr("not used"),
                    HasSubstr("model_type qwen2")));
  const Folder unflagged("llama", "LlamaForCausalLM", kQkvBiases, zeros);
  EXPECT_THAT(error_of([&] { loom::Model::load(unflagged.dir()); }),
              AllOf(HasSubstr("'model.layers.0.self_attn.k_proj.bias'"), HasSubstr("not used"),
                    HasSubstr("attention_bias false")));
  const Folder qwen2_norms("qwen2", "Qwen2ForCausalLM", kQkvBiases, zeros);
  qwen2_norms.m.edit_tensors("model.safetensors", [](Tensors& t) {
    t["model.layers.0.self_attn.q_norm.weight"] = {"F32", {8}, std::string(32, '\0')};
  });
  EXPECT_THAT(error_of([&] { loom::Model::load(qwen2_norms.dir()); }),
              AllOf(HasSubstr("'model.layers.0.self_attn.q_norm.weight'"), HasSubstr("not used")));
}

// Zero biases change nothing: the Qwen2 model is the Llama model.
TEST(ArchForward, ZeroBiasesAreLlama) {
  const std::vector<float> want = logits(loom::Model::load(kStories));
  const Folder qwen2("qwen2", "Qwen2ForCausalLM", kQkvBiases, zeros);
  EXPECT_EQ(max_abs_diff(logits(loom::Model::load(qwen2.dir())), want), 0.0f);
}

// Each attention output is a convex combination of values, so a v bias b comes out of attention
// whole, and o_proj maps it to W_o b: the same model as an o_proj bias of W_o b. Both differ
// from the model without biases. The MLP's biases all act (each moves the logits).
TEST(ArchForward, VBiasIsItsImageUnderOProj) {
  std::mt19937 rng(7);
  const Tensors stories = loom::test::read_tensors(kStories / "model.safetensors");
  std::vector<std::vector<float>> v_bias, o_image;
  for (int l = 0; l < kLayers; ++l) {
    v_bias.push_back(uniform(kKvHeads * kHeadDim, -0.5f, 0.5f, rng));
    const std::vector<float> wo =
        floats_of(stories.at("model.layers." + std::to_string(l) + ".self_attn.o_proj.weight"));
    std::vector<float> img(kHidden);
    for (int r = 0; r < kHidden; ++r) {
      double s = 0;
      for (int c = 0; c < kHeads * kHeadDim; ++c) {
        s += static_cast<double>(wo[r * kHeads * kHeadDim + c]) *
             v_bias[l][(c / kHeadDim) / (kHeads / kKvHeads) * kHeadDim + c % kHeadDim];
      }
      img[r] = static_cast<float>(s);
    }
    o_image.push_back(img);
  }
  auto layer_of = [](const std::string& name) { return std::stoi(name.substr(13)); };
  std::vector<std::pair<std::string, int>> all = kQkvBiases;
  all.push_back({"self_attn.o_proj.bias", kHidden});
  const auto flag = [](json& c) { c["attention_bias"] = true; };
  const Folder with_v(
      "llama", "LlamaForCausalLM", all,
      [&](const std::string& name, int n) {
        return name.ends_with("v_proj.bias") ? v_bias[layer_of(name)] : std::vector<float>(n, 0.0f);
      },
      flag);
  const Folder with_o(
      "llama", "LlamaForCausalLM", all,
      [&](const std::string& name, int n) {
        return name.ends_with("o_proj.bias") ? o_image[layer_of(name)]
                                             : std::vector<float>(n, 0.0f);
      },
      flag);
  const std::vector<float> a = logits(loom::Model::load(with_v.dir()));
  const std::vector<float> b = logits(loom::Model::load(with_o.dir()));
  const std::vector<float> plain = logits(loom::Model::load(kStories));
  EXPECT_LT(max_abs_diff(a, b), 2e-4f);
  EXPECT_GT(max_abs_diff(a, plain), 0.1f);

  const std::vector<std::pair<std::string, int>> mlp = {{"mlp.gate_proj.bias", kInter},
                                                        {"mlp.up_proj.bias", kInter},
                                                        {"mlp.down_proj.bias", kHidden}};
  for (const auto& [which, n] : mlp) {
    const Folder f(
        "llama", "LlamaForCausalLM", mlp,
        [&, w = which](const std::string& name, int len) {
          return name.ends_with(w) ? uniform(len, -0.5f, 0.5f, rng) : std::vector<float>(len, 0.0f);
        },
        [](json& c) { c["mlp_bias"] = true; });
    EXPECT_GT(max_abs_diff(logits(loom::Model::load(f.dir())), plain), 0.05f) << which;
  }
}

// Scales every row of head H of NAME's matrix (a q or k projection) in each layer by S.
void scale_head(Tensors& t, const std::string& name, int head, float s) {
  for (int l = 0; l < kLayers; ++l) {
    Tensor& w = t.at("model.layers." + std::to_string(l) + "." + name);
    std::vector<float> v = floats_of(w);
    for (int r = head * kHeadDim; r < (head + 1) * kHeadDim; ++r) {
      for (int c = 0; c < kHidden; ++c) v[r * kHidden + c] *= s;
    }
    w.bytes = bytes_of(v);
  }
}

// Qwen3 normalizes each head of q and k on its own, so scaling one head's rows of q_proj or
// k_proj leaves the logits as they were (up to eps); Llama's logits move.
TEST(ArchForward, QkNormMakesEachHeadsScaleVanish) {
  std::mt19937 rng(11);
  auto norms = [&](const std::string&, int n) { return uniform(n, 0.5f, 1.5f, rng); };
  const auto head_dim = [](json& c) { c["head_dim"] = kHeadDim; };
  const Folder qwen3("qwen3", "Qwen3ForCausalLM", kQkNorms, norms, head_dim);
  ModelFolder& scaled = const_cast<ModelFolder&>(qwen3.m);
  const std::vector<float> want = logits(loom::Model::load(qwen3.dir()));
  scaled.edit_tensors("model.safetensors", [](Tensors& t) {
    scale_head(t, "self_attn.q_proj.weight", 5, 4.0f);
    scale_head(t, "self_attn.k_proj.weight", 1, 0.25f);
  });
  EXPECT_LT(max_abs_diff(logits(loom::Model::load(qwen3.dir())), want), 1e-3f);

  ModelFolder llama(kStories);
  const std::vector<float> plain = logits(loom::Model::load(llama.dir()));
  llama.edit_tensors("model.safetensors", [](Tensors& t) {
    scale_head(t, "self_attn.q_proj.weight", 5, 4.0f);
    scale_head(t, "self_attn.k_proj.weight", 1, 0.25f);
  });
  EXPECT_GT(max_abs_diff(logits(loom::Model::load(llama.dir())), plain), 0.05f);
}

// Biases and norms are the checkpoint's in both loads; the quantized matrices come from the
// cache the first load wrote: the logits are the same bits.
TEST(ArchLoad, QuantizedCacheOfEachArchitecture) {
  std::mt19937 rng(13);
  auto random = [&](const std::string&, int n) { return uniform(n, 0.5f, 1.5f, rng); };
  const Folder qwen2("qwen2", "Qwen2ForCausalLM", kQkvBiases, random);
  const Folder qwen3("qwen3", "Qwen3ForCausalLM", kQkNorms, random,
                     [](json& c) { c["head_dim"] = kHeadDim; });
  for (const Folder* f : {&qwen2, &qwen3}) {
    const loom::LoadOptions o{.quantize = DType::Q8_0,
                              .quant_cache = loom::QuantCache::Auto,
                              .quant_cache_path = f->dir() / "q8.cache"};
    const loom::Model first = loom::Model::load(f->dir(), o);
    ASSERT_EQ(first.quantization().source, loom::QuantSource::QuantizedAtLoad);
    ASSERT_TRUE(fs::exists(f->dir() / "q8.cache"));
    const loom::Model second = loom::Model::load(f->dir(), o);
    ASSERT_EQ(second.quantization().source, loom::QuantSource::CacheFile);
    EXPECT_EQ(second.quantization().quantized, kLayers * 6 + 1);  // down_proj's 172 stay f32
    EXPECT_EQ(max_abs_diff(logits(first), logits(second)), 0.0f);
    // Quantized, yet near the unquantized model.
    EXPECT_LT(max_abs_diff(logits(first), logits(loom::Model::load(f->dir()))), 0.5f);
  }
}

// ---------------------------------------------------------------------------------------------
// Synthetic shapes

// Parameters the model cards give (Qwen2.5-0.5B: 0.49B, 0.36B non-embedding; Qwen3-0.6B: 0.6B,
// 0.44B non-embedding; Llama 3.2 1B: 1.24B), exactly, from the architecture by hand: Qwen2.5-0.5B
// has 24 layers of q 896x896 + 896, k and v 128x896 + 128, o 896x896, three 896x4864 MLP
// matrices and two norms of 896, then the tied 151936x896 embedding and the final norm.
TEST(Synthetic, KnownShapesHaveTheirModelsParameterCounts) {
  auto count = [](const std::string& name) {
    const loom::ModelConfig c = loom::model::known_shape(name);
    const size_t embed = static_cast<size_t>(c.vocab_size) * c.hidden_size;
    return std::pair{embed * (c.tie_word_embeddings ? 1 : 2) + c.hidden_size +
                         c.n_layers * loom::model::layer_params(c),
                     c.n_layers * loom::model::layer_params(c)};
  };
  EXPECT_EQ(count("qwen2.5-0.5b"), std::pair(size_t{494032768}, size_t{357897216}));
  EXPECT_EQ(count("qwen3-0.6b"), std::pair(size_t{596049920}, size_t{440466432}));
  EXPECT_EQ(count("llama3.2-1b").first, size_t{1235814400});
  EXPECT_EQ(count("llama3.2-3b").first, size_t{3212749824});
  EXPECT_EQ(count("qwen2.5-1.5b").first, size_t{1543714304});
  EXPECT_EQ(count("qwen3-1.7b").first, size_t{1720574976});
  EXPECT_EQ(count("tinyllama-1.1b").first, size_t{1100048384});

  const loom::ModelConfig q = loom::model::known_shape("qwen3-0.6b");
  EXPECT_EQ(q.arch, Arch::Qwen3);
  EXPECT_EQ(q.head_dim, 128);
  EXPECT_EQ(q.q_dim(), 2048);
  EXPECT_TRUE(q.qk_norm && q.tie_word_embeddings);
  const loom::ModelConfig l = loom::model::known_shape("llama3.2-1b");
  EXPECT_EQ(l.rope.scaling, loom::RopeScalingType::Llama3);
  EXPECT_EQ(l.rope.factor, 32.0f);
  EXPECT_EQ(l.rope.original_max_position, 8192);
  EXPECT_EQ(l.max_position_embeddings, 131072);
  EXPECT_EQ(l.eos_token_ids, (std::vector<int>{128001, 128008, 128009}));
  EXPECT_THAT(error_of([] { loom::model::known_shape("qwen9"); }),
              AllOf(HasSubstr("'qwen9'"), HasSubstr("qwen2.5-0.5b"), HasSubstr("qwen3-0.6b"),
                    HasSubstr("llama3.2-1b")));
}

class KnownShape : public ::testing::TestWithParam<const char*> {};

// Each shape, two of its layers with the real vocabulary (one layer and a small vocabulary for the
// larger shapes), made and run: a prompt, then decode steps that agree with the prompt's
// logits, as stored and quantized.
TEST_P(KnownShape, RunsAsStoredAndQuantized) {
  const std::string name = GetParam();
  loom::ModelConfig c = loom::model::known_shape(name);
  c.n_layers = 2;
  if (name.ends_with("3b") || name.ends_with("1.5b") || name.ends_with("1.7b")) {
    c.n_layers = 1;
    c.vocab_size = 4096;
  }
  for (const std::optional<DType> q : {std::optional<DType>(), std::optional(DType::Q4_0)}) {
    SCOPED_TRACE(q ? loom::dtype_name(*q) : "bf16");
    const loom::Model m = loom::model::synthetic_model(c, DType::BF16, 3, {.quantize = q});
    EXPECT_EQ(m.config().arch, c.arch);
    EXPECT_EQ(m.config().model_type, loom::arch_name(c.arch));
    const size_t embed = static_cast<size_t>(c.vocab_size) * c.hidden_size;
    EXPECT_EQ(m.n_params(), embed * (c.tie_word_embeddings ? 1 : 2) + c.hidden_size +
                                c.n_layers * loom::model::layer_params(c));
    const loom::model::LayerWeights& l = loom::detail::loaded(m).weights.layers.back();
    EXPECT_EQ(l.q_bias.size(), c.attention_bias ? static_cast<size_t>(c.q_dim()) : 0u);
    EXPECT_EQ(l.q_norm.size(), c.qk_norm ? static_cast<size_t>(c.head_dim) : 0u);
    if (q) {
      EXPECT_EQ(m.quantization().quantized, c.n_layers * 7 + 1);
    }

    const std::vector<int> ids = {11, 2000, 7, 3000, 5};
    loom::Session s(m, {.ctx_size = 16, .threads = 2, .bf16_prompts = loom::Bf16Prompts::Exact});
    const std::vector<float> all = s.prefill_all_logits(ids);
    loom::Session d(m, {.ctx_size = 16, .threads = 2, .bf16_prompts = loom::Bf16Prompts::Exact});
    float worst = 0, scale = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      const std::span<const float> row = d.decode(ids[i]);
      for (int v = 0; v < c.vocab_size; ++v) {
        const float want = all[i * c.vocab_size + v];
        ASSERT_TRUE(std::isfinite(row[v]) && std::isfinite(want));
        worst = std::max(worst, std::fabs(row[v] - want));
        scale = std::max(scale, std::fabs(want));
      }
    }
    EXPECT_GT(scale, 0.1f);
    // Decode steps round the activations to 8 bits against quantized weights; prompts do not.
    EXPECT_LT(worst, (q ? 0.05f : 1e-3f) * scale);
  }
}

INSTANTIATE_TEST_SUITE_P(Names, KnownShape,
                         ::testing::Values("llama3.2-1b", "llama3.2-3b", "qwen2.5-0.5b",
                                           "qwen2.5-1.5b", "qwen3-0.6b", "qwen3-1.7b"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return s;
                         });

}  // namespace
