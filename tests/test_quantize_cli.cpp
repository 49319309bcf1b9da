// loom-quantize as users run it: llama-quantize's type names, a file llama.cpp's readers take
// (here: loom's own GGUF reader, its tensor types and file_type), and clear errors that leave no
// file behind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "loom/model.h"
#include "support/run_binary.h"

namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;
const std::string kModel = std::string(LOOM_SOURCE_DIR) + "/models/stories260K";
const std::string kBin = std::string(LOOM_BIN_DIR) + "/loom-quantize";

loom::test::CommandResult run(const std::string& args) {
  return loom::test::run_binary(kBin, args);
}

fs::path scratch(const std::string& name) {
  return fs::temp_directory_path() / ("loom_quantize_cli_" + std::to_string(getpid()) + name);
}

TEST(QuantizeCli, WritesAFileOfTheNamedType) {
  const fs::path out = scratch("q8_0.gguf");
  const auto r = run(kModel + " " + out.string() + " q8_0 -t 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("wrote " + out.string() + " (q8_0,"));
  const loom::Model m = loom::Model::load(out.string());
  EXPECT_EQ(m.config().n_layers, 5);
  EXPECT_EQ(m.config().vocab_size, 512);
  EXPECT_TRUE(m.has_tokenizer());
  // q8_0 is 34 bytes a 32 weights (rows of 172 fall back to f16, as llama-quantize does): well
  // under half the f32 folder's bytes.
  EXPECT_LT(m.weight_bytes(), loom::Model::load(kModel).weight_bytes() / 2);
  fs::remove(out);
}

// --split-max-size as llama-gguf-split takes it: shards named after OUT, the first one loads.
TEST(QuantizeCli, SplitMaxSizeWritesShards) {
  const fs::path out = scratch("split.gguf");
  const std::string prefix = out.string().substr(0, out.string().size() - 5);
  const auto r = run(kModel + " " + out.string() + " q8_0 --split-max-size 300K");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path first = prefix + "-00001-of-00002.gguf", second = prefix + "-00002-of-00002.gguf";
  EXPECT_THAT(r.err, HasSubstr("wrote " + first.string()));
  EXPECT_THAT(r.err, HasSubstr("wrote " + second.string()));
  EXPECT_THAT(r.err, HasSubstr("2 files in"));
  EXPECT_LE(fs::file_size(first), 300000u + 64 * 1024);  // the header's bytes aside
  EXPECT_EQ(loom::Model::load(first.string()).config().n_layers, 5);
  EXPECT_FALSE(fs::exists(out));
  fs::remove(first);
  fs::remove(second);
  for (const char* bad : {"0", "12X", "-5M", "M", "99999999999999999999G"}) {
    const auto e = run(kModel + " " + out.string() + " q8_0 --split-max-size " + bad);
    EXPECT_EQ(e.exit_code, 1) << bad;
    EXPECT_THAT(e.err, HasSubstr(std::string("--split-max-size '") + bad +
                                 "': want a positive size, as 500M or 2G"));
  }
}

TEST(QuantizeCli, UnknownTypeNamesTheValueAndTheChoicesAndWritesNothing) {
  const fs::path out = scratch("bad.gguf");
  const auto r = run(kModel + " " + out.string() + " q3_k_m");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("loom-quantize: error: type 'q3_k_m': want one of f32, f16, bf16, "
                               "q8_0, q4_0, q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k"));
  EXPECT_FALSE(fs::exists(out));
}

TEST(QuantizeCli, MissingFolderIsAClearError) {
  const fs::path out = scratch("none.gguf");
  const auto r = run("/nonexistent/model " + out.string() + " q8_0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("/nonexistent/model"));
  EXPECT_FALSE(fs::exists(out));
}

TEST(QuantizeCli, UnwritableOutputNamesThePath) {
  const auto r = run(kModel + " /nonexistent/dir/out.gguf q8_0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("/nonexistent/dir/out.gguf"));
}

TEST(QuantizeCli, MissingArgumentsPrintUsage) {
  const auto r = run(kModel);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err + r.out, HasSubstr("out is required"));
}

}  // namespace
