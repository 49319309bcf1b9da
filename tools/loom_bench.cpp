// loom-bench: prefill (pp) and decode (tg) speed, measured as llama-bench measures it so the
// figures compare, with decode read against the memory bandwidth the host delivers at the time.
#include <omp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bandwidth.h"
#include "bench/peaks.h"
#include "bench/report.h"
#include "bench/tokenize_bench.h"
#include "bf16_flags.h"
#include "cli_habits.h"
#include "default_model.h"
#include "load_flags.h"
#include "loom/loom.h"
#include "model/gguf_mix.h"
#include "model/synthetic.h"
#include "ops/matmul.h"
#include "simd/cpu.h"

namespace {

using loom::bench::ModelInfo;
using loom::bench::TestResult;
namespace fs = std::filesystem;

// Positions beyond depth + test size that the KV cache holds; none are used.
constexpr int kCtxSlack = 16;
constexpr uint64_t kSeed = 1234;  // the token ids, so every run evaluates the same ones
constexpr const char* kBf16ActsNote =
    "; bf16-weight prompt products round activations to bf16 (--exact: fp32 activations)";

struct Args {
  std::vector<std::string> models, synthetic;
  std::vector<std::string> dtypes{"bf16"}, prompts{"512"}, gens{"128"}, depths{"0"}, threads;
  std::vector<std::string> kv_types{"f32"};
  std::vector<std::string> tokenize;  // texts: benchmark the -m folders' tokenizers instead
  int repetitions = 5;
  bool no_warmup = false;
  int batch_size = 0;
  std::string quantize;
  std::string quant_cache = "auto";
  std::string output = "md";
  int bw_mib = 1024;
  bool no_bw = false;
  bool no_peaks = false;
  loom::tools::Bf16Flags bf16;
};

// What to load: a folder, or a synthetic model of a shape and dtype.
struct ModelSpec {
  std::string dir;    // a folder, or empty
  std::string shape;  // a known shape or a config.json path
  loom::ModelConfig config;
  loom::DType dtype = loom::DType::BF16;
  loom::LoadOptions options;
};

// Read up front, so a bad name fails before anything is measured.
loom::ModelConfig shape_config(const std::string& shape) {
  const bool file = shape.find('/') != std::string::npos || fs::path(shape).extension() == ".json";
  return file ? loom::Model::read_config(shape) : loom::model::known_shape(shape);
}

// The items of comma lists, given once or as repeated flags: "-p 64,128 -p 512".
std::vector<std::string> split_lists(const std::vector<std::string>& lists) {
  std::vector<std::string> out;
  for (const std::string& list : lists) {
    std::stringstream ss(list);
    for (std::string item; std::getline(ss, item, ',');) out.push_back(item);
  }
  return out;
}

std::vector<int> int_list(const char* flag, const std::vector<std::string>& lists, int min) {
  std::vector<int> out;
  for (const std::string& v : split_lists(lists)) {
    size_t used = 0;
    long n = -1;
    try {
      n = std::stol(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != v.size() || n < min || n > INT32_MAX) {
      throw loom::Error(std::string(flag) + ": '" + v +
                        "' is not an integer >= " + std::to_string(min));
    }
    out.push_back(static_cast<int>(n));
  }
  if (out.empty()) throw loom::Error(std::string(flag) + ": empty list");
  return out;
}

std::vector<loom::DType> dtype_list(const std::vector<std::string>& lists) {
  std::vector<loom::DType> out;
  for (const std::string& v : split_lists(lists)) {
    const size_t before = out.size();
    for (loom::DType t : {loom::DType::F32, loom::DType::F16, loom::DType::BF16}) {
      if (v == loom::dtype_name(t)) out.push_back(t);
    }
    if (out.size() == before) {
      throw loom::Error("--dtype: unknown weight type '" + v + "' (want f32, f16 or bf16)");
    }
  }
  return out;
}

std::vector<loom::DType> kv_type_list(const std::vector<std::string>& lists) {
  std::vector<loom::DType> out;
  for (const std::string& v : split_lists(lists)) {
    out.push_back(loom::tools::kv_type_flag(v));
  }
  if (out.empty()) throw loom::Error("--kv-type: empty list");
  return out;
}

size_t current_rss() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

size_t peak_rss() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<size_t>(ru.ru_maxrss) * 1024;  // Linux reports KiB
}

// Restarts the peak (Linux >= 4.0) from the current RSS, so each model's peak excludes the
// models before it and the bandwidth probe's buffer; elsewhere the peak is the process's.
void reset_peak_rss() {
  if (std::FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
    std::fputs("5", f);
    std::fclose(f);
  }
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

std::string now_iso8601() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// llama-bench's model_type: "llama 1.1B BF16".
std::string model_type(const loom::ModelConfig& c, size_t n_params, const char* dtype) {
  char size[32];
  if (n_params >= 1'000'000'000) {
    std::snprintf(size, sizeof size, "%.1fB", n_params / 1e9);
  } else if (n_params >= 1'000'000) {
    std::snprintf(size, sizeof size, "%.0fM", n_params / 1e6);
  } else {
    std::snprintf(size, sizeof size, "%.0fK", n_params / 1e3);
  }
  std::string t = dtype;
  std::transform(t.begin(), t.end(), t.begin(), ::toupper);
  return (c.model_type.empty() ? "llama" : c.model_type) + " " + size + " " + t;
}

// Work per token: 2 flops per weight of each layer's matrices, attention's QK^T and PV (2 each
// per query dimension and attended position), and the output head, which runs on the last row
// of each pass only.
// Keys a token of the test attends to, on average over the test's tokens and the layers: causal,
// token i sees depth + i + 1, or its layer's sliding window if that is fewer.
double avg_keys(const loom::ModelConfig& c, int tokens, int depth) {
  double sum = 0;
  for (int l = 0; l < c.n_layers; ++l) {
    const int w = c.window_of(l);
    for (int i = 0; i < tokens; ++i) sum += w > 0 ? std::min(depth + i + 1, w) : depth + i + 1;
  }
  return sum / (static_cast<double>(tokens) * c.n_layers);
}

double flops_per_token(const loom::ModelConfig& c, int tokens, int depth, int batch) {
  const double h = c.hidden_size, q = c.q_dim(), kv = c.kv_dim(), f = c.intermediate_size;
  const double layer = q * h + 2 * kv * h + h * q + 3 * f * h;
  const double keys = avg_keys(c, tokens, depth);
  const double passes = (tokens + batch - 1) / batch;
  return c.n_layers * (2 * layer + 4 * q * keys) + 2.0 * c.vocab_size * h * passes / tokens;
}

// One decode step reads every weight once and the keys and values of every attended position.
double decode_bytes_per_token(const loom::Model& m, int tokens, int depth, loom::DType kv_type) {
  const loom::ModelConfig& c = m.config();
  return static_cast<double>(m.decode_weight_bytes()) +
         2.0 * c.n_layers * c.kv_dim() * static_cast<double>(loom::dtype_size(kv_type)) *
             avg_keys(c, tokens, depth);
}

struct Test {
  int n_prompt = 0, n_gen = 0, n_depth = 0;
};

// The weight type most of a model's product flops run in: what --quantize made, a mix's type
// for most matrices (q4_k_m: q4_k), or the file's (a GGUF file's attn_q type, config().dtype).
loom::DType main_dtype(const loom::Model& m) {
  const loom::Quantization& q = m.quantization();
  if (q.type) return *q.type;
  const int n = m.config().n_layers;
  if (q.mix) return loom::model::mix_tensor_type(*q.mix, loom::model::MixRole::Other, 0, n, 4096);
  return m.config().dtype;
}

// The peak, among P, of the instruction MODEL's prompt products run on (kernels.h, matmul.h):
// the int8 gemm for loom's q8_0, q4_0 and q4_k (none in the scalar set), vdpbf16ps for bf16
// weights where prompts round activations to bf16, and the fp32 gemm for the rest (f32, f16,
// exact bf16, and ggml's Q5/Q6 blocks, dequantized into it).
std::optional<loom::bench::Peak> prompt_peak(const loom::bench::Peaks& p, const loom::Model& model,
                                             loom::Bf16Prompts bf16) {
  const loom::DType t = main_dtype(model);
  const loom::bench::Peak* peak = &p.fp32;
  if (loom::is_quantized(t) && !loom::is_ggml_only(t)) {
    peak = &p.int8;
  } else if (t == loom::DType::BF16 &&
             loom::ops::prompt_pass(bf16) == loom::ops::Pass::PromptBf16Acts) {
    peak = &p.bf16;
  }
  if (peak->gflops <= 0 || loom::simd::best_isa() == loom::simd::Isa::Scalar) return std::nullopt;
  return *peak;
}

TestResult run_test(const loom::Model& model, ModelInfo& info, const Test& t, int threads,
                    loom::DType kv_type, const Args& a, const loom::bench::Peaks* peaks) {
  TestResult r;
  r.threads = threads;
  r.kv_type = loom::dtype_name(kv_type);
  r.n_prompt = t.n_prompt;
  r.n_gen = t.n_gen;
  r.n_depth = t.n_depth;
  // Default: the whole prompt in one pass (llama-bench's pp512 is one ubatch of its default 512;
  // larger prompts here stay one pass rather than being split into 512s).
  r.n_batch = a.batch_size ? a.batch_size : std::max(512, t.n_prompt);
  const int n = t.n_prompt + t.n_gen;
  const size_t bw_bytes = static_cast<size_t>(a.bw_mib) << 20;
  std::fprintf(stderr, "loom-bench: %s %s, t=%d, kv %s...\n", info.name.c_str(), r.name().c_str(),
               threads, r.kv_type.c_str());

  if (!a.no_bw) r.bw_before = loom::bench::probe_bandwidth(bw_bytes, threads);
  reset_peak_rss();
  {
    loom::Session s(model, {.ctx_size = t.n_depth + n + kCtxSlack,
                            .threads = threads,
                            .batch_size = r.n_batch,
                            .kv_type = kv_type,
                            .bf16_prompts = a.bf16.value()});
    std::mt19937_64 rng(kSeed);
    std::uniform_int_distribution<int> token(0, model.config().vocab_size - 1);
    auto draw = [&](int count) {
      std::vector<int> ids(count);
      for (int& id : ids) id = token(rng);
      return ids;
    };
    auto evaluate = [&](const std::vector<int>& ids) {
      if (t.n_prompt > 0) {
        s.prefill(ids);
      } else {
        for (int id : ids) s.decode(id);
      }
    };
    // Untimed: the first run pays for page faults on the weights and the threads' start.
    if (!a.no_warmup) evaluate(draw(n));
    r.test_time = now_iso8601();
    for (int rep = 0; rep < a.repetitions; ++rep) {
      const std::vector<int> depth = draw(t.n_depth), ids = draw(n);
      s.reset();
      if (t.n_depth > 0) s.prefill(depth);
      const auto t0 = std::chrono::steady_clock::now();
      evaluate(ids);
      const auto t1 = std::chrono::steady_clock::now();
      r.samples_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    }
    r.rss_after_test = current_rss();
  }
  // The kernel updates the peak lazily; what we saw ourselves is a lower bound for it.
  info.peak_rss = std::max({info.peak_rss, peak_rss(), r.rss_after_test});
  if (!a.no_bw) r.bw_after = loom::bench::probe_bandwidth(bw_bytes, threads);

  r.flops_per_token = flops_per_token(model.config(), n, t.n_depth, t.n_prompt > 0 ? r.n_batch : 1);
  if (t.n_prompt > 0 && peaks) r.peak = prompt_peak(*peaks, model, a.bf16.value());
  if (t.n_gen > 0) r.bytes_per_token = decode_bytes_per_token(model, n, t.n_depth, kv_type);
  r.model = info;
  return r;
}

loom::Model load(const ModelSpec& spec, ModelInfo& info) {
  const auto t0 = std::chrono::steady_clock::now();
  std::fprintf(stderr, "loom-bench: loading %s...\n",
               spec.dir.empty() ? ("synthetic " + spec.shape).c_str() : spec.dir.c_str());
  loom::Model m = spec.dir.empty()
                      ? loom::model::synthetic_model(spec.config, spec.dtype, 1, spec.options)
                      : loom::Model::load(spec.dir, spec.options);
  info.load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  info.rss_after_load = current_rss();
  info.peak_rss = std::max(peak_rss(), info.rss_after_load);
  if (spec.dir.empty()) {
    info.filename = "synthetic:" + spec.shape;
    const fs::path file(spec.shape);  // a config.json: named by its folder
    info.name = "synthetic:" +
                (file.has_parent_path() ? file.parent_path().filename().string() : spec.shape);
  } else {
    info.filename = spec.dir;
    fs::path p = fs::path(spec.dir).lexically_normal();
    if (p.filename().empty()) p = p.parent_path();  // "models/x/"
    info.name = p.filename().string();
  }
  const loom::Quantization& q = m.quantization();
  info.dtype = q.mix    ? loom::gguf_file_type_name(*q.mix)
               : q.type ? loom::dtype_name(*q.type)
                        : loom::dtype_name(m.config().dtype);
  info.size_bytes = m.weight_bytes();
  info.n_params = m.n_params();
  info.bits_per_weight = 8.0 * static_cast<double>(info.size_bytes) / info.n_params;
  if (q.type || q.mix) {
    std::fprintf(stderr, "loom-bench: quantized %d matrices to %s\n", q.quantized,
                 info.dtype.c_str());
    for (const std::string& k : q.kept) std::fprintf(stderr, "  kept %s\n", k.c_str());
    for (const std::string& l : q.cache_log) {
      std::fprintf(stderr, "loom-bench: quant cache: %s\n", l.c_str());
    }
  }
  info.type = model_type(m.config(), info.n_params, info.dtype.c_str());
  std::fprintf(stderr, "loom-bench: loaded in %.2f s\n", info.load_s);
  return m;
}

int run(const Args& a) {
  if (a.repetitions < 1) {
    throw loom::Error("-r: repetitions must be at least 1, got " + std::to_string(a.repetitions));
  }
  if (a.bw_mib < 1) throw loom::Error("--bw-size: want at least 1 MiB");
  if (a.batch_size < 0) throw loom::Error("-b: batch size must be positive (0: the default)");
  const std::vector<int> prompts = int_list("-p", a.prompts, 0);
  const std::vector<int> gens = int_list("-n", a.gens, 0);
  const std::vector<int> depths = int_list("-d", a.depths, 0);
  const std::vector<loom::DType> kv_types = kv_type_list(a.kv_types);
  const std::vector<int> threads =
      a.threads.empty() ? std::vector<int>{omp_get_max_threads()} : int_list("-t", a.threads, 1);
  std::unique_ptr<loom::bench::Printer> printer = loom::bench::make_printer(a.output);

  std::vector<Test> tests;
  for (int p : prompts) {
    for (int d : depths) {
      if (p > 0) tests.push_back({.n_prompt = p, .n_depth = d});
    }
  }
  for (int g : gens) {
    for (int d : depths) {
      if (g > 0) tests.push_back({.n_gen = g, .n_depth = d});
    }
  }
  if (tests.empty()) throw loom::Error("nothing to run: every -p and -n is 0");

  loom::LoadOptions options = loom::tools::quantize_flag(a.quantize);
  loom::tools::set_quant_cache_flag(options, a.quant_cache);  // synthetic models ignore it
  std::vector<ModelSpec> specs;
  for (const std::string& d : a.models) {
    // Checked up front, so a typo fails before minutes of measuring other models.
    loom::tools::check_model_path(d);
    specs.push_back({.dir = d, .options = options});
  }
  const std::vector<loom::DType> dtypes = dtype_list(a.dtypes);
  for (const std::string& s : a.synthetic) {
    const loom::ModelConfig c = shape_config(s);
    for (loom::DType t : dtypes) {
      specs.push_back({.shape = s, .config = c, .dtype = t, .options = options});
    }
  }
  if (specs.empty()) specs.push_back({.dir = loom::tools::default_model(), .options = options});

  loom::bench::RunInfo info{
      .version = LOOM_VERSION,
      .commit = LOOM_COMMIT,
      .cpu_info = cpu_model_name(),
      .simd =
          std::string(loom::simd::cpu_summary()) +
          (loom::ops::prompt_pass(a.bf16.value()) == loom::ops::Pass::PromptBf16Acts ? kBf16ActsNote
                                                                                     : ""),
      .threads = threads};
  for (loom::DType t : kv_types) info.kv_types.push_back(loom::dtype_name(t));
  if (!a.no_bw) {
    info.bw_threads = *std::max_element(threads.begin(), threads.end());
    info.bw_mib = a.bw_mib;
    std::fprintf(stderr, "loom-bench: probing memory bandwidth (%d MiB, %d threads, %s)...\n",
                 a.bw_mib, info.bw_threads, loom::bench::probe_isa());
    info.bw_gbps =
        loom::bench::probe_bandwidth(static_cast<size_t>(a.bw_mib) << 20, info.bw_threads);
  }
  if (!a.no_peaks) {
    std::vector<int> counts = threads;
    std::sort(counts.begin(), counts.end());
    counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
    for (int t : counts) {
      std::fprintf(stderr, "loom-bench: probing compute peaks (%d thread%s)...\n", t,
                   t == 1 ? "" : "s");
      info.peaks.push_back(loom::bench::probe_peaks(t));
    }
  }
  const auto peaks_of = [&](int t) -> const loom::bench::Peaks* {
    for (const loom::bench::Peaks& p : info.peaks) {
      if (p.threads == t) return &p;
    }
    return nullptr;
  };
  printer->begin(info);
  std::vector<ModelInfo> models;
  for (const ModelSpec& spec : specs) {
    reset_peak_rss();
    ModelInfo mi;
    const loom::Model model = load(spec, mi);
    for (int t : threads) {
      for (loom::DType kv : kv_types) {
        for (const Test& test : tests) {
          printer->result(run_test(model, mi, test, t, kv, a, peaks_of(t)));
        }
      }
    }
    models.push_back(mi);
  }
  printer->end(models);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{"loom-bench: prefill and decode speed of Llama-style models, as llama-bench"};
  app.get_formatter()->column_width(40);
  loom::tools::take_last_value(app);
  app.add_option("-m,--model", a.models, "model folder; repeatable")
      ->type_name("DIR")
      ->default_str(loom::tools::default_model())
      ->group("Models");
  app.add_option("--synthetic", a.synthetic,
                 "random weights of a shape: tinyllama-1.1b, llama2-7b, llama3-8b, llama3.2-1b, "
                 "llama3.2-3b, qwen2.5-0.5b, qwen2.5-1.5b, qwen3-0.6b, qwen3-1.7b or a config.json "
                 "path; repeatable")
      ->type_name("NAME")
      ->group("Models");
  app.add_option("--dtype", a.dtypes, "weight types of --synthetic models: f32,f16,bf16")
      ->type_name("TYPE,...")
      ->capture_default_str()
      ->group("Models");
  app.add_option("--quantize", a.quantize,
                 "quantize every model's weights at load: q8_0 (8.5 bits a weight), q4_0 or q4_k "
                 "(4.5; q4_k: a scale and minimum a block)")
      ->type_name("TYPE")
      ->group("Models");
  app.add_option("--quant-cache", a.quant_cache,
                 "with --quantize, for model folders: auto (map the quantized weights from a cache "
                 "file beside them, written on first use; load_s then times the mapping), off, or "
                 "the cache file's path")
      ->type_name("auto|off|PATH")
      ->capture_default_str()
      ->group("Models");
  a.bf16.add(app);
  app.add_option("--kv-type", a.kv_types,
                 "KV cache element types (list): f32, f16 or bf16 (type_k and type_v)")
      ->type_name("TYPE,...")
      ->capture_default_str();
  app.add_option("-p,--n-prompt", a.prompts, "prefill tests: tokens per prompt (list; 0: none)")
      ->type_name("N,...")
      ->capture_default_str();
  app.add_option("-n,--n-gen", a.gens, "decode tests: tokens generated (list; 0: none)")
      ->type_name("N,...")
      ->capture_default_str();
  app.add_option("-d,--n-depth", a.depths, "tokens in the KV cache before each test (list)")
      ->type_name("N,...")
      ->capture_default_str();
  app.add_option("-t,--threads", a.threads, "threads (list)")
      ->type_name("N,...")
      ->default_str(std::to_string(omp_get_max_threads()));
  app.add_option("-r,--repetitions", a.repetitions, "timed repetitions of each test")
      ->capture_default_str();
  app.add_flag("--no-warmup", a.no_warmup, "skip the untimed run before each test's repetitions");
  app.add_option("-b,--batch-size", a.batch_size,
                 "prompt tokens per matrix-matrix pass (0: the prompt size, at least 512)")
      ->capture_default_str();
  app.add_option("-o,--output", a.output, "output format: md, json, jsonl, csv")
      ->type_name("FORMAT")
      ->capture_default_str();
  app.add_option("--bw-size", a.bw_mib, "memory bandwidth probe buffer, MiB")
      ->type_name("MIB")
      ->capture_default_str();
  app.add_flag("--no-bw", a.no_bw, "do not probe the memory bandwidth");
  app.add_flag("--no-peaks", a.no_peaks,
               "do not probe the compute peaks (fp32 FMA, bf16 and int8 dot products)");
  app.add_option("--tokenize", a.tokenize,
                 "instead of the model: time the -m folders' tokenizers (load ms, encode MB/s on "
                 "one thread, whole text and line by line) on these text files; repeatable")
      ->type_name("FILE")
      ->group("Tokenizer");
  // The lists keep every value, given as -p 128,512 or as -p 128 -p 512.
  for (const char* list : {"--model", "--synthetic", "--dtype", "--kv-type", "--n-prompt",
                           "--n-gen", "--n-depth", "--threads", "--tokenize"}) {
    loom::tools::repeatable(app.get_option(list));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "loom-bench: error: %s (see --help)\n", e.what());
    return 1;
  }

  try {
    if (!a.tokenize.empty()) {
      if (!a.synthetic.empty())
        throw loom::Error("--tokenize times tokenizer folders, not --synthetic");
      return loom::bench::run_tokenize_bench(
          {.files = a.tokenize,
           .dirs =
               a.models.empty() ? std::vector<std::string>{loom::tools::default_model()} : a.models,
           .repetitions = a.repetitions,
           .output = a.output});
    }
    return run(a);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "loom-bench: error: %s\n", e.what());
    return 1;
  }
}
