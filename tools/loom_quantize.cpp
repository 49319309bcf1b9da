// loom-quantize: a Hugging Face folder to a GGUF file llama.cpp runs, in one step (llama.cpp's
// users run convert_hf_to_gguf.py, then llama-quantize).
//   loom-quantize HF_DIR OUT.gguf TYPE   TYPE: f32, f16, bf16, q8_0, q4_0, q4_k_s, q4_k_m,
//                                        q5_k_s, q5_k_m, q6_k (llama-quantize's mixes)
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "cli_habits.h"
#include "loom/error.h"
#include "loom/model.h"

int main(int argc, char** argv) {
  CLI::App app{"loom-quantize: a Hugging Face folder to a GGUF file (llama.cpp's format)"};
  std::string in, out, type;
  int threads = 0;
  app.add_option("model", in, "the Hugging Face folder")->required();
  app.add_option("out", out, "the GGUF file to write")->required();
  app.add_option("type", type, "llama-quantize's file type: " + loom::gguf_file_type_names())
      ->required();
  app.add_option("-t,--threads", threads, "threads (0: all cores)");
  CLI11_PARSE(app, argc, argv);
  try {
    const auto t0 = std::chrono::steady_clock::now();
    const std::optional<loom::GgufFileType> t = loom::gguf_file_type_from_name(type);
    if (!t) throw loom::Error("type '" + type + "': want one of " + loom::gguf_file_type_names());
    const loom::Model model = loom::Model::load(in);
    loom::write_gguf(model, out, t, threads);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "loom-quantize: wrote %s (%s, %.1f MiB) in %.2f s\n", out.c_str(),
                 type.c_str(), std::filesystem::file_size(out) / 1048576.0, s);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loom-quantize: error: %s\n", e.what());
    return 1;
  }
}
