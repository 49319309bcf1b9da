// loom-generate as users and scripts run it: flags, llama.cpp aliases, machine-readable output,
// and clear errors with a non-zero exit.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace {

using nlohmann::json;
using ::testing::HasSubstr;
namespace fs = std::filesystem;
const std::string kShared = LOOM_SHARED_DIR;
const std::string kBin = std::string(LOOM_BIN_DIR) + "/loom-generate";

struct Result {
  int exit_code = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result run(const std::string& args) {
  const fs::path err_file =
      fs::temp_directory_path() / ("loom_cli_err_" + std::to_string(getpid()));
  const std::string cmd = kBin + " " + args + " 2>" + err_file.string();
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = slurp(err_file);
  fs::remove(err_file);
  return r;
}

json golden_stories() {
  std::ifstream in(kShared + "/fixtures/golden/stories260K.json");
  return json::parse(in);
}

TEST(Cli, DefaultModelStreamsTextAndTimings) {
  const Result r = run("-p 'Once upon a time' -n 20");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::StartsWith("Once upon a time, there was a little girl"));
  EXPECT_THAT(r.err, HasSubstr("prompt: 5 tokens"));
  EXPECT_THAT(r.err, HasSubstr("generated: 20 tokens"));
  EXPECT_THAT(r.err, HasSubstr("tok/s"));
}

TEST(Cli, JsonGreedyIdsMatchTransformers) {
  const json g = golden_stories()["cases"][0];
  const Result r = run("--model " + kShared + "/models/stories260K --prompt 'Once upon a time' " +
                       "--max-tokens 48 --threads 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["prompt_ids"], g["ids"]);
  EXPECT_EQ(j["ids"], g["greedy_ids"]);
  EXPECT_EQ(j["text"], g["greedy_text"]);
  EXPECT_EQ(j["stop_reason"], "max_tokens");
}

TEST(Cli, PromptIdsAddNoBos) {
  const Result r = run("--prompt-ids 403,407 -n 3 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["prompt_ids"], json::array({403, 407}));
  EXPECT_EQ(j["ids"].size(), 3u);
}

TEST(Cli, LlamaCppAliases) {
  const Result a = run("-m " + kShared + "/models/stories260K -p 'Lily' -n 5 -t 2 -c 64 --json");
  const Result b = run("--model " + kShared +
                       "/models/stories260K --prompt 'Lily' --n-predict 5 --threads 1 "
                       "--ctx-size 128 --json");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(json::parse(a.out)["ids"], json::parse(b.out)["ids"]);
}

TEST(Cli, DumpLogitsMatchesGolden) {
  const json g = golden_stories()["cases"][1];
  const fs::path out = fs::temp_directory_path() / ("loom_logits_" + std::to_string(getpid()));
  std::string ids;
  for (const auto& id : g["ids"]) {
    if (!ids.empty()) ids += ',';
    ids += std::to_string(id.get<int>());
  }
  const Result r = run("--prompt-ids " + ids + " --max-tokens 0 --dump-logits " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json d = json::parse(slurp(out));
  fs::remove(out);
  EXPECT_EQ(d["ids"], g["ids"]);
  ASSERT_EQ(d["logits"].size(), g["ids"].size());
  double err = 0;
  for (size_t p = 0; p < g["ids"].size(); ++p) {
    ASSERT_EQ(d["logits"][p].size(), 512u);
    for (size_t v = 0; v < 512; ++v) {
      err = std::max(
          err, std::abs(d["logits"][p][v].get<double>() - g["all_logits"][p][v].get<double>()));
    }
  }
  EXPECT_LT(err, 1e-3);
  EXPECT_TRUE(r.out.empty());  // --max-tokens 0: nothing generated
}

TEST(Cli, HelpListsFlagsWithDefaults) {
  const Result r = run("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--model", "--prompt", "--prompt-ids", "--max-tokens", "--n-predict",
                           "--threads", "--ctx-size", "--dump-logits", "--json"}) {
    EXPECT_THAT(r.out, HasSubstr(flag));
  }
}

TEST(Cli, MissingModelFolderIsAClearError) {
  const Result r = run("-m /nonexistent/model -p hi");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("/nonexistent/model"));
  EXPECT_TRUE(r.out.empty());
}

TEST(Cli, PromptLongerThanContextIsAClearError) {
  const Result r = run("-p 'Once upon a time there was a girl' -c 4");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("context of 4 tokens"));
}

TEST(Cli, BadPromptIdsAreAClearError) {
  Result r = run("--prompt-ids 1,abc");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("'abc'"));
  r = run("--prompt-ids 1,99999");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("99999"));
}

TEST(Cli, InvalidFlagValuesAreRejected) {
  for (const char* args : {"-t -1", "-n -5", "-c -1", "--no-such-flag", "-n many"}) {
    const Result r = run(args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_FALSE(r.err.empty()) << args;
  }
}

}  // namespace
