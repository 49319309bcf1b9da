// The tokenizer.json tokenizer against tokenizers' own results: small hand-written files under
// tests/data/tokenizers/ (ids worked out by hand and confirmed with tokenizers 0.23.2), every
// error a malformed file can cause, and the real Llama 3 / Qwen3 / Llama 2 files (ids from
// transformers 5.17 on the device machine).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "loom/tokenizer.h"
#include "support/checkpoint_writer.h"
#include "support/error_of.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using loom::Tokenizer;
using loom::TokenizerOptions;
using loom::test::error_of;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const fs::path kData = fs::path(LOOM_SOURCE_DIR) / "tests/data/tokenizers";
const fs::path kReal = fs::path(LOOM_SHARED_DIR) / "fixtures/tokenizers";

std::vector<int> ids(std::initializer_list<int> l) {
  return l;
}

// Whether S is whole UTF-8 characters (lead bytes followed by all their continuation bytes).
bool whole_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// A byte-level BPE: NFC, a Split regex then ByteLevel, a BOS template, added tokens of each kind.

const Tokenizer& bytelevel() {
  static const Tokenizer t = Tokenizer::load(kData / "bytelevel", 20);
  return t;
}

TEST(TokenizerJson, ByteLevelEncodes) {
  const Tokenizer& t = bytelevel();
  // "hello" merges to one token through four merges; " world" starts with the "Ġw" merge.
  EXPECT_EQ(t.encode("hello world", false), ids({11, 12, 3, 6, 2, 7}));
  EXPECT_EQ(t.encode("hello world", true), ids({20, 11, 12, 3, 6, 2, 7}));
  // (?i:'s) and single digits; é is two bytes, each its own character; \n is "Ċ".
  EXPECT_EQ(t.encode("he's 12", false), ids({8, 13, 14, 4, 15, 16}));
  EXPECT_EQ(t.encode("h\xC3\xA9\n", false), ids({0, 17, 18, 19}));
  // Characters the vocabulary lacks (no unk_token) are dropped, as tokenizers drops them.
  EXPECT_EQ(t.encode("hi\nt", false), ids({0, 19}));
}

TEST(TokenizerJson, ByteLevelAddedTokens) {
  const Tokenizer& t = bytelevel();
  EXPECT_EQ(t.encode("hello<|end|>world", false), ids({11, 21, 5, 3, 6, 2, 7}));
  EXPECT_EQ(t.encode("<s>hello", true), ids({20, 20, 11}));
  // "lo" is single_word: not inside "hello", but alone.
  EXPECT_EQ(t.encode("say lo hello lo", false), ids({14, 4, 23, 4, 11, 4, 23}));
  // "<x>" strips the spaces on both sides (and "a", "b" are not in the vocabulary).
  EXPECT_EQ(t.encode("a <x> b", false), ids({22}));
  // Without parse_special, special tokens are text; non-special added ones still match.
  EXPECT_EQ(t.encode("hello<|end|>world", false, false), ids({11, 1, 7, 5, 3, 6, 2, 7}));
  EXPECT_EQ(t.encode("say lo hello lo", false, false), ids({14, 4, 23, 4, 11, 4, 23}));
}

TEST(TokenizerJson, ByteLevelDecodes) {
  const Tokenizer& t = bytelevel();
  EXPECT_EQ(t.decode(ids({11, 12, 3, 6, 2, 7})), "hello world");
  EXPECT_EQ(t.decode(ids({11, 21, 5, 3, 6, 2, 7})), "hello<|end|>world");
  EXPECT_EQ(t.decode(ids({11, 21, 5, 3, 6, 2, 7}), true), "helloworld");
  EXPECT_EQ(t.decode(ids({20, 0, 17, 18, 19})), "<s>h\xC3\xA9\n");
  // Half a character decodes to U+FFFD, as transformers' decode gives it.
  EXPECT_EQ(t.decode(ids({0, 17})), "h\xEF\xBF\xBD");
  EXPECT_THAT(error_of([&] { t.decode(ids({24})); }), HasSubstr("token id 24"));
}

