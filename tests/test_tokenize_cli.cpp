// loom-tokenize as users run it, with llama-tokenize's flags, on folders that hold nothing but
// tokenizer files. Expected ids are transformers' (tests/data/tokenizer_goldens).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "support/run_binary.h"

namespace {

using nlohmann::json;
using ::testing::HasSubstr;
namespace fs = std::filesystem;
const std::string kTokenizers = std::string(LOOM_SHARED_DIR) + "/fixtures/tokenizers";
const std::string kBin = std::string(LOOM_BIN_DIR) + "/loom-tokenize";

using Result = loom::test::CommandResult;
Result run(const std::string& args) {
  return loom::test::run_binary(kBin, args);
}

// The golden entry of tokenizer NAME for TEXT.
json golden(const std::string& name, const std::string& text) {
  std::ifstream in(std::string(LOOM_SOURCE_DIR) + "/tests/data/tokenizer_goldens/" + name +
                   ".json");
  const json g = json::parse(in);
  for (const json& e : g["entries"]) {
    if (e["text"] == text) {
      json out = e;
      out["prefix"] = g["prefix"];
      return out;
    }
  }
  ADD_FAILURE() << "no entry " << json(text).dump() << " in the goldens of " << name;
  return json::object();
}

std::vector<int> with_prefix(const json& e) {
  std::vector<int> ids = e["prefix"].get<std::vector<int>>();
  for (int id : e["plain"]) ids.push_back(id);
  return ids;
}

std::string ids_line(const std::vector<int>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(ids[i]);
  }
  return s + "]\n";
}

// A file holding BYTES, removed when the test ends.
struct TempFile {
  fs::path path;
  explicit TempFile(const std::string& bytes) {
    static int n = 0;
    path = fs::temp_directory_path() /
           ("loom_tokenize_" + std::to_string(getpid()) + "_" + std::to_string(n++) + ".txt");
    std::ofstream(path, std::ios::binary) << bytes;
  }
  ~TempFile() { fs::remove(path); }
};

int lines(const std::string& s) {
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

TEST(TokenizeCli, IdsAsTransformersWithBos) {
  const json e = golden("llama2-json", "Hello world");
  ASSERT_FALSE(e["prefix"].empty());  // this tokenizer adds <s>
  const Result r = run("-m " + kTokenizers + "/llama2-json -p 'Hello world' --ids");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ids_line(with_prefix(e)));
  const Result no_bos = run("-m " + kTokenizers + "/llama2-json -p 'Hello world' --ids --no-bos");
  ASSERT_EQ(no_bos.exit_code, 0) << no_bos.err;
  EXPECT_EQ(no_bos.out, ids_line(e["plain"].get<std::vector<int>>()));
}

// llama-tokenize's listing: "%6d -> '%s'" a token; the pieces spell the text.
TEST(TokenizeCli, ListsEachTokenWithItsText) {
  const std::string text = "The quick brown fox jumps over the lazy dog.";
  const json e = golden("llama3", text);
  const Result r = run("-m " + kTokenizers + "/llama3 -p '" + text + "' --show-count");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<int> ids;
  std::string spelled;
  std::istringstream in(r.out);
  std::string l, last;
  while (std::getline(in, l)) {
    const size_t arrow = l.find(" -> '");
    if (arrow == std::string::npos || l.back() != '\'') {
      last = l;
      continue;
    }
    EXPECT_GE(arrow, 6u) << "ids are right-aligned in six columns: " << l;
    ids.push_back(std::stoi(l.substr(0, arrow)));
    spelled += l.substr(arrow + 5, l.size() - arrow - 6);
  }
  EXPECT_EQ(ids, with_prefix(e));
  EXPECT_EQ(spelled, text);
  EXPECT_EQ(last, "Total number of tokens: " + std::to_string(ids.size()));
}

// A flag given twice takes its last value, as in every loom tool.
TEST(TokenizeCli, FlagGivenTwiceTakesTheLastValue) {
  const json e = golden("llama2-json", "Hello world");
  const Result r = run("-m /nonexistent -m " + kTokenizers +
                       "/llama2-json -p 'Goodbye' -p 'Hello world' --ids --ids");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ids_line(with_prefix(e)));
}

