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
