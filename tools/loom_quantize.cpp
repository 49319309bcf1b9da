// loom-quantize: a Hugging Face folder to a GGUF file llama.cpp runs, in one step (llama.cpp's
// users run convert_hf_to_gguf.py, then llama-quantize).
//   loom-quantize HF_DIR OUT.gguf TYPE   TYPE: f32, f16, bf16, q8_0, q4_0, q4_k_s, q4_k_m,
//                                        q5_k_s, q5_k_m, q6_k (llama-quantize's mixes)
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "cli_habits.h"
#include "loom/error.h"
#include "loom/model.h"

namespace {

// "N", "NK", "NM" or "NG" (powers of 1000, as llama-gguf-split counts) to bytes, N > 0.
uint64_t parse_size(const std::string& s) {
  const char unit = s.empty() ? '\0' : s.back();
  const uint64_t scale = unit == 'K' ? 1000 : unit == 'M' ? 1000000 : unit == 'G' ? 1000000000 : 1;
  const std::string digits = scale == 1 ? s : s.substr(0, s.size() - 1);
  size_t used = 0;
  unsigned long long n = 0;
  try {
    n = std::stoull(digits, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (digits.empty() || used != digits.size() || digits[0] == '-' || n == 0 ||
      n > UINT64_MAX / scale) {
    throw loom::Error("--split-max-size '" + s + "': want a positive size, as 500M or 2G");
  }
  return n * scale;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"loom-quantize: a Hugging Face folder to a GGUF file (llama.cpp's format)"};
  std::string in, out, type;
  int threads = 0;
  std::string split;
  app.add_option("model", in, "the Hugging Face folder")->required();
  app.add_option("out", out, "the GGUF file to write")->required();
  app.add_option("type", type, "llama-quantize's file type: " + loom::gguf_file_type_names())
      ->required();
  app.add_option("-t,--threads", threads, "threads (0: all cores)");
  app.add_option("--split-max-size", split,
                 "write shards of at most this many tensor bytes (N, NK, NM or NG, as "
                 "llama-gguf-split: M = 10^6), named OUT-00001-of-0000N.gguf ...");
  CLI11_PARSE(app, argc, argv);
  try {
    const auto t0 = std::chrono::steady_clock::now();
    const std::optional<loom::GgufFileType> t = loom::gguf_file_type_from_name(type);
    if (!t) throw loom::Error("type '" + type + "': want one of " + loom::gguf_file_type_names());
    const uint64_t split_bytes = split.empty() ? 0 : parse_size(split);
    const loom::Model model = loom::Model::load(in);
    const auto files = loom::write_gguf(model, out, t, threads, split_bytes);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (const auto& f : files) {
      std::fprintf(stderr, "loom-quantize: wrote %s (%s, %.1f MiB)\n", f.c_str(), type.c_str(),
                   std::filesystem::file_size(f) / 1048576.0);
    }
    std::fprintf(stderr, "loom-quantize: %zu file%s in %.2f s\n", files.size(),
                 files.size() == 1 ? "" : "s", s);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loom-quantize: error: %s\n", e.what());
    return 1;
  }
}
