#include "bench/report.h"

#include <cmath>
#include <cstdio>
#include <numeric>

#include "loom/error.h"

namespace loom::bench {
namespace {

using nlohmann::ordered_json;

// The probes either side of a test disagree by more than this: the host changed bandwidth mode
// while it ran, and its % bw is a blend of two modes.
constexpr double kModeChange = 0.15;

std::string format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// Appends ITEM to a comma-separated LIST.
void add_item(std::string& list, const std::string& item) {
  if (!list.empty()) list += ',';
  list += item;
}

std::string human_bytes(double b) {
  return b < 1024.0 * 1024 * 1024 ? format("%.2f MiB", b / (1 << 20))
                                  : format("%.2f GiB", b / (1 << 30));
}

std::string human_params(double n) {
  if (n >= 1e9) return format("%.2f B", n / 1e9);
  if (n >= 1e6) return format("%.2f M", n / 1e6);
  return format("%.2f K", n / 1e3);
}

// Everything a printer shows that is derived from the samples.
struct Derived {
  Stats ts, ns;
  std::vector<double> samples_ts;
  std::optional<double> gbps, bw, fraction, peak_share;
  double gflops = 0;
  bool mode_changed = false;
};

Derived derive(const TestResult& r) {
  Derived d;
  std::vector<double> ns;
  for (uint64_t s : r.samples_ns) {
    ns.push_back(static_cast<double>(s));
    d.samples_ts.push_back(r.tokens() * 1e9 / static_cast<double>(s));
  }
  // The mean of each repetition's rate, as llama-bench reports, not tokens over the mean time.
  d.ts = stats(d.samples_ts);
  d.ns = stats(ns);
  d.gflops = r.flops_per_token * d.ts.mean / 1e9;
  if (r.peak && r.peak->gflops > 0) d.peak_share = d.gflops / r.peak->gflops;
  if (r.bw_before && r.bw_after) {
    d.bw = (*r.bw_before + *r.bw_after) / 2;
    d.mode_changed = std::abs(*r.bw_before - *r.bw_after) > kModeChange * *d.bw;
  }
  if (r.bytes_per_token > 0) {
    d.gbps = r.bytes_per_token * d.ts.mean / 1e9;
    if (d.bw) d.fraction = *d.gbps / *d.bw;
  }
  return d;
}

template <class T>
ordered_json or_null(const std::optional<T>& v) {
  return v ? ordered_json(*v) : ordered_json(nullptr);
}

class Markdown : public Printer {
 public:
  void begin(const RunInfo& run) override {
    std::printf("loom-bench %s (%s)\n", run.version.c_str(), run.commit.c_str());
    std::printf("cpu model: %s\n%s\n", run.cpu_info.c_str(), run.simd.c_str());
    std::string threads;
    for (int t : run.threads) add_item(threads, std::to_string(t));
    std::printf("threads: %s\n", threads.c_str());
    std::string kv;
    for (const std::string& t : run.kv_types) {
      add_item(kv, t);
      kv_columns_ = kv_columns_ || t != "f32";
    }
    std::printf("kv cache: %s\n", kv.empty() ? "f32" : kv.c_str());
    if (run.bw_gbps) {
      std::printf("memory bandwidth: %.2f GB/s (read, %d threads, %zu MiB, best of 3)\n",
                  *run.bw_gbps, run.bw_threads, run.bw_mib);
    } else {
      std::printf("memory bandwidth: not measured (--no-bw)\n");
    }
    for (const Peaks& p : run.peaks) {
      std::string line;
      for (const auto& [what, peak] : {std::pair<const char*, const Peak*>{"fp32 FMA", &p.fp32},
                                       {"bf16 dot", &p.bf16},
                                       {"int8 dot", &p.int8}}) {
        if (peak->gflops > 0) {
          add_item(line,
                   std::string(" ") + what + " " + peak->insn + format(" %.0f", peak->gflops));
        }
      }
      std::printf("compute peaks, GFLOP/s (%d thread%s):%s\n", p.threads, p.threads == 1 ? "" : "s",
                  line.empty() ? " none measured" : line.c_str());
    }
    // As llama-bench: the KV cache's types get columns only when one is not the default.
    const std::string kv_head = kv_columns_ ? " type_k | type_v |" : "";
    const std::string kv_rule = kv_columns_ ? " :----- | :----- |" : "";
    std::printf("\n| %-30s | %10s | %9s | %7s |%s %16s | %20s | %8s | %6s | %9s | %6s |\n", "model",
                "size", "params", "threads", kv_head.c_str(), "test", "t/s", "GB/s", "% bw",
                "GFLOP/s", "% peak");
    std::printf("| :%s | %s: | %s: | %s: |%s %s: | %s: | %s: | %s: | %s: | %s: |\n",
                std::string(29, '-').c_str(), std::string(9, '-').c_str(),
                std::string(8, '-').c_str(), std::string(6, '-').c_str(), kv_rule.c_str(),
                std::string(15, '-').c_str(), std::string(19, '-').c_str(),
                std::string(7, '-').c_str(), std::string(5, '-').c_str(),
                std::string(8, '-').c_str(), std::string(5, '-').c_str());
    std::fflush(stdout);
  }