TEST(TokenizeCli, FileAndStdinAreReadAsBytes) {
  const std::string text = "Hello\r\nworld\r\n";
  const json e = golden("qwen3", text);
  const TempFile f(text);
  const std::string expected = ids_line(with_prefix(e));
  const Result file = run("-m " + kTokenizers + "/qwen3 -f " + f.path.string() + " --ids");
  ASSERT_EQ(file.exit_code, 0) << file.err;
  EXPECT_EQ(file.out, expected);
  const Result in = run("-m " + kTokenizers + "/qwen3 --stdin --ids < " + f.path.string());
  ASSERT_EQ(in.exit_code, 0) << in.err;
  EXPECT_EQ(in.out, expected);
}

// -p reads C escapes as llama-tokenize does; --no-escape keeps the backslashes.
TEST(TokenizeCli, PromptEscapes) {
  const json e = golden("llama3", "Hello\n\nworld");
  const Result r = run("-m " + kTokenizers + "/llama3 -p 'Hello\\n\\nworld' --ids --no-bos");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ids_line(e["plain"].get<std::vector<int>>()));

  const TempFile literal("Hello\\n\\nworld");
  const Result raw = run("-m " + kTokenizers + "/llama3 -p 'Hello\\n\\nworld' --ids --no-escape");
  const Result file = run("-m " + kTokenizers + "/llama3 -f " + literal.path.string() + " --ids");
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  EXPECT_EQ(raw.out, file.out);
  EXPECT_NE(raw.out, r.out);
}

TEST(TokenizeCli, SpecialTokenTextParsedOrNot) {
  const std::string text = "Hello<|eot_id|>world";
  const json e = golden("llama3", text);
  ASSERT_TRUE(e.contains("plain_split"));
  const TempFile f(text);
  const Result parsed = run("-m " + kTokenizers + "/llama3 -f " + f.path.string() + " --ids");
  ASSERT_EQ(parsed.exit_code, 0) << parsed.err;
  EXPECT_EQ(parsed.out, ids_line(e["plain"].get<std::vector<int>>()));
  const Result as_text =
      run("-m " + kTokenizers + "/llama3 -f " + f.path.string() + " --ids --no-parse-special");
  ASSERT_EQ(as_text.exit_code, 0) << as_text.err;
  EXPECT_EQ(as_text.out, ids_line(e["plain_split"].get<std::vector<int>>()));
}

// --decode prints exactly the text, special tokens included, with nothing after it.
TEST(TokenizeCli, DecodePrintsTheExactText) {
  const std::string text =
      "<|start_header_id|>user<|end_header_id|>\n\nHi there!<|eot_id|><|start_header_id|>"
      "assistant<|end_header_id|>\n\n";
  const json e = golden("llama3", text);
  ASSERT_TRUE(e["roundtrip"].get<bool>());
  std::string list;
  for (const json& id : e["plain"]) {
    if (!list.empty()) list += ',';
    list += std::to_string(id.get<int>());
  }
  const Result r = run("-m " + kTokenizers + "/llama3 --decode " + list + " --log-disable");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, text);
  EXPECT_EQ(r.err, "");
}

TEST(TokenizeCli, LogDisableLeavesStderrEmpty) {
  const Result r = run("-m " + kTokenizers + "/qwen3 -p hi --ids --log-disable");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const Result chatty = run("-m " + kTokenizers + "/qwen3 -p hi --ids");
  EXPECT_THAT(chatty.err, HasSubstr("tokenizer.json"));  // says what it loaded
}

// Each error: exit 1, one line naming what is wrong.
TEST(TokenizeCli, Errors) {
  struct Bad {
    std::string args, says;
  };
  const std::string m = "-m " + kTokenizers + "/llama3 ";
  const Bad cases[] = {
      {"-m /no/such/folder -p hi", "/no/such/folder"},
      {m + "-f /no/such/file.txt", "/no/such/file.txt"},
      {m + "--decode 1,x,3", "'x'"},
      {m + "--decode 1,,3", "''"},
      {m + "--decode 999999999", "999999999"},
      {m + "--decode=-1", "-1"},
      {m + "-p hi -f /etc/hostname", "one of"},
      {m + "--ids", "nothing to tokenize"},
      {"-m " + std::string(LOOM_SOURCE_DIR) + "/tests/data -p hi", "tests/data"},
  };
  for (const Bad& b : cases) {
    const Result r = run(b.args);
    EXPECT_EQ(r.exit_code, 1) << b.args;
    EXPECT_THAT(r.err, HasSubstr(b.says)) << b.args;
    EXPECT_EQ(lines(r.err), 1) << b.args << ": " << r.err;
    EXPECT_EQ(r.out, "") << b.args;
  }
}

}  // namespace
