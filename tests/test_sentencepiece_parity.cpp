// A folder with only a sentencepiece tokenizer.model, read as transformers 5 reads it: converted
// to a tokenizer.json (src/tokenizer/sentencepiece_convert.h). Checked three ways:
// - the conversion of fixtures/llama2-gqa-bf16/tokenizer.model equals transformers 5.17's own
//   conversion of that file (fixtures/tokenizers/llama2-json/tokenizer.json): vocabulary, all
//   61249 merges in order, added tokens, pre-tokenizer and decoder;
// - that folder's ids equal transformers' on the tokenizer corpus
//   (tests/data/tokenizer_goldens/llama2-json.json);
// - stories260K's model under four tokenizer_config.json variants (legacy true, false, absent;
//   add_prefix_space false) gives transformers' ids for the corpus and for texts holding <s>,
//   </s> and <unk> (tests/data/tokenizer_goldens/stories260K_sp.json, written on the device by
//   scripts/sentencepiece_goldens.py).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "loom/tokenizer.h"
#include "support/checkpoint_writer.h"
#include "tokenizer/sentencepiece_convert.h"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const fs::path kShared = LOOM_SHARED_DIR;
const fs::path kGoldens = fs::path(LOOM_SOURCE_DIR) / "tests/data/tokenizer_goldens";
const fs::path kLlama2Model = kShared / "fixtures/llama2-gqa-bf16/tokenizer.model";

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

TEST(SentencePieceConversion, EqualsTransformersConversion) {
  loom::detail::TokenizerConfig cfg;
  cfg.tokenizer_class = "LlamaTokenizer";
  cfg.legacy = true;  // the config transformers converted it under (llama2-gqa-bf16's)
  const std::optional<std::string> text =
      loom::detail::sentencepiece_to_tokenizer_json(kLlama2Model, cfg);
  ASSERT_TRUE(text.has_value());
  const json ours = json::parse(*text);
  const json theirs = read_json(kShared / "fixtures/tokenizers/llama2-json/tokenizer.json");
  ASSERT_EQ(theirs["model"]["merges"].size(), 61249u);
  EXPECT_EQ(ours["model"]["vocab"], theirs["model"]["vocab"]);
  EXPECT_TRUE(ours["model"]["merges"] == theirs["model"]["merges"]);  // 61249: no dump on failure
  for (const char* key : {"type", "byte_fallback", "fuse_unk", "unk_token", "ignore_merges"}) {
    EXPECT_EQ(ours["model"][key], theirs["model"][key]) << key;
  }
  for (const char* key : {"added_tokens", "normalizer", "pre_tokenizer", "decoder"}) {
    EXPECT_EQ(ours[key], theirs[key]) << key;
  }
  EXPECT_EQ(ours["post_processor"]["single"], theirs["post_processor"]["single"]);
}

// A folder of tokenizer.model and CONFIG (tokenizer_config.json's text).
struct ModelFolder {
  loom::test::TempDir dir;
  ModelFolder(const fs::path& model, const std::string& config) {
    fs::copy(model, dir.path() / "tokenizer.model");
    std::ofstream(dir.path() / "tokenizer_config.json") << config;
  }
};

void expect_ids(const loom::Tokenizer& tok, const json& entries) {
  for (const json& e : entries) {
    const std::string text = e["text"];
    SCOPED_TRACE(text);
    const auto plain = e["plain"].get<std::vector<int>>();
    EXPECT_EQ(tok.encode(text, false), plain);
    std::vector<int> ids = {tok.bos_id()};
    ids.insert(ids.end(), plain.begin(), plain.end());
    if (e.contains("ids")) ids = e["ids"].get<std::vector<int>>();
    EXPECT_EQ(tok.encode(text, true), ids);
  }
}

TEST(SentencePieceParity, Llama2ModelGivesTransformersIds) {
  const json g = read_json(kGoldens / "llama2-json.json");
  ASSERT_EQ(g["prefix"], json::array({1}));
  ModelFolder f(
      kLlama2Model,
      read_json(kShared / "fixtures/tokenizers/llama2-json/tokenizer_config.json").dump());
  const loom::Tokenizer tok = loom::Tokenizer::load(f.dir.path(), -1);
  EXPECT_EQ(tok.describe(),
            "tokenizer.model (sentencepiece BPE converted as transformers does, byte-fallback, "
            "32000 tokens, read as transformers' LlamaTokenizer)");
  ASSERT_EQ(g["entries"].size(), 291u);
  expect_ids(tok, g["entries"]);
  for (const json& e : g["entries"]) {
    if (e["roundtrip"] == true) {
      EXPECT_EQ(tok.decode(e["plain"].get<std::vector<int>>()), e["text"].get<std::string>());
    }
  }
}

TEST(SentencePieceParity, StoriesModelUnderEachConfig) {
  const json g = read_json(kGoldens / "stories260K_sp.json");
  ASSERT_EQ(g["variants"].size(), 4u);
  for (const json& v : g["variants"]) {
    SCOPED_TRACE(v["name"].get<std::string>());
    ModelFolder f(kShared / "models/stories260K/tokenizer.model", v["config"].dump());
    const loom::Tokenizer tok = loom::Tokenizer::load(f.dir.path(), -1);
    ASSERT_GT(v["entries"].size(), 300u);
    expect_ids(tok, v["entries"]);
  }
}

}  // namespace
