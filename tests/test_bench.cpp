// loom-bench's output as scripts read it: every format parses and carries its fields. Timings are
// whatever the machine gives; only their shape and internal consistency are checked.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
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
const std::string kBin = std::string(LOOM_BIN_DIR) + "/loom-bench";
const std::string kModel = std::string(LOOM_SOURCE_DIR) + "/models/stories260K";
// Tiny tests, one repetition more than one so the standard deviation is defined.
const std::string kTiny = "-m " + kModel + " -p 8 -n 2 -r 2 ";

using Result = loom::test::CommandResult;
Result run(const std::string& args) {
  return loom::test::run_binary(kBin, args);
}

// Whether S has SHAPE's form: each '9' in SHAPE a digit in S, everything else itself; a '9'
// right before a '.' may be several digits. (std::regex trips GCC 12's warnings under ASan.)
bool fits(const std::string& shape, const std::string& s) {
  size_t i = 0;
  for (size_t k = 0; k < shape.size(); ++k) {
    if (shape[k] != '9') {
      if (i >= s.size() || s[i++] != shape[k]) return false;
      continue;
    }
    if (i >= s.size() || !isdigit(static_cast<unsigned char>(s[i++]))) return false;
    if (k + 1 < shape.size() && shape[k + 1] == '.') {
      while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) ++i;
    }
  }
  return i == s.size();
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string line; std::getline(ss, line);) out.push_back(line);
  return out;
}

// The cells of a markdown table row, trimmed.
std::vector<std::string> cells(const std::string& row) {
  std::vector<std::string> out;
  std::stringstream ss(row.substr(1));
  for (std::string c; std::getline(ss, c, '|');) {
    const size_t b = c.find_first_not_of(' '), e = c.find_last_not_of(' ');
    out.push_back(b == std::string::npos ? "" : c.substr(b, e - b + 1));
  }
  return out;
}

// RFC 4180 fields: quoted, "" inside quotes is one quote.
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      out.back() += '"', ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

const char* const kFields[] = {"build_commit",
                               "loom_version",
                               "cpu_info",
                               "simd",
                               "model_filename",
                               "model_type",
                               "model_size",
                               "model_n_params",
                               "model_bits_per_weight",
                               "weight_dtype",
                               "n_batch",
                               "n_ubatch",
                               "n_threads",
                               "type_k",
                               "type_v",
                               "n_prompt",
                               "n_gen",
                               "n_depth",
                               "test_time",
                               "avg_ns",
                               "stddev_ns",
                               "avg_ts",
                               "stddev_ts",
                               "samples_ns",
                               "samples_ts",
                               "bytes_per_token",
                               "gbps",
                               "bw_gbps_before",
                               "bw_gbps_after",
                               "bw_fraction",
                               "gflops",
                               "peak_gflops",
                               "peak_insn",
                               "peak_fraction",
                               "load_s",
                               "rss_after_load_bytes",
                               "rss_after_test_bytes",
                               "peak_rss_bytes"};

