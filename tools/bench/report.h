// What loom-bench measured and how it is printed: a markdown table for people, JSON, JSON lines
// and CSV for scripts, with llama-bench's field names where they mean the same thing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bench/peaks.h"

namespace loom::bench {

// About the run as a whole: shown in the markdown header, repeated in every record.
struct RunInfo {
  std::string version, commit;
  std::string cpu_info;  // the CPU's model name
  std::string simd;      // simd::cpu_summary(): features found and the kernel set in use
  std::vector<int> threads;
  std::vector<std::string> kv_types;  // KV cache element types benchmarked: f32, f16, bf16
  std::optional<double> bw_gbps;      // header probe; empty with --no-bw
  int bw_threads = 0;
  size_t bw_mib = 0;
  std::vector<Peaks> peaks;  // per thread count tested; empty with --no-peaks
};

struct ModelInfo {
  std::string name;      // for tables: the folder's name, or synthetic:<shape>
  std::string filename;  // the folder, or synthetic:<shape or config.json path>
  std::string type;      // llama-bench's model_type: architecture, size, weight type
  std::string dtype;     // weight dtype: f32, f16, bf16, or the type quantized to: q8_0, q4_0, q4_k
  size_t size_bytes = 0, n_params = 0;
  double bits_per_weight = 0;  // size_bytes * 8 / n_params
  double load_s = 0;
  size_t rss_after_load = 0;
  size_t peak_rss = 0;  // so far: load and the tests run (the probe's buffer not included)
};

struct TestResult {
  ModelInfo model;
  int threads = 0, n_prompt = 0, n_gen = 0, n_depth = 0, n_batch = 0;
  std::string kv_type = "f32";       // the KV cache's element type: llama-bench's type_k and type_v
  std::string test_time;             // ISO 8601, UTC, when the test began
  std::vector<uint64_t> samples_ns;  // one per repetition
  double bytes_per_token = 0;        // tg only: weights plus the KV cache one step reads
  double flops_per_token = 0;
  std::optional<double> bw_before, bw_after;  // probes either side of the test
  // Prompt tests: the measured peak of the instruction the prompt's products run on (with these
  // threads), against which GFLOP/s is a share.
  std::optional<Peak> peak;
  size_t rss_after_test = 0;

  int tokens() const { return n_prompt + n_gen; }
  std::string name() const;  // pp512, tg128 @ d1024
};

struct Stats {
  double mean = 0, sd = 0;  // sample standard deviation; 0 for one sample
};
Stats stats(const std::vector<double>& xs);

// One result as a flat record: JSON, JSON lines and CSV all print these fields.
nlohmann::ordered_json to_json(const RunInfo& run, const TestResult& r);

class Printer {
 public:
  virtual ~Printer() = default;
  virtual void begin(const RunInfo& run) = 0;
  virtual void result(const TestResult& r) = 0;  // printed as soon as each test ends
  virtual void end(const std::vector<ModelInfo>& models) = 0;
};

// FORMAT: md, json, jsonl or csv; throws loom::Error for anything else.
std::unique_ptr<Printer> make_printer(const std::string& format);

}  // namespace loom::bench