TEST(TokenizerJson, ByteLevelTokens) {
  const Tokenizer& t = bytelevel();
  EXPECT_EQ(t.vocab_size(), 24);
  EXPECT_EQ(t.bos_id(), 20);
  EXPECT_TRUE(t.add_bos());
  EXPECT_FALSE(t.strips_leading_space());
  EXPECT_EQ(t.describe(), "tokenizer.json (BPE, byte-level, 24 tokens)");
  EXPECT_EQ(t.token_bytes(12), " w");
  EXPECT_EQ(t.token_bytes(17), "\xC3");
  EXPECT_EQ(t.token_bytes(19), "\n");
  EXPECT_EQ(t.token_bytes(21), "");  // special
  EXPECT_EQ(t.token_bytes(22), "<x>");
  EXPECT_EQ(t.token_id("<|end|>"), 21);
  EXPECT_EQ(t.token_id("Ġw"), 12);
  EXPECT_EQ(t.token_id(" w"), std::nullopt);
  EXPECT_TRUE(t.is_special(21));
  EXPECT_FALSE(t.is_special(22));
  EXPECT_FALSE(t.is_special(12));
}

TEST(TokenizerJson, ConfigFlagsLeaveThePostProcessor) {
  // With a tokenizer.json, transformers drops tokenizer_config.json's add_bos_token and
  // add_eos_token on loading: the file's post-processor alone decides what add_special adds.
  loom::test::TempDir dir;
  fs::copy(kData / "bytelevel/tokenizer.json", dir.path() / "tokenizer.json");
  loom::test::write_text(
      dir.path() / "tokenizer_config.json",
      R"({"add_bos_token": false, "add_eos_token": true, "eos_token": "<|end|>"})");
  const Tokenizer t = Tokenizer::load(dir.path(), -1);
  EXPECT_EQ(t.encode("hello", true), ids({20, 11}));
  // bos_token from special_tokens_map.json when the config does not name it.
  EXPECT_EQ(t.bos_id(), -1);
  loom::test::write_text(dir.path() / "special_tokens_map.json", R"({"bos_token": "<s>"})");
  const Tokenizer t2 = Tokenizer::load(dir.path(), -1);
  EXPECT_EQ(t2.bos_id(), 20);
  EXPECT_TRUE(t2.add_bos());
}

TEST(TokenizerJson, RejectsInvalidUtf8) {
  EXPECT_THAT(error_of([] { bytelevel().encode("ab\xC3(", false); }),
              AllOf(HasSubstr("not valid UTF-8"), HasSubstr("byte 2")));
}

// ---------------------------------------------------------------------------------------------
// A sentencepiece-style BPE: Prepend + Replace normalizers, byte fallback, unk fusing, the
// Replace/ByteFallback/Fuse/Strip decoders.

const Tokenizer& spm() {
  static const Tokenizer t = Tokenizer::load(kData / "spm", -1);
  return t;
}

TEST(TokenizerJson, SentencepieceStyleEncodes) {
  const Tokenizer& t = spm();
  EXPECT_EQ(t.encode("hi\nt", true), ids({1, 10, 3, 11}));  // \n through <0x0A>
  EXPECT_EQ(t.encode("h\xC3\xA9", false), ids({9, 4, 5}));  // é through its two bytes
  EXPECT_EQ(t.encode("hqq t", false), ids({9, 0, 12}));     // two unknown characters, one <unk>
  // Each stretch between added tokens is normalized alone: "hi" after </s> gets its own "▁".
  EXPECT_EQ(t.encode("hi</s>hi", false), ids({10, 2, 10}));
  EXPECT_EQ(t.encode("  hi  ", false), ids({6, 6, 10, 6, 6}));
}