TEST(Bench, MarkdownHeaderAndTable) {
  const Result r = run(kTiny + "-t 1 --no-bw");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("loom-bench "));
  EXPECT_THAT(r.out, HasSubstr("kernels: "));  // the SIMD path in use
  EXPECT_THAT(r.out, HasSubstr("threads: 1"));
  EXPECT_THAT(r.out, HasSubstr("memory bandwidth: not measured"));
  std::vector<std::vector<std::string>> rows;
  for (const std::string& line : lines(r.out)) {
    if (line.rfind("| ", 0) == 0 && line.find("---") == std::string::npos) {
      rows.push_back(cells(line));
    }
  }
  // The results table, then the per-model memory table.
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"model", "size", "params", "threads", "test", "t/s",
                                               "GB/s", "% bw", "GFLOP/s", "% peak"}));
  // The fp32 FMA peak of the kernel set in use (CI machines run AVX2 at least).
  EXPECT_THAT(r.out, ::testing::ContainsRegex("compute peaks, GFLOP/s \\(1 thread\\): fp32 FMA "
                                              "vfmadd231ps [yz]mm [0-9]+"));
  for (size_t i : {1, 2}) {
    ASSERT_EQ(rows[i].size(), 10u);
    EXPECT_EQ(rows[i][0], "stories260K f32");
    EXPECT_EQ(rows[i][1], "0.99 MiB");
    EXPECT_EQ(rows[i][2], "260.03 K");
    EXPECT_EQ(rows[i][3], "1");
    EXPECT_TRUE(fits("9.99 ± 9.99", rows[i][5])) << rows[i][5];
    EXPECT_TRUE(fits("9.99", rows[i][8])) << rows[i][8];
    EXPECT_EQ(rows[i][7], "");  // no probe, no fraction
  }
  EXPECT_EQ(rows[1][4], "pp8");
  EXPECT_EQ(rows[1][6], "");  // prefill is compute-bound: no GB/s
  EXPECT_TRUE(fits("9.9", rows[1][9]) || fits("99.9", rows[1][9])) << rows[1][9];
  EXPECT_EQ(rows[2][4], "tg2");
  EXPECT_TRUE(fits("9.99", rows[2][6])) << rows[2][6];
  EXPECT_EQ(rows[2][9], "");  // decode is bandwidth-bound: no share of a compute peak
  EXPECT_EQ(rows[3], (std::vector<std::string>{"model", "bits/weight", "load s", "RSS after load",
                                               "peak RSS"}));
  ASSERT_EQ(rows[4].size(), 5u);
  EXPECT_EQ(rows[4][0], "stories260K f32");
  EXPECT_EQ(rows[4][1], "32.00");
  EXPECT_THAT(rows[4][4], ::testing::EndsWith(" MiB"));
  EXPECT_THAT(r.err, HasSubstr("loading"));  // progress goes to stderr
}

