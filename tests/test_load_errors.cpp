// Bad input gets a loom::Error that says what was wrong and where, never a crash or silent
// garbage. Each test copies a real fixture folder, breaks one thing, and checks the message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "loom/loom.h"
#include "support/checkpoint_writer.h"
#include "support/error_of.h"

namespace {

using loom::test::json;
using loom::test::ModelFolder;
using loom::test::Tensors;
using ::testing::AllOf;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

const fs::path kShared = LOOM_SHARED_DIR;
const fs::path kStories = kShared / "models/stories260K";
const fs::path kSharded = kShared / "fixtures/llama2-gqa-bf16";

using loom::test::error_of;

std::string load_error(const fs::path& dir) {
  return error_of([&] { loom::Model::load(dir); });
}

// The load error of stories260K with one config.json change.
std::string config_error(const std::function<void(json&)>& edit, fs::path* config = nullptr) {
  ModelFolder m(kStories);
  m.edit_config(edit);
  if (config) *config = m / "config.json";
  return load_error(m.dir());
}

// ---------------------------------------------------------------------------------------------
// The folder and config.json

TEST(LoadErrors, ModelFolderMissing) {
  const fs::path dir = kShared / "models/no-such-model";
  EXPECT_THAT(load_error(dir), AllOf(HasSubstr("not found"), HasSubstr(dir.string())));
}

TEST(LoadErrors, ConfigMissing) {
  ModelFolder m(kStories);
  m.remove("config.json");
  EXPECT_THAT(load_error(m.dir()), AllOf(HasSubstr("no config.json"), HasSubstr(m.dir().string())));
}

TEST(LoadErrors, ConfigNotJson) {
  ModelFolder m(kStories);
  loom::test::write_text(m / "config.json", "{\"hidden_size\": 64,");
  EXPECT_THAT(load_error(m.dir()),
              AllOf(HasSubstr((m / "config.json").string()), HasSubstr("invalid JSON")));
}

TEST(LoadErrors, ConfigNotAnObject) {
  ModelFolder m(kStories);
  loom::test::write_text(m / "config.json", "[64, 172]");
  EXPECT_THAT(load_error(m.dir()),
              AllOf(HasSubstr((m / "config.json").string()), HasSubstr("not a JSON object")));
}

TEST(LoadErrors, RequiredKeyMissing) {
  fs::path config;
  const std::string msg = config_error([](json& c) { c.erase("hidden_size"); }, &config);
  EXPECT_THAT(msg, AllOf(HasSubstr(config.string()), HasSubstr("missing required key"),
                         HasSubstr("'hidden_size'")));
}

TEST(LoadErrors, KeyOfWrongType) {
  fs::path config;
  const std::string msg =
      config_error([](json& c) { c["num_attention_heads"] = "eight"; }, &config);
  EXPECT_THAT(msg, AllOf(HasSubstr(config.string()), HasSubstr("'num_attention_heads'"),
                         HasSubstr("\"eight\"")));
}

TEST(LoadErrors, KeyOfInvalidValue) {
  fs::path config;
  const std::string msg = config_error([](json& c) { c["hidden_size"] = -1; }, &config);
  EXPECT_THAT(msg, AllOf(HasSubstr(config.string()), HasSubstr("'hidden_size'"),
                         HasSubstr("positive"), HasSubstr("-1")));
}

TEST(LoadErrors, FloatKeyOutOfRange) {
  // 1e39 is a finite double but no float: it must not become inf (or UB) on the way in.
  const std::string msg = config_error([](json& c) { c["rope_theta"] = 1e39; });
  EXPECT_THAT(msg, AllOf(HasSubstr("'rope_theta'"), HasSubstr("1e+39")));
}

TEST(LoadErrors, HeadsNotMultipleOfKvHeads) {
  const std::string msg = config_error([](json& c) { c["num_key_value_heads"] = 3; });
  EXPECT_THAT(msg, AllOf(HasSubstr("num_attention_heads (8)"),
                         HasSubstr("not a multiple of num_key_value_heads (3)")));
}

TEST(LoadErrors, OddHeadDimFromHiddenSize) {
  // head_dim is not in the file: hidden_size 72 / 8 heads = 9, which RoPE cannot rotate in pairs.
  const std::string msg = config_error([](json& c) { c["hidden_size"] = 72; });
  EXPECT_THAT(msg, AllOf(HasSubstr("head_dim"), HasSubstr("9"), HasSubstr("even")));
}

TEST(LoadErrors, HugeHeadDim) {
  // 8 heads of 2^28 overflow an int: a clear error before any product is formed.
  const std::string msg = config_error([](json& c) { c["head_dim"] = 1 << 28; });
  EXPECT_THAT(msg, AllOf(HasSubstr("head_dim"), HasSubstr("268435456"), HasSubstr("too large")));
}

TEST(LoadErrors, UnsupportedModelType) {
  const std::string msg = config_error([](json& c) { c["model_type"] = "gpt2"; });
  EXPECT_THAT(msg, AllOf(HasSubstr("model_type 'gpt2'"), HasSubstr("unsupported")));
}

TEST(LoadErrors, UnsupportedArchitecture) {
  const std::string msg =
      config_error([](json& c) { c["architectures"] = json::array({"GPT2LMHeadModel"}); });
  EXPECT_THAT(msg, AllOf(HasSubstr("GPT2LMHeadModel"), HasSubstr("Qwen3ForCausalLM")));
}

TEST(LoadErrors, HiddenActGelu) {
  const std::string msg = config_error([](json& c) { c["hidden_act"] = "gelu"; });
  EXPECT_THAT(msg, AllOf(HasSubstr("hidden_act 'gelu'"), HasSubstr("not supported")));
}

// The flags bring tensors; a checkpoint without them is named (more in test_arch).
TEST(LoadErrors, AttentionBiasWithoutItsTensors) {
  const std::string msg = config_error([](json& c) { c["attention_bias"] = true; });
  EXPECT_THAT(msg, AllOf(HasSubstr("'model.layers.0.self_attn.q_proj.bias' is missing"),
                         HasSubstr("config.json's attention_bias is true")));
}

TEST(LoadErrors, MlpBiasWithoutItsTensors) {
  const std::string msg = config_error([](json& c) { c["mlp_bias"] = true; });
  EXPECT_THAT(msg, AllOf(HasSubstr("'model.layers.0.mlp.gate_proj.bias' is missing"),
                         HasSubstr("config.json's mlp_bias is true")));
}

TEST(LoadErrors, RopeScalingLongrope) {
  const std::string msg = config_error([](json& c) {
    c["rope_scaling"] = {
        {"rope_type", "longrope"}, {"short_factor", {1.0}}, {"long_factor", {1.0}}};
  });
  EXPECT_THAT(msg,
              AllOf(HasSubstr("rope_scaling"), HasSubstr("'longrope'"), HasSubstr("not supported"),
                    HasSubstr("default, linear, llama3, yarn, dynamic")));
}

TEST(LoadErrors, RopeScalingYarnBadBeta) {
  const std::string msg = config_error([](json& c) {
    c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}, {"beta_fast", -1}};
  });
  EXPECT_THAT(msg, AllOf(HasSubstr("rope_scaling"), HasSubstr("beta_fast"), HasSubstr("-1")));
}