TEST(TokenizerJson, SentencepieceStyleDecodes) {
  const Tokenizer& t = spm();
  EXPECT_EQ(t.decode(ids({10, 3, 11})), "hi\nt");
  EXPECT_EQ(t.decode(ids({9, 4, 5})), "h\xC3\xA9");
  EXPECT_EQ(t.decode(ids({9, 0, 12})), "h<unk> t");
  EXPECT_EQ(t.decode(ids({10, 2, 10})), "hi</s> hi");
  EXPECT_EQ(t.decode(ids({1, 10, 2, 10}), true), "hi hi");
  EXPECT_EQ(t.decode(ids({6, 6, 10, 6, 6})), "  hi  ");  // Strip takes one of the two spaces
  EXPECT_EQ(t.decode(ids({9, 4})), "h\xEF\xBF\xBD");
  EXPECT_TRUE(t.strips_leading_space());
  EXPECT_EQ(t.token_bytes(3), "\n");
  EXPECT_EQ(t.token_bytes(12), " t");
  EXPECT_EQ(t.token_bytes(1), "");
  EXPECT_EQ(t.bos_id(), -1);  // no tokenizer_config.json, no bos_id given
  EXPECT_EQ(t.describe(), "tokenizer.json (BPE, byte-fallback, 13 tokens)");
}

// tokenizer_class LlamaTokenizer (or LlamaTokenizerFast) on a byte-fallback file: transformers
// 5.17 drops the file's normalizer, pre-tokenizer and decoder for Metaspace("▁", no split) and
// Replace/ByteFallback/Fuse/Strip; "▁" goes before the text's start only unless legacy is true,
// and nowhere with add_prefix_space false (then no Strip either). Ids worked out by hand from
// that pipeline over the spm file's vocabulary.
class LlamaClass : public ::testing::Test {
 protected:
  Tokenizer load(const std::string& config) {
    fs::copy(kData / "spm/tokenizer.json", dir_.path() / "tokenizer.json",
             fs::copy_options::overwrite_existing);
    loom::test::write_text(dir_.path() / "tokenizer_config.json", config);
    return Tokenizer::load(dir_.path(), -1);
  }
  loom::test::TempDir dir_;
};

TEST_F(LlamaClass, PrependsOnlyAtTheStart) {
  const Tokenizer t = load(R"({"tokenizer_class": "LlamaTokenizer"})");
  EXPECT_THAT(t.describe(), HasSubstr("read as transformers' LlamaTokenizer"));
  // The file's Prepend normalizer gives "▁hi" after </s> too (10); the class gives "hi".
  EXPECT_EQ(t.encode("hi</s>hi", false), ids({10, 2, 7, 8}));
  // A leading space is the "▁" itself: no second one (the file gives 6, 10).
  EXPECT_EQ(t.encode(" hi", false), ids({10}));
  EXPECT_EQ(t.encode("  hi", false), ids({6, 10}));
  EXPECT_EQ(t.encode("hi", true), ids({1, 10}));  // the file's post-processor stays
  EXPECT_EQ(t.decode(ids({10, 2, 7, 8})), "hi</s>hi");
  EXPECT_TRUE(t.strips_leading_space());
}

TEST_F(LlamaClass, LegacyPrependsAfterSpecialTokens) {
  const Tokenizer t = load(R"({"tokenizer_class": "LlamaTokenizerFast", "legacy": true})");
  EXPECT_EQ(t.encode("hi</s>hi", false), ids({10, 2, 10}));
  EXPECT_EQ(t.encode(" hi", false), ids({10}));
}

TEST_F(LlamaClass, NoPrefixSpace) {
  const Tokenizer t = load(R"({"tokenizer_class": "LlamaTokenizer", "add_prefix_space": false})");
  EXPECT_EQ(t.encode("hi", false), ids({7, 8}));
  EXPECT_EQ(t.encode(" hi", false), ids({10}));
  EXPECT_EQ(t.decode(ids({10})), " hi");  // no Strip
  EXPECT_FALSE(t.strips_leading_space());
}

TEST_F(LlamaClass, OtherClassesKeepTheFile) {
  const Tokenizer t = load(R"({"tokenizer_class": "PreTrainedTokenizerFast"})");
  EXPECT_EQ(t.encode("hi</s>hi", false), ids({10, 2, 10}));
  EXPECT_EQ(t.encode(" hi", false), ids({6, 10}));
  EXPECT_EQ(t.describe(), "tokenizer.json (BPE, byte-fallback, 13 tokens)");
}