TEST(Bench, JsonHasLlamaBenchFieldsAndConsistentStats) {
  const Result r = run(kTiny + "-d 0,4 -t 1,2 --no-warmup --bw-size 8 -o json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 8u);  // 2 threads x {pp8, tg2} x {d0, d4}
  std::vector<std::string> names;
  for (const json& o : j) {
    for (const char* f : kFields) EXPECT_TRUE(o.contains(f)) << f;
    EXPECT_EQ(o["type_k"], "f32");
    EXPECT_EQ(o["weight_dtype"], "f32");
    EXPECT_EQ(o["model_filename"], kModel);
    EXPECT_EQ(o["model_n_params"], 260032);
    EXPECT_GE(o["n_batch"].get<int>(), o["n_prompt"].get<int>());
    EXPECT_TRUE(fits("9999-99-99T99:99:99Z", o["test_time"].get<std::string>())) << o["test_time"];
    ASSERT_EQ(o["samples_ns"].size(), 2u);
    ASSERT_EQ(o["samples_ts"].size(), 2u);
    // t/s is the mean of each repetition's rate, not tokens over the mean time.
    const double tokens = o["n_prompt"].get<int>() + o["n_gen"].get<int>();
    double mean = 0;
    for (size_t i = 0; i < 2; ++i) {
      const double ns = o["samples_ns"][i].get<double>();
      EXPECT_NEAR(o["samples_ts"][i].get<double>(), tokens * 1e9 / ns, 1e-6 * tokens * 1e9 / ns);
      mean += o["samples_ts"][i].get<double>() / 2;
    }
    EXPECT_NEAR(o["avg_ts"].get<double>(), mean, 1e-9 * mean);
    EXPECT_GE(o["stddev_ts"].get<double>(), 0);
    EXPECT_GT(o["bw_gbps_before"].get<double>(), 0);
    EXPECT_GT(o["bw_gbps_after"].get<double>(), 0);
    EXPECT_GT(o["gflops"].get<double>(), 0);
    EXPECT_GT(o["peak_rss_bytes"].get<double>(), 0);
    EXPECT_GE(o["peak_rss_bytes"].get<double>(), o["rss_after_load_bytes"].get<double>());
    if (o["n_gen"] > 0) {
      // Weights read once plus the KV cache: at least the decode weights.
      EXPECT_GT(o["bytes_per_token"].get<double>(), 1e6);
      EXPECT_NEAR(o["gbps"].get<double>(),
                  o["bytes_per_token"].get<double>() * o["avg_ts"].get<double>() / 1e9,
                  1e-6 * o["gbps"].get<double>());
      EXPECT_TRUE(o["bw_fraction"].is_number());
      EXPECT_TRUE(o["peak_fraction"].is_null());
    } else {
      EXPECT_TRUE(o["bytes_per_token"].is_null());
      EXPECT_TRUE(o["gbps"].is_null());
      EXPECT_TRUE(o["bw_fraction"].is_null());
      // f32 weights: the fp32 gemm, a share of its FMA's peak at this thread count.
      EXPECT_THAT(o["peak_insn"].get<std::string>(), ::testing::StartsWith("vfmadd231ps"));
      EXPECT_GT(o["peak_gflops"].get<double>(), 0);
      EXPECT_NEAR(o["peak_fraction"].get<double>(),
                  o["gflops"].get<double>() / o["peak_gflops"].get<double>(), 1e-9);
      EXPECT_LT(o["peak_fraction"].get<double>(), 1.5);  // noise aside, below the peak
    }
    names.push_back(std::to_string(o["n_threads"].get<int>()) + ":" +
                    std::to_string(o["n_prompt"].get<int>()) + "/" +
                    std::to_string(o["n_gen"].get<int>()) + "@" +
                    std::to_string(o["n_depth"].get<int>()));
  }
  EXPECT_EQ(names, (std::vector<std::string>{"1:8/0@0", "1:8/0@4", "1:0/2@0", "1:0/2@4", "2:8/0@0",
                                             "2:8/0@4", "2:0/2@0", "2:0/2@4"}));
}

// A flag given twice takes its last value; a list flag given twice keeps both lists' values.
TEST(Bench, FlagGivenTwiceTakesTheLastValueListsKeepAll) {
  const Result r = run("-m " + kModel +
                       " -p 4 -p 8,12 -n 0 -r 5 -r 1 -t 1 --no-warmup --no-bw -o jsonl -o json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);  // -o json, not jsonl: one array
  ASSERT_TRUE(j.is_array());
  std::vector<int> prompts;
  for (const json& t : j) {
    prompts.push_back(t["n_prompt"]);
    EXPECT_EQ(t["samples_ns"].size(), 1u);  // -r 1
  }
  EXPECT_EQ(prompts, (std::vector<int>{4, 8, 12}));
}

TEST(Bench, DepthIsNamedInTheTable) {
  const Result r = run("-m " + kModel + " -p 4 -n 0 -d 16 -r 1 -t 1 --no-warmup --no-bw");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("pp4 @ d16"));
}

TEST(Bench, JsonLinesOneObjectPerTest) {
  const Result r = run(kTiny + "-t 1 --no-bw -o jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> ls = lines(r.out);
  ASSERT_EQ(ls.size(), 2u);
  for (const std::string& l : ls) {
    const json o = json::parse(l);
    for (const char* f : kFields) EXPECT_TRUE(o.contains(f)) << f;
    EXPECT_TRUE(o["bw_gbps_before"].is_null());
  }
}

TEST(Bench, CsvHeaderAndRowsAgree) {
  const Result r = run(kTiny + "-t 1 --no-bw -o csv");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> ls = lines(r.out);
  ASSERT_EQ(ls.size(), 3u);
  const std::vector<std::string> header = csv_fields(ls[0]);
  ASSERT_EQ(header.size(), std::size(kFields));
  for (size_t i = 0; i < header.size(); ++i) EXPECT_EQ(header[i], kFields[i]);
  for (size_t row = 1; row < 3; ++row) {
    const std::vector<std::string> f = csv_fields(ls[row]);
    ASSERT_EQ(f.size(), header.size()) << ls[row];
    auto at = [&](const std::string& name) {
      return f[std::find(header.begin(), header.end(), name) - header.begin()];
    };
    EXPECT_EQ(at("n_threads"), "1");
    EXPECT_GT(std::stod(at("avg_ts")), 0);
    const std::string samples = at("samples_ns");
    EXPECT_EQ(std::count(samples.begin(), samples.end(), ','), 1);  // two repetitions
  }
}

TEST(Bench, NoPeaksSkipsTheProbeAndTheShare) {
  const Result r = run(kTiny + "-t 1 --no-bw --no-peaks -o json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const json& o : json::parse(r.out)) {
    EXPECT_TRUE(o["peak_gflops"].is_null());
    EXPECT_TRUE(o["peak_fraction"].is_null());
  }
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("probing compute peaks")));
}

