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

#include "support/checkpoint_writer.h"
#include "support/run_binary.h"

namespace {

using nlohmann::json;
using ::testing::HasSubstr;
namespace fs = std::filesystem;
const std::string kShared = LOOM_SHARED_DIR;
const std::string kBin = std::string(LOOM_BIN_DIR) + "/loom-generate";

using Result = loom::test::CommandResult;
Result run(const std::string& args) {
  return loom::test::run_binary(kBin, args);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
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
  for (const char* flag :
       {"--model", "--prompt", "--prompt-ids", "--max-tokens", "--n-predict", "--threads",
        "--ctx-size", "--dump-logits", "--json", "--quantize", "--quant-cache", "--kv-type",
        "--bf16-activations", "--messages", "--chat-template", "--chat-template-kwargs",
        "--conversation", "--system", "--verbose"}) {
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

TEST(Cli, QuantizeAtLoad) {
  // No cache: the default model lives in the source tree.
  const Result r = run("--quantize q4_0 --quant-cache off -p 'Once upon a time' -n 8 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["ids"].size(), 8u);
  EXPECT_THAT(r.err, HasSubstr("quantized 31 matrices to q4_0"));
  EXPECT_THAT(r.err, HasSubstr("kept model.embed_tokens.weight (f32)"));
  for (const char* bad : {"q4_1", "f16", "Q8_0"}) {
    const Result e = run(std::string("--quantize ") + bad + " -p hi");
    EXPECT_EQ(e.exit_code, 1) << bad;
    EXPECT_THAT(
        e.err,
        HasSubstr(std::string("--quantize: '") + bad +
                  "' is not a quantized type (want q8_0, q4_0, q4_k, q4_k_s, q4_k_m, q5_k_s, "
                  "q5_k_m or q6_k)"));
    EXPECT_TRUE(e.out.empty()) << bad;
  }
}

// --quant-cache auto, the default: written beside the weights on the first run, mapped on the
// next, same text; off: no file; a path: that file.
TEST(Cli, QuantCache) {
  const loom::test::ModelFolder m(kShared + "/models/stories260K");
  const fs::path beside = m / "loom-q4_0.cache";
  const std::string args =
      "-m " + m.dir().string() + " --quantize q4_0 -p 'Once upon a time' " + "-n 8 --json --temp 0";
  const Result first = run(args);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.err, HasSubstr("quantized 31 matrices to q4_0"));
  EXPECT_THAT(first.err,
              HasSubstr("loom-generate: quant cache: written " + beside.string() + " ("));
  const Result second = run(args);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_THAT(second.err, HasSubstr("quantized 31 matrices to q4_0"));
  EXPECT_THAT(second.err, HasSubstr("loom-generate: quant cache: used " + beside.string() + " ("));
  EXPECT_EQ(json::parse(second.out)["ids"], json::parse(first.out)["ids"]);

  fs::remove(beside);
  const Result off = run(args + " --quant-cache off");
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_THAT(off.err, ::testing::Not(HasSubstr("quant cache")));
  EXPECT_FALSE(fs::exists(beside));
  const fs::path mine = m / "mine.cache";
  const Result path = run(args + " --quant-cache " + mine.string());
  EXPECT_THAT(path.err, HasSubstr("quant cache: written " + mine.string()));
  EXPECT_TRUE(fs::exists(mine));
  EXPECT_FALSE(fs::exists(beside));
  const Result empty = run(args + " --quant-cache ''");
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_THAT(empty.err, HasSubstr("--quant-cache: want auto, off or a file path"));
}

TEST(Cli, KvType) {
  const Result f32 = run("-p 'Once upon a time' -n 8 --json");
  const Result r = run("--kv-type f16 -p 'Once upon a time' -n 8 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["ids"].size(), 8u);
  EXPECT_THAT(f32.err, HasSubstr("kv cache: f32, 0.62 MiB"));  // 2 x 5 layers x 32 x 512 x 4
  EXPECT_THAT(r.err, HasSubstr("kv cache: f16, 0.31 MiB"));
  for (const char* bad : {"q8_0", "f8", "F16"}) {
    const Result e = run(std::string("--kv-type ") + bad + " -p hi");
    EXPECT_EQ(e.exit_code, 1) << bad;
    EXPECT_THAT(e.err, HasSubstr(std::string("--kv-type: '") + bad +
                                 "' is not a KV cache type (want f32, f16 or bf16)"));
    EXPECT_TRUE(e.out.empty()) << bad;
  }
}

// The default model's weights are f32: rounding activations applies to bf16 weights only, so
// the flag is accepted and the logits, hence the greedy ids, are the exact path's on any CPU.
TEST(Cli, Bf16ActivationsLeaveF32WeightsExact) {
  const Result exact = run("-p 'Once upon a time' -n 16 --json");
  const Result r = run("--bf16-activations -p 'Once upon a time' -n 16 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["ids"], json::parse(exact.out)["ids"]);
}

TEST(Cli, SeededSamplingIsReproducibleAcrossThreadCounts) {
  const std::string args = "-m " + kShared +
                           "/fixtures/llama2-gqa-bf16 -p 'Once upon a time' -n 24 --temp 1.2 "
                           "--json ";
  const Result a = run(args + "-t 1 --seed 77");
  const Result b = run(args + "-t 2 --seed 77");
  const Result c = run(args + "-t 2 --seed 78");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(json::parse(a.out)["ids"], json::parse(b.out)["ids"]);
  EXPECT_NE(json::parse(a.out)["ids"], json::parse(c.out)["ids"]);
  EXPECT_EQ(json::parse(a.out)["seed"], 77);
  EXPECT_THAT(a.err, HasSubstr("seed: 77"));
}

TEST(Cli, RandomSeedIsReportedAndReproducesTheRun) {
  const std::string args =
      "-m " + kShared + "/fixtures/llama2-gqa-bf16 -p 'Hello' -n 16 --temp 1 --json ";
  const Result a = run(args);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const json ja = json::parse(a.out);
  const Result b = run(args + "--seed " + std::to_string(ja["seed"].get<uint64_t>()));
  EXPECT_EQ(json::parse(b.out)["ids"], ja["ids"]);
}

TEST(Cli, LogprobsAndStopReasonInJson) {
  const Result r = run("-p 'Once upon a time' -n 5 --json --logprobs 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["logprobs"].size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    const json& step = j["logprobs"][i];
    EXPECT_EQ(step["id"], j["ids"][i]);
    EXPECT_LE(step["logprob"].get<double>(), 0.0);
    ASSERT_EQ(step["top"].size(), 3u);
    // Greedy (stories260K's generation_config.json): the chosen token is the most likely.
    EXPECT_EQ(step["top"][0]["id"], step["id"]);
    EXPECT_GE(step["top"][0]["logprob"].get<double>(), step["top"][1]["logprob"].get<double>());
  }
  EXPECT_EQ(j["stop_reason"], "max_tokens");
}

TEST(Cli, StopStringIsNotPrinted) {
  const Result r = run("-p 'Once upon a time' -n 40 --stop 'little girl'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Once upon a time, there was a \n");
}

// As llama.cpp's tools: a flag given twice takes its last value, so a wrapper's default can be
// overridden; repeatable flags keep every value.
TEST(Cli, FlagGivenTwiceTakesTheLastValue) {
  const Result r = run("-m /nonexistent -m " + kShared +
                       "/models/stories260K -p 'Once upon a time' -n 64 -n 5 --json --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["ids"].size(), 5u);
}

TEST(Cli, RepeatableFlagsKeepEveryValue) {
  // Each of the two stop strings still stops: the first one given is the one in the text.
  Result r = run("-p 'Once upon a time' -n 40 --stop 'little girl' --stop zzzz");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Once upon a time, there was a \n");
  // Banning the two likeliest first tokens with two --logit-bias flags bans both.
  r = run("-p 'Once upon a time' -n 1 --json --logprobs 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json top = json::parse(r.out)["logprobs"][0]["top"];
  const int first = top[0]["id"], second = top[1]["id"];
  r = run("-p 'Once upon a time' -n 1 --json -l " + std::to_string(first) + "-inf --logit-bias " +
          std::to_string(second) + "-inf");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const int chosen = json::parse(r.out)["ids"][0];
  EXPECT_NE(chosen, first);
  EXPECT_NE(chosen, second);
}

// Standard output ends with one newline, whether the text ended with one or not, so the
// statistics on standard error start on a line of their own on a terminal.
TEST(Cli, OutputEndsWithOneNewline) {
  Result r = run("-p 'Once upon a time' -n 5");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::StartsWith("Once upon a time, there"));
  EXPECT_THAT(r.out, ::testing::EndsWith("\n"));
  EXPECT_THAT(r.out, ::testing::Not(::testing::EndsWith("\n\n")));
  r = run("-p 'Once upon a time\n' -n 0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Once upon a time\n");
}

TEST(Cli, InvalidSamplingValuesNameTheFlagAndRange) {
  const std::pair<const char*, const char*> cases[] = {
      {"--temp -1", "--temperature"},
      {"--top-p 0", "(0, 1]"},
      {"--top-p 1.5", "(0, 1]"},
      {"--top-k -3", "--top-k"},
      {"--min-p 2", "[0, 1]"},
      {"--typical 0", "--typical"},
      {"--repeat-penalty 0", "--repeat-penalty"},
      {"--seed abc", "--seed"},
      {"--logit-bias 5", "--logit-bias"},
      {"--logit-bias 99999+1", "99999"},
      {"--samplers top_k;bogus", "bogus"},
  };
  for (const auto& [args, want] : cases) {
    const Result r = run(std::string("-p hi -n 2 ") + args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_THAT(r.err, HasSubstr(want)) << args;
  }
}

TEST(Cli, HelpShowsSamplingFlagsAndDefaults) {
  const Result r = run("--help");
  for (const char* flag :
       {"--temperature", "--temp", "--top-k", "--top-p", "--min-p", "--typical", "--repeat-penalty",
        "--repeat-last-n", "--presence-penalty", "--frequency-penalty", "--logit-bias", "--seed",
        "--samplers", "--stop", "--ignore-eos", "--logprobs"}) {
    EXPECT_THAT(r.out, HasSubstr(flag));
  }
  EXPECT_THAT(r.out, HasSubstr("else 0.8"));
}

}  // namespace

namespace {
// llama2-gqa-bf16 with both tokenizer files: its tokenizer.model and the same tokenizer converted
// to tokenizer.json by transformers (fixtures/tokenizers/llama2-json).
struct BothTokenizers {
  loom::test::TempDir dir;
  BothTokenizers() {
    const fs::path model = kShared + "/fixtures/llama2-gqa-bf16";
    for (const auto& e : fs::directory_iterator(model)) {
      fs::create_symlink(e.path(), dir.path() / e.path().filename());
    }
    fs::copy_file(kShared + "/fixtures/tokenizers/llama2-json/tokenizer.json",
                  dir.path() / "tokenizer.json");
  }
};
}  // namespace

TEST(Cli, TokenizerJsonPreferredAsTransformersDoesAndTokenizerFlagChooses) {
  BothTokenizers f;
  const std::string base = "-m " + f.dir.path().string() + " -p '  two  spaces' -n 1 --json ";
  // The ids transformers gives for each file (fixtures/README.md).
  Result r = run(base);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["prompt_ids"], json::parse("[1, 259, 10184, 259, 22854]"));
  EXPECT_THAT(r.err, HasSubstr("llama model, tokenizer.json"));
  r = run(base + "--tokenizer sentencepiece");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["prompt_ids"], json::parse("[1, 259, 1023, 29871, 8162]"));
  EXPECT_THAT(r.err, HasSubstr("tokenizer.model (sentencepiece"));
  r = run(base + "--tokenizer json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["prompt_ids"], json::parse("[1, 259, 10184, 259, 22854]"));

  r = run(base + "--tokenizer tiktoken");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--tokenizer: 'tiktoken'"));
  r = run("-p hi -n 1 --tokenizer json");  // stories260K has no tokenizer.json
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no tokenizer.json in"));
}

TEST(Cli, SpecialTokenTextIsParsedUnlessNoParseSpecial) {
  BothTokenizers f;  // tokenizer.json's added tokens are split out of the text
  const std::string base = "-m " + f.dir.path().string() + " -p 'Hi</s>there' -n 1 --json ";
  Result r = run(base);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto parsed = json::parse(r.out)["prompt_ids"].get<std::vector<int>>();
  EXPECT_EQ(std::count(parsed.begin() + 1, parsed.end(), 2), 1);  // </s> is EOS, id 2
  r = run(base + "--no-parse-special");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto text = json::parse(r.out)["prompt_ids"].get<std::vector<int>>();
  EXPECT_EQ(std::count(text.begin() + 1, text.end(), 2), 0);
  EXPECT_GT(text.size(), parsed.size());
}

// --n-samples: sample i of a run with seed S is sample i - 1 of a run with seed S + 1 (each
// sample is its seed's, whatever else is decoded beside it), and a run is reproducible.
TEST(Cli, SamplesDecodedTogetherAreEachTheirSeedsSample) {
  const std::string args = "-m " + kShared +
                           "/fixtures/llama2-gqa-bf16 -p 'Once upon a time' -n 16 --temp 1.2 "
                           "--json ";
  const Result a = run(args + "--n-samples 3 --seed 40");
  const Result b = run(args + "--parallel 2 --seed 41");
  const Result again = run(args + "--n-samples 3 --seed 40 -t 1");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  const json ja = json::parse(a.out), jb = json::parse(b.out);
  ASSERT_EQ(ja["samples"].size(), 3u);
  ASSERT_EQ(jb["samples"].size(), 2u);
  EXPECT_EQ(ja["seed"], 40);
  for (int i = 0; i < 3; ++i) {
    const json& s = ja["samples"][i];
    EXPECT_EQ(s["index"], i);
    EXPECT_EQ(s["seed"], 40 + i);
    EXPECT_EQ(s["ids"].size(), 16u);
    EXPECT_EQ(s["stop_reason"], "max_tokens");
    EXPECT_LT(s["sum_logprob"].get<double>(), 0.0);
    EXPECT_NEAR(s["mean_logprob"].get<double>(), s["sum_logprob"].get<double>() / 16, 1e-9);
  }
  EXPECT_NE(ja["samples"][0]["ids"], ja["samples"][1]["ids"]);
  EXPECT_EQ(ja["samples"][1]["ids"], jb["samples"][0]["ids"]);
  EXPECT_EQ(ja["samples"][2]["ids"], jb["samples"][1]["ids"]);
  EXPECT_EQ(ja["samples"][2]["text"], jb["samples"][1]["text"]);
  EXPECT_EQ(json::parse(again.out)["samples"], ja["samples"]);
  EXPECT_THAT(a.err, HasSubstr("3 samples: 48 tokens"));
  EXPECT_THAT(a.err, HasSubstr("kv pool: f32"));
}

// --best-of: the sample with the highest mean log-probability, in JSON and as the text printed.
TEST(Cli, BestOfKeepsTheSampleWithTheBestMeanLogprob) {
  // The default model (stories260K): its text is valid UTF-8, so JSON holds it unchanged.
  const std::string args = "-p 'Once upon a time' -n 24 --temp 1.5 --best-of 5 --seed 3 ";
  const Result j = run(args + "--json");
  const Result t = run(args);
  ASSERT_EQ(j.exit_code, 0) << j.err;
  ASSERT_EQ(t.exit_code, 0) << t.err;
  const json out = json::parse(j.out);
  ASSERT_EQ(out["samples"].size(), 5u);
  size_t best = 0;
  for (size_t i = 1; i < 5; ++i) {
    if (out["samples"][i]["mean_logprob"].get<double>() >
        out["samples"][best]["mean_logprob"].get<double>()) {
      best = i;
    }
  }
  EXPECT_EQ(out["best"], best);
  EXPECT_EQ(best, 2u);  // (with this seed: not the first sample)
  EXPECT_EQ(t.out, "Once upon a time" + out["samples"][best]["text"].get<std::string>() + "\n");
  EXPECT_THAT(t.err, HasSubstr("best: sample " + std::to_string(best)));
}

TEST(Cli, SamplesNeedSamplingAndApartFromConversation) {
  const Result greedy = run("-p 'Once upon a time' -n 4 --n-samples 2 --temp 0");
  EXPECT_EQ(greedy.exit_code, 1);
  EXPECT_THAT(greedy.err, HasSubstr("--n-samples and --best-of need sampling"));
  const Result zero = run("-p 'Once upon a time' -n 4 --n-samples 0");
  EXPECT_NE(zero.exit_code, 0);
  EXPECT_THAT(zero.err, HasSubstr("--n-samples"));
  const Result cnv = run("--conversation --best-of 2 --temp 1");
  EXPECT_EQ(cnv.exit_code, 1);
  EXPECT_THAT(cnv.err, HasSubstr("do not apply to --conversation"));
}