  void result(const TestResult& r) override {
    const Derived d = derive(r);
    const std::string ts = format("%.2f", d.ts.mean) + " ± " + format("%.2f", d.ts.sd);
    std::string bw = d.fraction ? format("%.1f", 100 * *d.fraction) : "";
    if (d.fraction && d.mode_changed) bw += "*", any_mode_change_ = true;
    char kv[32] = "";
    if (kv_columns_)
      std::snprintf(kv, sizeof kv, " %-6s | %-6s |", r.kv_type.c_str(), r.kv_type.c_str());
    const std::string peak = d.peak_share ? format("%.1f", 100 * *d.peak_share) : "";
    std::printf("| %-30s | %10s | %9s | %7d |%s %16s | %21s | %8s | %6s | %9.2f | %6s |\n",
                (r.model.name + " " + r.model.dtype).c_str(),
                human_bytes(static_cast<double>(r.model.size_bytes)).c_str(),
                human_params(static_cast<double>(r.model.n_params)).c_str(), r.threads, kv,
                r.name().c_str(), ts.c_str(), d.gbps ? format("%.2f", *d.gbps).c_str() : "",
                bw.c_str(), d.gflops, peak.c_str());
    std::fflush(stdout);
  }

  void end(const std::vector<ModelInfo>& models) override {
    if (any_mode_change_) {
      std::printf(
          "\n* the bandwidth probes before and after the test differ by more than "
          "%.0f%%: the memory ran in two modes during it; %% bw is against their mean.\n",
          100 * kModeChange);
    }
    std::printf("\n| %-30s | %11s | %8s | %14s | %14s |\n", "model", "bits/weight", "load s",
                "RSS after load", "peak RSS");
    std::printf("| :%s | %s: | %s: | %s: | %s: |\n", std::string(29, '-').c_str(),
                std::string(10, '-').c_str(), std::string(7, '-').c_str(),
                std::string(13, '-').c_str(), std::string(13, '-').c_str());
    for (const ModelInfo& m : models) {
      std::printf("| %-30s | %11.2f | %8.3f | %14s | %14s |\n", (m.name + " " + m.dtype).c_str(),
                  m.bits_per_weight, m.load_s,
                  human_bytes(static_cast<double>(m.rss_after_load)).c_str(),
                  human_bytes(static_cast<double>(m.peak_rss)).c_str());
    }
  }

 private:
  bool any_mode_change_ = false;
  bool kv_columns_ = false;
};

class Json : public Printer {
 public:
  explicit Json(bool lines) : lines_(lines) {}
  void begin(const RunInfo& run) override {
    run_ = run;
    if (!lines_) std::printf("[");
  }
  void result(const TestResult& r) override {
    const ordered_json j = to_json(run_, r);
    if (lines_) {
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("%s\n%s", first_ ? "" : ",", j.dump(2).c_str());
    }
    first_ = false;
    std::fflush(stdout);
  }
  void end(const std::vector<ModelInfo>&) override {
    if (!lines_) std::printf("\n]\n");
  }