TEST(Bench, SyntheticModelsFromAConfigFile) {
  const Result r = run("--synthetic " + kModel +
                       "/config.json --dtype f32,bf16 -p 4 -n 2 -r 1 -t 1 --no-bw -o json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j.size(), 4u);
  EXPECT_EQ(j[0]["weight_dtype"], "f32");
  EXPECT_EQ(j[2]["weight_dtype"], "bf16");
  EXPECT_EQ(j[0]["model_filename"], "synthetic:" + kModel + "/config.json");
  EXPECT_EQ(j[0]["model_n_params"], 260032);
  // Matrices in the weight dtype; the 11 norms of 64 stay f32.
  EXPECT_EQ(2 * j[2]["model_size"].get<size_t>() - j[0]["model_size"].get<size_t>(), 11 * 64 * 4);
}

// Qwen2 and Qwen3 synthetic models from config files, quantized, with a 16-bit KV cache: the
// architecture names the model, and the parameters count the biases (Qwen2: q, k and v) and the
// q/k norms (Qwen3, whose heads of 32 make q 128 wide on a hidden size of 64).
TEST(Bench, SyntheticQwenModels) {
  const fs::path dir = fs::temp_directory_path() / ("loom-bench-qwen-" + std::to_string(getpid()));
  fs::create_directories(dir);
  struct Case {
    std::string type;
    int n_params;
    std::string model_type;
  };
  for (const auto& [type, n_params, model_type] :
       {Case{"qwen2", 78400, "qwen2 78K Q8_0"}, Case{"qwen3", 102848, "qwen3 103K Q8_0"}}) {
    json c = {{"model_type", type},     {"hidden_size", 64},          {"intermediate_size", 96},
              {"num_hidden_layers", 2}, {"num_attention_heads", 4},   {"num_key_value_heads", 2},
              {"vocab_size", 256},      {"tie_word_embeddings", true}};
    if (type == "qwen3") c["head_dim"] = 32;
    const fs::path config = dir / (type + ".json");
    std::ofstream(config) << c.dump();
    const Result r = run("--synthetic " + config.string() +
                         " --dtype bf16 --quantize q8_0 --kv-type f16 -p 4 -n 2 -r 1 -t 1 --no-bw "
                         "-o json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    ASSERT_EQ(j.size(), 2u);
    EXPECT_EQ(j[0]["model_type"], model_type);
    EXPECT_EQ(j[0]["model_n_params"], n_params) << type;
    EXPECT_EQ(j[0]["type_k"], "f16");
    EXPECT_THAT(r.err, HasSubstr("quantized 15 matrices to q8_0"));
  }
  fs::remove_all(dir);
}

// Quantized at load: the weight type, the quantized bytes in the size and the bytes a decode
// step reads, bits per weight, and what was left as stored (stories260K: the embedding, and the
// down projections, whose rows of 172 are not whole blocks).
TEST(Bench, QuantizedModelReportsItsSizeAndBitsPerWeight) {
  const Result plain = run("-m " + kModel + " -p 0 -n 2 -r 1 -t 1 --no-bw -o json");
  // No cache: the model lives in the source tree.
  const Result r = run("-m " + kModel +
                       " --quantize q8_0 --quant-cache off -p 0 -n 2 -r 1 -t 1 --no-bw -o json");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json p = json::parse(plain.out)[0], q = json::parse(r.out)[0];
  EXPECT_EQ(q["weight_dtype"], "q8_0");
  EXPECT_EQ(q["model_type"], "llama 260K Q8_0");
  EXPECT_EQ(q["model_n_params"], 260032);
  // f32 embedding 512 x 64, its q8_0 copy as the output head (a row of 64: 2 blocks of 34
  // bytes), per layer q, k, v, o, gate, up in q8_0 and down (64 x 172) in f32, and the norms.
  const size_t layer = (64 + 32 + 32 + 64 + 2 * 172) * 68 + 64 * 172 * 4 + 2 * 64 * 4;
  const size_t size = 512 * 64 * 4 + 512 * 68 + 5 * layer + 64 * 4;
  EXPECT_EQ(q["model_size"], size);
  EXPECT_NEAR(q["model_bits_per_weight"].get<double>(), 8.0 * size / 260032, 1e-9);
  EXPECT_EQ(p["model_bits_per_weight"], 32.0);
  // A decode step reads the matrices and one row of the embedding: unquantized, the tied
  // embedding in full as the output head; quantized, its q8_0 copy (in the size) instead.
  const size_t embed = 512 * 64 * 4;
  EXPECT_EQ(p["bytes_per_token"].get<size_t>() - q["bytes_per_token"].get<size_t>(),
            p["model_size"].get<size_t>() - (size - embed));
  EXPECT_THAT(r.err, HasSubstr("quantized 31 matrices to q8_0"));
  EXPECT_THAT(r.err, HasSubstr("kept model.layers.*.mlp.down_proj.weight (f32): rows of 172"));

  const Result s = run("--synthetic " + kModel +
                       "/config.json --dtype bf16 --quantize q4_0 -p 4 -n 0 -r 1 -t 1 --no-bw "
                       "-o json");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(json::parse(s.out)[0]["weight_dtype"], "q4_0");
  EXPECT_THAT(s.err, HasSubstr("quantized 31 matrices to q4_0"));
  // q4_0 prompts run the int8 gemm: its share is of the int8 dot product's peak.
  const std::string insn = json::parse(s.out)[0]["peak_insn"].get<std::string>();
  EXPECT_TRUE(insn == "vpdpbusd zmm" || insn == "vpmaddubsw ymm") << insn;
}

// type_k and type_v as llama-bench names them; the KV bytes a decode step reads at their size;
// the markdown table grows llama-bench's type_k and type_v columns only for a non-default type.
TEST(Bench, KvTypeIsReportedAndSizesTheKvBytes) {
  const Result r =
      run("-m " + kModel + " -p 0 -n 2 -d 16 -r 1 -t 1 --no-bw --kv-type f32,bf16 -o json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["type_k"], "f32");
  EXPECT_EQ(j[0]["type_v"], "f32");
  EXPECT_EQ(j[1]["type_k"], "bf16");
  EXPECT_EQ(j[1]["type_v"], "bf16");
  // 5 layers, K and V of 32 floats each, at the average position 16 + (2 + 1) / 2.
  EXPECT_NEAR(j[0]["bytes_per_token"].get<double>() - j[1]["bytes_per_token"].get<double>(),
              2.0 * 5 * 32 * 2 * 17.5, 1.0);

  const Result md = run("-m " + kModel + " -p 0 -n 2 -r 1 -t 1 --no-bw --kv-type f16");
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_THAT(md.out, HasSubstr("kv cache: f16"));
  EXPECT_THAT(md.out, HasSubstr("| threads | type_k | type_v |"));
  EXPECT_THAT(md.out, HasSubstr("| f16    | f16    |"));
  const Result plain = run("-m " + kModel + " -p 0 -n 2 -r 1 -t 1 --no-bw");
  EXPECT_THAT(plain.out, HasSubstr("kv cache: f32"));
  EXPECT_THAT(plain.out, ::testing::Not(HasSubstr("type_k")));
}

TEST(Bench, BadValuesAreClearErrors) {
  const std::pair<const char*, const char*> cases[] = {
      {"--synthetic nope", "unknown model shape 'nope'"},
      {"-r 0", "-r"},
      {"-p -5", "'-5'"},
      {"-n 2,x", "'x'"},
      {"-d -1", "-d"},
      {"-t 0", "-t"},
      {"-o xml", "'xml'"},
      {"--dtype f8 --synthetic llama2-7b", "'f8'"},
      {"--quantize q5_0", "--quantize: 'q5_0' is not a quantized type"},
      {"--quantize bf16", "--quantize: 'bf16'"},
      {"--kv-type q4_0", "--kv-type: 'q4_0' is not a KV cache type (want f32, f16 or bf16)"},
      {"--kv-type f32,f", "--kv-type: 'f'"},
      {"-p 0 -n 0", "nothing to run"},
      {"-m /nonexistent/model", "/nonexistent/model"},
      {"--no-such-flag", "--no-such-flag"},
  };
  for (const auto& [args, want] : cases) {
    const Result r = run(std::string(args) + " --no-bw");
    EXPECT_EQ(r.exit_code, 1) << args;
    EXPECT_THAT(r.err, HasSubstr("loom-bench: error:")) << args;
    EXPECT_THAT(r.err, HasSubstr(want)) << args;
    EXPECT_TRUE(r.out.empty()) << args;
  }
}

TEST(Bench, HelpListsFlags) {
  const Result r = run("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag :
       {"--model", "--synthetic", "--dtype", "--n-prompt", "--n-gen", "--n-depth", "--threads",
        "--repetitions", "--no-warmup", "--batch-size", "--output", "--bw-size", "--no-bw",
        "--quantize", "--quant-cache", "--kv-type"}) {
    EXPECT_THAT(r.out, HasSubstr(flag));
  }
}

const std::string kText = std::string(LOOM_SOURCE_DIR) + "/tests/data/stories_ppl.txt";

// --tokenize: one row per folder and text; the token count is transformers' for that text.
TEST(Bench, TokenizeTimesATokenizer) {
  std::ifstream in(std::string(LOOM_SOURCE_DIR) + "/tests/data/tokenizer_goldens/llama3.json");
  const json goldens = json::parse(in);
  json entry;
  for (const json& e : goldens["entries"]) {
    if (e["text"].get<std::string>().rfind("Once upon a time, in a small village", 0) == 0)
      entry = e;
  }
  ASSERT_FALSE(entry.is_null());
  const std::string text = entry["text"];
  const fs::path file = fs::temp_directory_path() / ("loom_bench_text_" + std::to_string(getpid()));
  std::ofstream(file, std::ios::binary) << text;
  const std::string tokenizers = std::string(LOOM_SHARED_DIR) + "/fixtures/tokenizers/";
  const Result r = run("--tokenize " + file.string() + " -m " + tokenizers + "llama3 -m " +
                       tokenizers + "qwen3 -r 2 -o json");
  fs::remove(file);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json rows = json::parse(r.out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["tokenizer"], "llama3");
  EXPECT_EQ(rows[1]["tokenizer"], "qwen3");
  EXPECT_EQ(rows[0]["tokens"], entry["plain"].size());
  for (const json& row : rows) {
    EXPECT_EQ(row["bytes"], text.size());
    EXPECT_EQ(row["threads"], 1);
    EXPECT_GT(row["load_ms"].get<double>(), 0);
    EXPECT_GT(row["encode_mb_s"].get<double>(), 0);
    EXPECT_GT(row["encode_lines_mb_s"].get<double>(), 0);
  }
  const Result md = run("--tokenize " + kText + " -m " + tokenizers + "llama3 -r 1");
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_THAT(md.out, HasSubstr("| tokenizer | text | bytes | tokens | load ms | encode MB/s |"));
}

TEST(Bench, TokenizeErrors) {
  const std::string llama3 = std::string(LOOM_SHARED_DIR) + "/fixtures/tokenizers/llama3";
  const Result no_file = run("--tokenize /no/such/text.txt -m " + llama3);
  EXPECT_EQ(no_file.exit_code, 1);
  EXPECT_THAT(no_file.err, HasSubstr("/no/such/text.txt"));
  const Result no_dir = run("--tokenize " + kText + " -m /no/such/folder");
  EXPECT_EQ(no_dir.exit_code, 1);
  EXPECT_THAT(no_dir.err, HasSubstr("/no/such/folder"));
  const Result csv = run("--tokenize " + kText + " -m " + llama3 + " -o csv");
  EXPECT_EQ(csv.exit_code, 1);
  EXPECT_THAT(csv.err, HasSubstr("md or json"));
}

}  // namespace