TEST(TokenizerJson, LlamaClassKeepsAByteLevelFile) {
  // On a byte-level file the class's Metaspace would lose every space; loom keeps the file.
  loom::test::TempDir dir;
  fs::copy(kData / "bytelevel/tokenizer.json", dir.path() / "tokenizer.json");
  loom::test::write_text(dir.path() / "tokenizer_config.json",
                         R"({"tokenizer_class": "LlamaTokenizerFast"})");
  const Tokenizer t = Tokenizer::load(dir.path(), -1);
  EXPECT_EQ(t.encode("hello world", false), ids({11, 12, 3, 6, 2, 7}));
  EXPECT_EQ(t.describe(), "tokenizer.json (BPE, byte-level, 24 tokens)");
}

// Tokens tokenizer_config.json names (or its class names by default) are special for decode and
// streaming, as transformers re-adds them as special, even where tokenizer.json says they are
// not; the input is still split on them as the file says.
TEST(TokenizerJson, ConfigNamedTokensAreSpecial) {
  loom::test::TempDir dir;
  fs::copy(kData / "bytelevel/tokenizer.json", dir.path() / "tokenizer.json");
  const auto load = [&](const std::string& config) {
    loom::test::write_text(dir.path() / "tokenizer_config.json", config);
    return Tokenizer::load(dir.path(), -1);
  };
  // "<x>" (22) is a non-special added token in the file.
  EXPECT_FALSE(load("{}").is_special(22));
  for (const char* config :
       {R"({"mask_token": "<x>"})", R"({"pad_token": {"__type": "AddedToken", "content": "<x>"}})",
        R"({"additional_special_tokens": ["<x>"]})",
        R"({"extra_special_tokens": {"image_token": "<x>"}})"}) {
    SCOPED_TRACE(config);
    const Tokenizer t = load(config);
    EXPECT_TRUE(t.is_special(22));
    EXPECT_EQ(t.decode(ids({11, 22}), true), "hello");
    EXPECT_EQ(t.decode(ids({11, 22})), "hello<x>");
    EXPECT_EQ(t.token_bytes(22), "");
    EXPECT_EQ(t.encode("a <x> b", false), ids({22}));  // still lstrip/rstrip, as the file says
  }
  // GemmaTokenizer's mask_token defaults to "<mask>"; a null mask_token names none.
  json j = loom::test::read_json(kData / "bytelevel/tokenizer.json");
  j["added_tokens"][2]["content"] = "<mask>";
  loom::test::write_json(dir.path() / "tokenizer.json", j);
  EXPECT_TRUE(load(R"({"tokenizer_class": "GemmaTokenizer"})").is_special(22));
  EXPECT_FALSE(load(R"({"tokenizer_class": "GemmaTokenizer", "mask_token": null})").is_special(22));
  EXPECT_FALSE(load(R"({"tokenizer_class": "PreTrainedTokenizerFast"})").is_special(22));
}

TEST(TokenizerJson, ConfigSpecialTokenErrors) {
  loom::test::TempDir dir;
  fs::copy(kData / "bytelevel/tokenizer.json", dir.path() / "tokenizer.json");
  const fs::path config = dir.path() / "tokenizer_config.json";
  const auto error_with = [&](const std::string& text) {
    loom::test::write_text(config, text);
    return error_of([&] { Tokenizer::load(dir.path(), -1); });
  };
  EXPECT_THAT(
      error_with(R"({"extra_special_tokens": 5})"),
      AllOf(HasSubstr(config.string()), HasSubstr("'extra_special_tokens' must be a list")));
  EXPECT_THAT(error_with(R"({"additional_special_tokens": ["<x>", 3]})"),
              AllOf(HasSubstr(config.string()), HasSubstr("'additional_special_tokens[1]'"),
                    HasSubstr("must be a token")));
  EXPECT_THAT(error_with(R"({"extra_special_tokens": {"image_token": {"id": 4}}})"),
              HasSubstr("'extra_special_tokens.image_token' must be a token"));
  EXPECT_THAT(error_with(R"({"tokenizer_class": "LlamaTokenizer", "legacy": "yes"})"),
              AllOf(HasSubstr(config.string()), HasSubstr("'legacy' must be true or false")));
}