 private:
  bool lines_;
  bool first_ = true;
  RunInfo run_;
};

// Every field quoted, as llama-bench writes it; a list is one field of comma-separated values.
class Csv : public Printer {
 public:
  void begin(const RunInfo& run) override { run_ = run; }
  void result(const TestResult& r) override {
    const ordered_json j = to_json(run_, r);
    if (first_) {
      std::string header;
      for (const auto& [key, value] : j.items()) add_item(header, key);
      std::printf("%s\n", header.c_str());
      first_ = false;
    }
    std::string line;
    for (const auto& [key, value] : j.items()) {
      if (!line.empty()) line += ',';
      line += quote(text(value));
    }
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
  void end(const std::vector<ModelInfo>&) override {}

 private:
  static std::string text(const ordered_json& v) {
    if (v.is_null()) return "";
    if (v.is_string()) return v.get<std::string>();
    if (!v.is_array()) return v.dump();
    std::string s;
    for (const auto& e : v) add_item(s, e.dump());
    return s;
  }
  static std::string quote(const std::string& s) {
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  }
  bool first_ = true;
  RunInfo run_;
};

}  // namespace

std::string TestResult::name() const {
  std::string s = n_prompt > 0 ? "pp" + std::to_string(n_prompt) : "tg" + std::to_string(n_gen);
  if (n_depth > 0) s += " @ d" + std::to_string(n_depth);
  return s;
}

Stats stats(const std::vector<double>& xs) {
  Stats s;
  if (xs.empty()) return s;
  s.mean = std::accumulate(xs.begin(), xs.end(), 0.0) / xs.size();
  if (xs.size() > 1) {
    double ss = 0;
    for (double x : xs) ss += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(ss / (xs.size() - 1));
  }
  return s;
}

nlohmann::ordered_json to_json(const RunInfo& run, const TestResult& r) {
  const Derived d = derive(r);
  const bool tg = r.n_gen > 0;
  ordered_json j;
  j["build_commit"] = run.commit;
  j["loom_version"] = run.version;
  j["cpu_info"] = run.cpu_info;
  j["simd"] = run.simd;
  j["model_filename"] = r.model.filename;
  j["model_type"] = r.model.type;
  j["model_size"] = r.model.size_bytes;
  j["model_n_params"] = r.model.n_params;
  j["model_bits_per_weight"] = r.model.bits_per_weight;
  j["weight_dtype"] = r.model.dtype;
  j["n_batch"] = r.n_batch;
  j["n_ubatch"] = r.n_batch;  // loom has one batch size: tokens per matrix-matrix pass
  j["n_threads"] = r.threads;
  j["type_k"] = r.kv_type;
  j["type_v"] = r.kv_type;
  j["n_prompt"] = r.n_prompt;
  j["n_gen"] = r.n_gen;
  j["n_depth"] = r.n_depth;
  j["test_time"] = r.test_time;
  j["avg_ns"] = static_cast<uint64_t>(std::llround(d.ns.mean));
  j["stddev_ns"] = static_cast<uint64_t>(std::llround(d.ns.sd));
  j["avg_ts"] = d.ts.mean;
  j["stddev_ts"] = d.ts.sd;
  j["samples_ns"] = r.samples_ns;
  j["samples_ts"] = d.samples_ts;
  j["bytes_per_token"] =
      tg ? ordered_json(static_cast<uint64_t>(std::llround(r.bytes_per_token))) : ordered_json();
  j["gbps"] = or_null(d.gbps);
  j["bw_gbps_before"] = or_null(r.bw_before);
  j["bw_gbps_after"] = or_null(r.bw_after);
  j["bw_fraction"] = or_null(d.fraction);
  j["gflops"] = d.gflops;
  j["peak_gflops"] = r.peak ? ordered_json(r.peak->gflops) : ordered_json();
  j["peak_insn"] = r.peak ? ordered_json(r.peak->insn) : ordered_json();
  j["peak_fraction"] = or_null(d.peak_share);
  j["load_s"] = r.model.load_s;
  j["rss_after_load_bytes"] = r.model.rss_after_load;
  j["rss_after_test_bytes"] = r.rss_after_test;
  j["peak_rss_bytes"] = r.model.peak_rss;
  return j;
}

std::unique_ptr<Printer> make_printer(const std::string& format) {
  if (format == "md") return std::make_unique<Markdown>();
  if (format == "json") return std::make_unique<Json>(false);
  if (format == "jsonl") return std::make_unique<Json>(true);
  if (format == "csv") return std::make_unique<Csv>();
  throw Error("-o: unknown output format '" + format + "' (want md, json, jsonl or csv)");
}

}  // namespace loom::bench
