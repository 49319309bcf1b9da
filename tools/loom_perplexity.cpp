// loom-perplexity: the perplexity of a text file under a model, printed as llama.cpp's
// llama-perplexity prints it. Argument parsing and printing only; the work is the library's.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bf16_flags.h"
#include "cli_habits.h"
#include "default_model.h"
#include "load_flags.h"
#include "loom/loom.h"
#include "tokenizer_flag.h"

namespace {

struct Args {
  std::string model = loom::tools::default_model();
  std::string file;
  int ctx_size = 0;
  int threads = 0;
  std::string quantize;
  std::string quant_cache = "auto";
  std::string kv_type = "f32";
  loom::tools::Bf16Flags bf16;
  std::string tokenizer = "auto";
  std::string scoring = "every";
};

std::string read_text(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    throw loom::Error("--file: " + path + (fs::exists(path, ec) ? " is not a file" : " not found"));
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in) throw loom::Error("--file: cannot read " + path);
  return ss.str();
}

int run(const Args& a) {
  const loom::DType kv = loom::tools::kv_type_flag(a.kv_type);
  loom::LoadOptions load = loom::tools::quantize_flag(a.quantize);
  loom::tools::set_quant_cache_flag(load, a.quant_cache);
  load.tokenizer.source = loom::tools::tokenizer_source(a.tokenizer);
  const std::string text = read_text(a.file);
  const loom::Model model = loom::Model::load(a.model, load);
  if (const loom::Quantization& q = model.quantization(); q.type || q.mix) {
    std::fprintf(stderr, "loom-perplexity: quantized %d matrices to %s\n", q.quantized,
                 q.type ? loom::dtype_name(*q.type) : loom::gguf_file_type_name(*q.mix));
    for (const std::string& l : q.cache_log) {
      std::fprintf(stderr, "loom-perplexity: quant cache: %s\n", l.c_str());
    }
  }
  // llama-perplexity's scoring reads the text as it does: BOS first.
  const std::vector<int> ids = model.tokenizer().encode(text, /*add_special=*/a.scoring == "llama");
  if (ids.empty()) throw loom::Error("--file: " + a.file + " has no text to measure");

  loom::Session session(model, {.ctx_size = a.ctx_size,
                                .threads = a.threads,
                                .kv_type = kv,
                                .bf16_prompts = a.bf16.value()});
  const int ctx = session.ctx_size();
  if (ctx > model.config().max_position_embeddings) {
    std::fprintf(stderr,
                 "loom-perplexity: warning: context of %d tokens exceeds the %d the model was "
                 "trained for\n",
                 ctx, model.config().max_position_embeddings);
  }
  if (ctx >= 2 && a.scoring == "llama") {
    std::fprintf(stderr,
                 "loom-perplexity: %zu tokens, ctx %d: %zu chunk(s), the second half of each "
                 "scored (llama-perplexity's method)\n",
                 ids.size(), ctx, ids.size() / static_cast<size_t>(ctx));
  } else if (ctx >= 2) {
    const size_t chunks = (ids.size() + ctx - 2) / (ctx - 1);
    std::fprintf(stderr,
                 "loom-perplexity: %zu tokens, ctx %d: %zu chunk(s) of BOS + up to %d tokens, "
                 "every token predicted\n",
                 ids.size(), ctx, chunks, ctx - 1);
  }

  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  const auto progress = [](const loom::PerplexityResult& so_far) {
    std::printf("[%zu]%.4f,", so_far.chunks.size(), so_far.perplexity);
    std::fflush(stdout);
  };
  const loom::PerplexityResult r = a.scoring == "llama"
                                       ? loom::perplexity_llama_cpp(session, ids, ctx, progress)
                                       : loom::perplexity(session, ids, ctx, progress);
  const double seconds = std::chrono::duration<double>(clock::now() - t0).count();
  std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", r.perplexity, r.perplexity_err);
  std::fflush(stdout);  // before the stderr line, for a terminal or a 2>&1 pipe
  std::fprintf(stderr,
               "predictions: %d in %zu chunk(s), %.3f s (%.1f tokens/s) | threads: %d | "
               "weights: %s | kv cache: %s\n",
               r.predictions, r.chunks.size(), seconds, r.predictions / seconds, session.threads(),
               a.quantize.empty() ? loom::dtype_name(model.config().dtype) : a.quantize.c_str(),
               loom::dtype_name(session.kv_type()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{
      "loom-perplexity: perplexity of a text under a Llama-style model, as "
      "llama-perplexity"};
  app.get_formatter()->column_width(40);
  loom::tools::take_last_value(app);
  app.add_option("-m,--model", a.model,
                 "model folder (config.json, *.safetensors, tokenizer.json or tokenizer.model) or "
                 "GGUF file")
      ->capture_default_str();
  app.add_option("-f,--file", a.file, "text file to measure")->type_name("FILE")->required();
  app.add_option("-c,--ctx-size,--ctx", a.ctx_size,
                 "tokens per chunk, BOS included (0: the model's max_position_embeddings, at most "
                 "4096)")
      ->capture_default_str()
      ->check(CLI::Range(0, INT32_MAX));
  app.add_option("-t,--threads", a.threads, "threads (0: all cores)")
      ->capture_default_str()
      ->check(CLI::Range(0, 4096));
  app.add_option("--quantize", a.quantize,
                 "quantize the weights at load: q8_0 (8.5 bits a weight), q4_0 or q4_k "
                 "(4.5; q4_k: a scale and minimum a block)")
      ->type_name("TYPE");
  app.add_option("--quant-cache", a.quant_cache,
                 "with --quantize: auto (map the quantized weights from a cache file beside them, "
                 "written on first use), off, or the cache file's path")
      ->type_name("auto|off|PATH")
      ->capture_default_str();
  loom::tools::add_tokenizer_flag(app, a.tokenizer);
  app.add_option("--scoring", a.scoring,
                 "every: every token predicted, chunks of BOS + ctx-1 tokens (transformers' "
                 "reference figure); llama: llama-perplexity's own (the second half of each chunk "
                 "of ctx, BOS first, the tail dropped), to compare with it on the same file")
      ->check(CLI::IsMember({"every", "llama"}))
      ->capture_default_str();
  app.add_option("--kv-type", a.kv_type, "KV cache element type: f32, f16 or bf16")
      ->type_name("TYPE")
      ->capture_default_str();
  a.bf16.add(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "loom-perplexity: error: %s (see --help)\n", e.what());
    return 1;
  }

  try {
    return run(a);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "loom-perplexity: error: %s\n", e.what());
    return 1;
  }
}