TEST(TokenizerJson, TextStreamMatchesDecode) {
  const Tokenizer& t = spm();
  const std::vector<int> seq = {10, 3, 9, 4, 5, 6, 12};
  loom::TextStream stream(t);
  std::string out;
  for (int id : seq) {
    const std::string_view piece = stream.push(id);
    EXPECT_TRUE(whole_utf8(piece)) << piece;
    out += piece;
  }
  out += stream.flush();
  EXPECT_EQ(out, t.decode(seq));
}

// ---------------------------------------------------------------------------------------------
// Each normalizer and pre-tokenizer on its own, over tests/data/tokenizers/pieces: single
// characters and merges that cross the places the pre-tokenizers cut, so the ids show the cuts.
// Expected ids from tokenizers 0.23.2 with the same JSON (scripts/tokenizer_piece_cases.py).

struct PieceCase {
  std::string name;
  json pre_tokenizer, normalizer;
  std::vector<std::pair<std::string, std::vector<int>>> texts;
};

// tests/data/tokenizers/pieces/cases.json; scripts/tokenizer_piece_cases.py recomputes its ids.
std::vector<PieceCase> piece_cases() {
  std::vector<PieceCase> cases;
  for (const json& c : loom::test::read_json(kData / "pieces/cases.json")) {
    PieceCase p{c["name"], c["pre_tokenizer"], c["normalizer"], {}};
    for (const json& row : c["texts"]) {
      p.texts.emplace_back(row[0].get<std::string>(), row[1].get<std::vector<int>>());
    }
    cases.push_back(std::move(p));
  }
  return cases;
}

class Pieces : public ::testing::TestWithParam<PieceCase> {};

TEST_P(Pieces, EncodesAsTokenizers) {
  const PieceCase& c = GetParam();
  json j = loom::test::read_json(kData / "pieces/tokenizer.json");
  j["pre_tokenizer"] = c.pre_tokenizer;
  j["normalizer"] = c.normalizer;
  loom::test::TempDir dir;
  loom::test::write_json(dir.path() / "tokenizer.json", j);
  const Tokenizer t = Tokenizer::load(dir.path(), -1);
  for (const auto& [text, expected] : c.texts) {
    EXPECT_EQ(t.encode(text, false), expected) << "text: \"" << text << "\"";
  }
}