TEST(LoadErrors, RopeScalingDynamicWithoutFactor) {
  const std::string msg = config_error([](json& c) { c["rope_scaling"] = {{"type", "dynamic"}}; });
  EXPECT_THAT(msg, AllOf(HasSubstr("rope_scaling"), HasSubstr("'factor'")));
}

TEST(LoadErrors, Llama3RopeWithoutOriginalContext) {
  const std::string msg = config_error([](json& c) {
    c["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  });
  EXPECT_THAT(msg, AllOf(HasSubstr("rope_scaling"), HasSubstr("original_max_position_embeddings")));
}

TEST(LoadErrors, EosOutsideVocabInConfig) {
  ModelFolder m(kStories);
  m.remove("generation_config.json");
  m.edit_config([](json& c) { c["eos_token_id"] = 512; });
  EXPECT_THAT(load_error(m.dir()),
              AllOf(HasSubstr((m / "config.json").string()), HasSubstr("eos_token_id 512"),
                    HasSubstr("outside the vocabulary")));
}

TEST(LoadErrors, EosOutsideVocabInGenerationConfig) {
  // generation_config.json wins for EOS: the message must name it, not config.json.
  ModelFolder m(kStories);
  m.edit_json("generation_config.json", [](json& g) { g["eos_token_id"] = {2, 9999}; });
  EXPECT_THAT(load_error(m.dir()),
              AllOf(HasSubstr((m / "generation_config.json").string()),
                    HasSubstr("eos_token_id 9999"), HasSubstr("outside the vocabulary")));
}

TEST(LoadErrors, EosBeyondIntRange) {
  // 2^32 + 2 must not wrap to the valid id 2.
  ModelFolder m(kStories);
  m.remove("generation_config.json");
  m.edit_config([](json& c) { c["eos_token_id"] = 4294967298LL; });
  EXPECT_THAT(load_error(m.dir()), AllOf(HasSubstr("eos_token_id"), HasSubstr("4294967298")));
}

TEST(LoadErrors, BosEmptyList) {
  ModelFolder m(kStories);
  m.remove("generation_config.json");
  m.edit_config([](json& c) { c["bos_token_id"] = json::array(); });
  EXPECT_THAT(load_error(m.dir()),
              AllOf(HasSubstr((m / "config.json").string()), HasSubstr("'bos_token_id'")));
}

TEST(LoadErrors, GenerationConfigNotJson) {
  ModelFolder m(kStories);
  loom::test::write_text(m / "generation_config.json", "{eos}");
  EXPECT_THAT(load_error(m.dir()),
              AllOf(HasSubstr((m / "generation_config.json").string()), HasSubstr("invalid JSON")));
}

// ---------------------------------------------------------------------------------------------
// The tokenizer

TEST(LoadErrors, TokenizerModelMissing) {
  ModelFolder m(kStories);
  m.remove("tokenizer.model");
  EXPECT_THAT(load_error(m.dir()), AllOf(HasSubstr("no tokenizer.json or tokenizer.model"),
                                         HasSubstr(m.dir().string())));
}

TEST(LoadErrors, TokenizerJsonUnigram) {
  // A folder with both files reads tokenizer.json, as transformers does.
  ModelFolder m(kStories);
  loom::test::write_text(m / "tokenizer.json", R"({"model": {"type": "Unigram", "vocab": []}})");
  EXPECT_THAT(load_error(m.dir()), AllOf(HasSubstr((m / "tokenizer.json").string()),
                                         HasSubstr("'Unigram'"), HasSubstr("not support")));
}

TEST(LoadErrors, TokenizerModelNotSentencepiece) {
  // Llama 3's original/tokenizer.model is a tiktoken rank file: base64 token, space, rank.
  for (const std::string text : {"IQ== 0\nIg== 1\nIw== 2\n", "", "\x0a\x05hello\xff\xff"}) {
    SCOPED_TRACE(::testing::PrintToString(text));
    ModelFolder m(kStories);
    loom::test::write_text(m / "tokenizer.model", text);
    EXPECT_THAT(load_error(m.dir()), AllOf(HasSubstr((m / "tokenizer.model").string()),
                                           HasSubstr("not a sentencepiece model")));
  }
}

TEST(LoadErrors, TokenizerConfigBadAddBos) {
  ModelFolder m(kStories);
  m.edit_json("tokenizer_config.json", [](json& t) { t["add_bos_token"] = "yes"; });
  EXPECT_THAT(load_error(m.dir()), AllOf(HasSubstr((m / "tokenizer_config.json").string()),
                                         HasSubstr("'add_bos_token'"), HasSubstr("\"yes\"")));
}

TEST(LoadErrors, TokenizerConfigNotJson) {
  ModelFolder m(kStories);
  loom::test::write_text(m / "tokenizer_config.json", "{\"add_bos_token\": tru");
  EXPECT_THAT(load_error(m.dir()),
              AllOf(HasSubstr((m / "tokenizer_config.json").string()), HasSubstr("invalid JSON")));
}

TEST(LoadErrors, TokenizerMorePiecesThanVocab) {
  // The 512-piece tokenizer against a 256-token model: ids past 255 would index past the
  // embedding.
  const std::string msg = config_error([](json& c) { c["vocab_size"] = 256; });
  EXPECT_THAT(msg, AllOf(HasSubstr("tokenizer.model"), HasSubstr("512 tokens"),
                         HasSubstr("vocab_size of 256")));
}

// ---------------------------------------------------------------------------------------------
// The safetensors file itself

TEST(LoadErrors, NoSafetensors) {
  ModelFolder m(kStories);
  m.remove("model.safetensors");
  EXPECT_THAT(load_error(m.dir()), AllOf(HasSubstr("no model.safetensors"), HasSubstr("index.json"),
                                         HasSubstr(m.dir().string())));
}

TEST(LoadErrors, SafetensorsShorterThan8Bytes) {
  ModelFolder m(kStories);
  loom::test::write_text(m / "model.safetensors", "abc");
  EXPECT_THAT(load_error(m.dir()), AllOf(HasSubstr((m / "model.safetensors").string()),
                                         HasSubstr("truncated"), HasSubstr("3 bytes")));
}

TEST(LoadErrors, HeaderLengthPastEndOfFile) {
  ModelFolder m(kStories);
  loom::test::write_text(m / "model.safetensors",
                         std::string("\x00\x00\x10\x00\x00\x00\x00\x00{}", 10));
  EXPECT_THAT(load_error(m.dir()), AllOf(HasSubstr((m / "model.safetensors").string()),
                                         HasSubstr("header claims 1048576 bytes")));
}

TEST(LoadErrors, HeaderLengthNearUint64Max) {
  // A length that overflows when 8 is added to it.
  ModelFolder m(kStories);
  loom::test::write_text(m / "model.safetensors", std::string(8, '\xff') + "{}");
  EXPECT_THAT(load_error(m.dir()),
              AllOf(HasSubstr((m / "model.safetensors").string()), HasSubstr("header claims")));
}

TEST(LoadErrors, CorruptHeaderJson) {
  ModelFolder m(kStories);
  loom::test::write_safetensors_raw(m / "model.safetensors", R"({"model.norm.weight": {"dtype)",
                                    std::string(256, '\0'));
  EXPECT_THAT(load_error(m.dir()), AllOf(HasSubstr((m / "model.safetensors").string()),
                                         HasSubstr("corrupt safetensors header")));
}

TEST(LoadErrors, HeaderEntryMalformed) {
  ModelFolder m(kStories);
  loom::test::write_safetensors_raw(
      m / "model.safetensors",
      R"({"model.norm.weight": {"dtype": "F32", "shape": [64.5], "data_offsets": [0, 256]}})",
      std::string(256, '\0'));
  EXPECT_THAT(load_error(m.dir()), AllOf(HasSubstr((m / "model.safetensors").string()),
                                         HasSubstr("'model.norm.weight'"), HasSubstr("shape")));
}

TEST(LoadErrors, TensorTwiceInHeader) {
  // JSON parsers keep the last of two equal keys: silently, unless the loader looks.
  ModelFolder m(kStories);
  const std::string entry = R"({"dtype": "F32", "shape": [64], "data_offsets": [0, 256]})";
  loom::test::write_safetensors_raw(
      m / "model.safetensors",
      "{\"model.norm.weight\": " + entry + ", \"model.norm.weight\": " + entry + "}",
      std::string(256, '\0'));
  EXPECT_THAT(load_error(m.dir()), AllOf(HasSubstr((m / "model.safetensors").string()),
                                         HasSubstr("'model.norm.weight' appears twice")));
}

TEST(LoadErrors, TruncatedFile) {
  // Cut the tail off a real checkpoint: the tensor stored last now runs past the end.
  ModelFolder m(kStories);
  const fs::path file = m / "model.safetensors";
  std::string last;
  size_t last_end = 0;
  {
    const loom::io::MappedFile mapped(file);
    std::unordered_map<std::string, loom::io::TensorInfo> infos;
    loom::io::read_safetensors_header(mapped, infos);
    for (const auto& [name, t] : infos) {
      const size_t end = t.data + t.nbytes - mapped.data();
      if (end > last_end) {
        last_end = end;
        last = name;
      }
    }
  }
  fs::resize_file(file, fs::file_size(file) - 100);
  EXPECT_THAT(load_error(m.dir()),
              AllOf(HasSubstr(file.string()), HasSubstr("'" + last + "'"),
                    HasSubstr("past the end of the file"), HasSubstr("truncated")));
}

TEST(LoadErrors, DataOffsetsReversed) {
  ModelFolder m(kStories);
  loom::test::write_safetensors_raw(
      m / "model.safetensors",
      R"({"model.norm.weight": {"dtype": "F32", "shape": [64], "data_offsets": [256, 0]}})",
      std::string(256, '\0'));
  EXPECT_THAT(load_error(m.dir()),
              AllOf(HasSubstr("'model.norm.weight'"), HasSubstr("data_offsets [256, 0]")));
}

TEST(LoadErrors, ShapeDoesNotMatchOffsets) {
  ModelFolder m(kStories);
  m.edit_tensors("model.safetensors", [](Tensors& t) {
    t["model.layers.0.mlp.up_proj.weight"].shape = {172, 65};
  });
  EXPECT_THAT(load_error(m.dir()),
              AllOf(HasSubstr((m / "model.safetensors").string()),
                    HasSubstr("'model.layers.0.mlp.up_proj.weight'"), HasSubstr("[172, 65]"),
                    HasSubstr("needs 44720 bytes, data_offsets give 44032")));
}

TEST(LoadErrors, ShapeProductOverflows) {
  // 2^62 * 2^2 elements of 4 bytes wrap to 0 bytes in 64 bits: must not pass as an empty tensor.
  ModelFolder m(kStories);
  m.edit_tensors("model.safetensors", [](Tensors& t) {
    t["model.extra"] = {"F32", {int64_t{1} << 62, 4}, ""};
  });
  EXPECT_THAT(load_error(m.dir()), AllOf(HasSubstr("'model.extra'"), HasSubstr("shape")));
}

TEST(LoadErrors, UnknownDtype) {
  ModelFolder m(kStories);
  m.edit_tensors("model.safetensors", [](Tensors& t) { t["model.norm.weight"].dtype = "Q4_K"; });
  EXPECT_THAT(load_error(m.dir()),
              AllOf(HasSubstr((m / "model.safetensors").string()), HasSubstr("'model.norm.weight'"),
                    HasSubstr("unknown dtype 'Q4_K'")));
}

// ---------------------------------------------------------------------------------------------
// The tensors against config.json

TEST(LoadErrors, TensorMissing) {
  ModelFolder m(kStories);
  m.edit_tensors("model.safetensors",
                 [](Tensors& t) { t.erase("model.layers.0.mlp.up_proj.weight"); });
  EXPECT_THAT(load_error(m.dir()),
              AllOf(HasSubstr("'model.layers.0.mlp.up_proj.weight'"), HasSubstr("missing"),
                    HasSubstr((m / "model.safetensors").string())));
}

TEST(LoadErrors, TensorWrongShape) {
  // Transposed: the right size, so only the shape check can catch it.
  ModelFolder m(kStories);
  m.edit_tensors("model.safetensors", [](Tensors& t) {
    t["model.layers.0.mlp.up_proj.weight"].shape = {64, 172};
  });
  EXPECT_THAT(load_error(m.dir()),
              AllOf(HasSubstr((m / "model.safetensors").string()),
                    HasSubstr("'model.layers.0.mlp.up_proj.weight'"), HasSubstr("[64, 172]"),
                    HasSubstr("config.json implies [172, 64]")));
}

TEST(LoadErrors, TensorUnsupportedDtype) {
  ModelFolder m(kStories);
  m.edit_tensors("model.safetensors", [](Tensors& t) { t["model.norm.weight"].dtype = "I32"; });
  EXPECT_THAT(load_error(m.dir()), AllOf(HasSubstr((m / "model.safetensors").string()),
                                         HasSubstr("'model.norm.weight'"), HasSubstr("dtype I32")));
}

TEST(LoadErrors, LmHeadMissingWhenUntied) {
  // stories260K ties its embeddings and so has no lm_head.weight.
  const std::string msg = config_error([](json& c) { c["tie_word_embeddings"] = false; });
  EXPECT_THAT(msg, AllOf(HasSubstr("'lm_head.weight'"), HasSubstr("missing"),
                         HasSubstr("tie_word_embeddings")));
}

TEST(LoadErrors, CheckpointHasMoreLayersThanConfig) {
  // Running 4 of 5 layers would give plausible-looking garbage.
  const std::string msg = config_error([](json& c) { c["num_hidden_layers"] = 4; });
  EXPECT_THAT(msg, AllOf(HasSubstr("'model.layers.4."), HasSubstr("num_hidden_layers")));
}

TEST(LoadErrors, UnexpectedBiasTensor) {
  ModelFolder m(kStories);
  m.edit_tensors("model.safetensors", [](Tensors& t) {
    t["model.layers.0.self_attn.q_proj.bias"] = {"F32", {64}, std::string(256, '\0')};
  });
  EXPECT_THAT(load_error(m.dir()),
              AllOf(HasSubstr((m / "model.safetensors").string()),
                    HasSubstr("'model.layers.0.self_attn.q_proj.bias'"), HasSubstr("not used")));
}

TEST(LoadErrors, HugeLayerCount) {
  // 2^30 layers must fail on the first missing layer, not on allocating 2^30 layer structs.
  const std::string msg = config_error([](json& c) { c["num_hidden_layers"] = 1 << 30; });
  EXPECT_THAT(msg, AllOf(HasSubstr("'model.layers.5."), HasSubstr("missing")));
}

// ---------------------------------------------------------------------------------------------
// Sharded checkpoints

TEST(LoadErrors, ShardMissing) {
  ModelFolder m(kSharded);
  m.remove("model-00002-of-00002.safetensors");
  EXPECT_THAT(
      load_error(m.dir()),
      AllOf(HasSubstr((m / "model-00002-of-00002.safetensors").string()),
            HasSubstr((m / "model.safetensors.index.json").string()), HasSubstr("missing")));
}

TEST(LoadErrors, IndexPlacesTensorInWrongShard) {
  ModelFolder m(kSharded);
  m.edit_json("model.safetensors.index.json", [](json& j) {
    j["weight_map"]["lm_head.weight"] = "model-00002-of-00002.safetensors";
  });
  EXPECT_THAT(
      load_error(m.dir()),
      AllOf(HasSubstr((m / "model.safetensors.index.json").string()), HasSubstr("'lm_head.weight'"),
            HasSubstr((m / "model-00002-of-00002.safetensors").string()),
            HasSubstr("does not hold it")));
}

TEST(LoadErrors, IndexWithoutWeightMap) {
  ModelFolder m(kSharded);
  m.edit_json("model.safetensors.index.json", [](json& j) { j.erase("weight_map"); });
  EXPECT_THAT(load_error(m.dir()), AllOf(HasSubstr((m / "model.safetensors.index.json").string()),
                                         HasSubstr("'weight_map'")));
}

TEST(LoadErrors, IndexNotJson) {
  ModelFolder m(kSharded);
  loom::test::write_text(m / "model.safetensors.index.json", "{\"weight_map\": ");
  EXPECT_THAT(load_error(m.dir()), AllOf(HasSubstr((m / "model.safetensors.index.json").string()),
                                         HasSubstr("invalid JSON")));
}

TEST(LoadErrors, IndexOmitsTensor) {
  ModelFolder m(kSharded);
  m.edit_json("model.safetensors.index.json",
              [](json& j) { j["weight_map"].erase("model.norm.weight"); });
  EXPECT_THAT(load_error(m.dir()), AllOf(HasSubstr("'model.norm.weight'"), HasSubstr("missing"),
                                         HasSubstr((m / "model.safetensors.index.json").string())));
}

// ---------------------------------------------------------------------------------------------
// Sessions: options, token ids and the context

class SessionErrors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { model_ = new loom::Model(loom::Model::load(kStories)); }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  static const loom::Model& model() { return *model_; }
  static std::vector<int> ids(int n) { return std::vector<int>(n, 42); }

 private:
  static loom::Model* model_;
};
loom::Model* SessionErrors::model_ = nullptr;

TEST_F(SessionErrors, PromptLongerThanContext) {
  loom::Session s(model(), {.ctx_size = 8, .threads = 1});
  EXPECT_THAT(error_of([&] { s.prefill(ids(9)); }),
              AllOf(HasSubstr("9 token(s) at position 0"), HasSubstr("context of 8")));
  EXPECT_THAT(error_of([&] { s.prefill_all_logits(ids(9)); }), HasSubstr("context of 8"));
  EXPECT_EQ(s.position(), 0);  // nothing was evaluated
}

TEST_F(SessionErrors, DecodePastContext) {
  loom::Session s(model(), {.ctx_size = 8, .threads = 1});
  s.prefill(ids(7));
  s.decode(42);
  EXPECT_THAT(error_of([&] { s.decode(42); }),
              AllOf(HasSubstr("at position 8"), HasSubstr("context of 8")));
  EXPECT_EQ(s.position(), 8);
}

TEST_F(SessionErrors, TokenIdNegative) {
  loom::Session s(model(), {.ctx_size = 8, .threads = 1});
  EXPECT_THAT(error_of([&] {
                s.prefill(std::vector<int>{1, 5, -1});
              }),
              AllOf(HasSubstr("token id -1"), HasSubstr("position 2"), HasSubstr("[0, 512)")));
  EXPECT_THAT(error_of([&] { s.decode(-1); }), HasSubstr("token id -1"));
}

TEST_F(SessionErrors, TokenIdEqualsVocabSize) {
  loom::Session s(model(), {.ctx_size = 8, .threads = 1});
  EXPECT_THAT(error_of([&] { s.prefill(std::vector<int>{512}); }),
              AllOf(HasSubstr("token id 512"), HasSubstr("[0, 512)")));
  EXPECT_THAT(error_of([&] { s.decode(512); }), HasSubstr("token id 512"));
  EXPECT_THAT(error_of([&] {
                s.prefill_all_logits(std::vector<int>{1, 512});
              }),
              HasSubstr("token id 512"));
}

TEST_F(SessionErrors, EmptyIds) {
  loom::Session s(model(), {.ctx_size = 8, .threads = 1});
  EXPECT_THAT(error_of([&] { s.prefill({}); }), HasSubstr("no tokens"));
  EXPECT_THAT(error_of([&] { s.prefill_all_logits({}); }), HasSubstr("no tokens"));
}

TEST_F(SessionErrors, NegativeContextSize) {
  EXPECT_THAT(error_of([&] { loom::Session(model(), {.ctx_size = -1}); }),
              AllOf(HasSubstr("ctx_size"), HasSubstr("-1")));
}

TEST_F(SessionErrors, NegativeThreads) {
  EXPECT_THAT(error_of([&] { loom::Session(model(), {.threads = -2}); }),
              AllOf(HasSubstr("threads"), HasSubstr("-2")));
}

TEST_F(SessionErrors, HugeContextOrThreadCount) {
  EXPECT_THAT(error_of([&] { loom::Session(model(), {.ctx_size = 1 << 30}); }),
              AllOf(HasSubstr("ctx_size 1073741824"), HasSubstr("GiB")));
  EXPECT_THAT(error_of([&] { loom::Session(model(), {.threads = 1 << 28}); }),
              HasSubstr("threads must be in [0, 4096]"));
}

TEST_F(SessionErrors, NonPositiveBatchSize) {
  EXPECT_THAT(error_of([&] { loom::Session(model(), {.batch_size = 0}); }),
              AllOf(HasSubstr("batch_size"), HasSubstr("0")));
}

TEST_F(SessionErrors, NegativeMaxTokens) {
  loom::Session s(model(), {.ctx_size = 8, .threads = 1});
  EXPECT_THAT(error_of([&] { loom::generate(s, ids(2), {.max_tokens = -1}); }),
              AllOf(HasSubstr("max_tokens"), HasSubstr("-1")));
}

TEST_F(SessionErrors, TokenizerDecodeOutsideVocab) {
  EXPECT_THAT(error_of([&] {
                model().tokenizer().decode(std::vector<int>{1, 512});
              }),
              HasSubstr("token id 512"));
}

}  // namespace