INSTANTIATE_TEST_SUITE_P(EachStep, Pieces, ::testing::ValuesIn(piece_cases()),
                         [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------------
// Errors: each names the file and what is wrong in it.

class BadFile : public ::testing::Test {
 protected:
  // Writes the byte-level test file after EDIT to a fresh folder; returns the load error.
  std::string error_after(const std::function<void(json&)>& edit) {
    json j = loom::test::read_json(kData / "bytelevel/tokenizer.json");
    edit(j);
    loom::test::write_json(file(), j);
    return error_of([&] { Tokenizer::load(dir_.path(), -1); });
  }
  fs::path file() const { return dir_.path() / "tokenizer.json"; }
  loom::test::TempDir dir_;
};

TEST_F(BadFile, MalformedJson) {
  loom::test::write_text(file(), "{\n  \"model\": {\"type\": \"BPE\",,}\n}");
  EXPECT_THAT(
      error_of([&] { Tokenizer::load(dir_.path(), -1); }),
      AllOf(HasSubstr(file().string()), HasSubstr("malformed JSON"), HasSubstr("line 2, column")));
}

TEST_F(BadFile, MissingKey) {
  EXPECT_THAT(error_after([](json& j) { j["model"].erase("merges"); }),
              AllOf(HasSubstr(file().string()), HasSubstr("missing key 'model.merges'")));
  EXPECT_THAT(error_after([](json& j) { j["pre_tokenizer"]["pretokenizers"][0].erase("pattern"); }),
              HasSubstr("missing key 'pre_tokenizer.pretokenizers[0].pattern'"));
}

TEST_F(BadFile, MergeWithUnknownToken) {
  EXPECT_THAT(error_after([](json& j) { j["model"]["merges"][1] = "l q"; }),
              AllOf(HasSubstr(file().string()), HasSubstr("model.merges[1]"), HasSubstr("\"l q\""),
                    HasSubstr("names token 'q', which is not in model.vocab")));
  EXPECT_THAT(error_after([](json& j) { j["model"]["merges"][1] = "l o"; }),
              HasSubstr("merges into 'lo', which is not in model.vocab"));
  EXPECT_THAT(error_after([](json& j) { j["model"]["merges"][1] = "lo"; }),
              HasSubstr("must be two tokens separated by one space"));
}

TEST_F(BadFile, RegexThatDoesNotCompile) {
  EXPECT_THAT(error_after([](json& j) {
                j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(\\p{L}+";
              }),
              AllOf(HasSubstr(file().string()), HasSubstr("pre_tokenizer.pretokenizers[0].pattern"),
                    HasSubstr("regex '(\\p{L}+' does not compile"),
                    HasSubstr("missing closing parenthesis")));
}

TEST_F(BadFile, UnsupportedTypes) {
  EXPECT_THAT(error_after([](json& j) { j["model"]["type"] = "Unigram"; }),
              AllOf(HasSubstr(file().string()), HasSubstr("model type 'Unigram'"),
                    HasSubstr("not support")));
  EXPECT_THAT(error_after([](json& j) { j["model"]["type"] = "WordPiece"; }),
              HasSubstr("model type 'WordPiece'"));
  EXPECT_THAT(
      error_after([](json& j) {
        j["normalizer"] = {{"type", "Precompiled"}};
      }),
      AllOf(HasSubstr("key 'normalizer.type'"), HasSubstr("normalizer type 'Precompiled'")));
  EXPECT_THAT(error_after([](json& j) {
                j["pre_tokenizer"]["pretokenizers"][0] = {{"type", "UnicodeScripts"}};
              }),
              HasSubstr("pre-tokenizer type 'UnicodeScripts'"));
  EXPECT_THAT(error_after([](json& j) {
                j["decoder"] = {{"type", "CTC"}};
              }),
              HasSubstr("decoder type 'CTC'"));
  EXPECT_THAT(error_after([](json& j) {
                j["post_processor"] = {{"type", "Fancy"}};
              }),
              HasSubstr("post-processor type 'Fancy'"));
  EXPECT_THAT(error_after([](json& j) { j["model"]["dropout"] = 0.1; }),
              AllOf(HasSubstr("model.dropout"), HasSubstr("without dropout")));
  // ByteLevel before another pre-tokenizer would need the text in byte-level characters.
  EXPECT_THAT(error_after([](json& j) {
                auto& p = j["pre_tokenizer"]["pretokenizers"];
                std::swap(p[0], p[1]);
              }),
              HasSubstr("after a ByteLevel one"));
}

TEST_F(BadFile, AddedTokenIdOutOfRange) {
  EXPECT_THAT(error_after([](json& j) { j["added_tokens"][1]["id"] = 1000; }),
              AllOf(HasSubstr(file().string()), HasSubstr("added_tokens[1].id"),
                    HasSubstr("'<|end|>'"), HasSubstr("1000"), HasSubstr("outside 0..23")));
  EXPECT_THAT(error_after([](json& j) { j["added_tokens"][0]["id"] = -1; }),
              HasSubstr("outside 0..23"));
}

TEST_F(BadFile, TemplateWithUndefinedToken) {
  EXPECT_THAT(error_after([](json& j) { j["post_processor"]["special_tokens"] = json::object(); }),
              AllOf(HasSubstr("post_processor.single[0]"), HasSubstr("'<s>'")));
}

TEST_F(BadFile, NoTokenizerFile) {
  EXPECT_THAT(
      error_of([&] { Tokenizer::load(dir_.path(), -1); }),
      AllOf(HasSubstr("no tokenizer.json or tokenizer.model"), HasSubstr(dir_.path().string())));
  EXPECT_THAT(error_of([&] {
                Tokenizer::load(dir_.path(), -1, {.source = TokenizerOptions::Source::Json});
              }),
              HasSubstr("no tokenizer.json in"));
}

// ---------------------------------------------------------------------------------------------
// The real files in ../shared/fixtures/tokenizers/.

struct RealCase {
  const char* text;
  std::vector<int> llama3, qwen3, llama2;
};

// add_special_tokens=False. NFD text, digits (three at a time for Llama 3, one for Qwen3),
// contractions in capitals (the regex's (?i:...)), \r\n and runs of spaces, emoji bytes split
// across tokens, and special tokens of other models' vocabularies read as text.
const RealCase kRealCases[] = {
    {"Hello world", {9906, 1917}, {9707, 1879}, {15043, 3186}},
    {"  two  spaces", {220, 1403, 220, 12908}, {220, 1378, 220, 12621}, {259, 10184, 259, 22854}},
    {"na\u00efve caf\u00e9",
     {3458, 38672, 588, 53050},
     {3376, 37572, 586, 51950},
     {1055, 30085, 345, 274, 28059}},
    {"nai\u0308ve cafe\u0301",
     {77, 2192, 127104, 588, 42030, 54939},
     {3376, 37572, 586, 51950},
     {1055, 29875, 31719, 345, 5777, 1725, 30103}},
    {"12345 3.14",
     {4513, 1774, 220, 18, 13, 975},
     {16, 17, 18, 19, 20, 220, 18, 13, 16, 19},
     {29871, 29896, 29906, 29941, 29946, 29945, 29871, 29941, 29889, 29896, 29946}},
    {"\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
     {102433, 102158, 16144, 57933, 62903, 71634},
     {101059, 102819, 15767, 56833, 61803, 70534},
     {29871, 30325, 30346, 30968, 30199, 30572, 30454, 30255, 30279}},
    {"emoji \U0001F44B\U0001F3FD",
     {38623, 62904, 233, 9468, 237, 121},
     {37523, 61804, 233, 145375},
     {953, 29877, 2397, 29871, 243, 162, 148, 142, 243, 162, 146, 192}},
    {"I'M HERE, THEY'RE",
     {40, 28703, 19804, 11, 63593, 95253},
     {40, 27603, 19249, 11, 62493, 94153},
     {306, 29915, 29924, 379, 27267, 29892, 6093, 29979, 29915, 1525}},
    {"line1\r\nline2\n\n\t x  ",
     {1074, 16, 319, 1074, 17, 271, 197, 865, 256},
     {1056, 16, 319, 1056, 17, 271, 197, 856, 256},
     {1196, 29896, 30004, 13, 1220, 29906, 13, 13, 12, 921, 259}},
    {"<|eot_id|><|im_end|></s>",
     {128009, 27, 91, 318, 6345, 91, 1500, 82, 29},
     {27, 91, 68, 354, 842, 91, 29, 151645, 522, 82, 29},
     {529, 29989, 29872, 327, 29918, 333, 29989, 5299, 29989, 326, 29918, 355, 29989, 29958, 2}},
};

const Tokenizer& real(const char* name) {
  static std::map<std::string, Tokenizer> loaded;
  auto it = loaded.find(name);
  if (it == loaded.end()) it = loaded.emplace(name, Tokenizer::load(kReal / name, -1)).first;
  return it->second;
}

TEST(TokenizerReal, Llama3) {
  const Tokenizer& t = real("llama3");
  EXPECT_EQ(t.describe(), "tokenizer.json (BPE, byte-level, 128256 tokens)");
  EXPECT_EQ(t.bos_id(), 128000);
  EXPECT_FALSE(t.add_bos());  // this file's post-processor adds nothing
  for (const RealCase& c : kRealCases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(t.encode(c.text, false), c.llama3);
    EXPECT_EQ(t.encode(c.text, true), c.llama3);
  }
  EXPECT_EQ(t.token_id("<|eot_id|>"), 128009);
  EXPECT_TRUE(t.is_special(128009));
  EXPECT_EQ(t.token_bytes(128009), "");
  EXPECT_EQ(t.token_bytes(12908), " spaces");
  // clean_up_tokenization_spaces is true in this tokenizer_config.json, but transformers (5.7 on)
  // never applies it to BPE models: the spaces before punctuation stay.
  EXPECT_EQ(t.decode(ids({9906, 1174, 1917, 662})), "Hello , world .");
}

TEST(TokenizerReal, Qwen3) {
  const Tokenizer& t = real("qwen3");
  EXPECT_EQ(t.describe(), "tokenizer.json (BPE, byte-level, 151669 tokens)");
  EXPECT_EQ(t.bos_id(), -1);  // bos_token is null
  EXPECT_FALSE(t.add_bos());
  for (const RealCase& c : kRealCases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(t.encode(c.text, true), c.qwen3);
    // decode(encode(text)) is the text, in NFC.
    if (std::string_view(c.text).starts_with("nai")) continue;
    EXPECT_EQ(t.decode(c.qwen3), c.text);
  }
  EXPECT_EQ(t.token_id("<think>"), 151667);
  EXPECT_FALSE(t.is_special(151667));  // a non-special added token: streamed as text
  EXPECT_EQ(t.token_bytes(151667), "<think>");
  // Special tokens read as text when parse_special is off.
  EXPECT_EQ(t.encode("<|im_end|>", false, false), ids({27, 91, 318, 6213, 91, 29}));
}

TEST(TokenizerReal, Llama2Json) {
  const Tokenizer& t = real("llama2-json");
  EXPECT_EQ(t.describe(),
            "tokenizer.json (BPE, byte-fallback, 32000 tokens, read as transformers' "
            "LlamaTokenizer)");
  EXPECT_TRUE(t.add_bos());
  EXPECT_TRUE(t.strips_leading_space());
  for (const RealCase& c : kRealCases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(t.encode(c.text, false), c.llama2);
    std::vector<int> with_bos = {1};
    with_bos.insert(with_bos.end(), c.llama2.begin(), c.llama2.end());
    EXPECT_EQ(t.encode(c.text, true), with_bos);
  }
  EXPECT_EQ(t.decode(kRealCases[1].llama2), " two  spaces");  // Strip takes one leading space
}

// A folder with both files: tokenizer.json by default, as transformers; tokenizer.model on
// request. Their ids differ on runs of spaces, each right for its own file.
TEST(TokenizerReal, SourceOption) {
  loom::test::TempDir dir;
  fs::copy(kReal / "llama2-json/tokenizer.json", dir.path() / "tokenizer.json");
  fs::copy(fs::path(LOOM_SHARED_DIR) / "fixtures/llama2-gqa-bf16/tokenizer.model",
           dir.path() / "tokenizer.model");
  const Tokenizer json_tok = Tokenizer::load(dir.path(), 1);
  const Tokenizer spm_tok =
      Tokenizer::load(dir.path(), 1, {.source = TokenizerOptions::Source::SentencePiece});
  EXPECT_THAT(json_tok.describe(), HasSubstr("tokenizer.json"));
  EXPECT_EQ(spm_tok.describe(), "tokenizer.model (sentencepiece, 32000 pieces)");
  EXPECT_EQ(json_tok.encode("  two  spaces", true), ids({1, 259, 10184, 259, 22854}));
  EXPECT_EQ(spm_tok.encode("  two  spaces", true), ids({1, 259, 1023, 29871, 8162}));
}

// Streaming byte-level tokens gives whole characters and, joined, what decode gives.
TEST(TokenizerReal, TextStreamByteLevel) {
  const Tokenizer& t = real("qwen3");
  const std::string text = " emoji \U0001F44B\U0001F3FD \u65e5\u672c\u8a9e caf\u00e9 <think>x";
  const std::vector<int> seq = t.encode(text, false);
  loom::TextStream stream(t);
  std::string out;
  for (int id : seq) {
    const std::string_view piece = stream.push(id);
    EXPECT_TRUE(whole_utf8(piece));
    out += piece;
  }
  out += stream.flush();
  EXPECT_EQ(out, text);  // the leading space stays: byte-level decoders keep it
  EXPECT_EQ(out, t.decode(seq));
}

}  // namespace
