#include "bench/tokenize_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string_view>

#include "loom/error.h"
#include "loom/tokenizer.h"

namespace loom::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  const size_t n = xs.size();
  return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("--tokenize: cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The text's lines, each with its newline, as a caller tokenizing a file line by line has them.
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const size_t n = end == std::string_view::npos ? text.size() : end + 1;
    lines.push_back(text.substr(0, n));
    text.remove_prefix(n);
  }
  return lines;
}

std::string folder_name(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

struct Row {
  std::string tokenizer, text;
  size_t bytes = 0, tokens = 0, lines = 0;
  double load_ms = 0, whole_mbps = 0, lines_mbps = 0;
};

}  // namespace

int run_tokenize_bench(const TokenizeBenchArgs& a) {
  if (a.repetitions < 1) throw Error("-r: repetitions must be at least 1");
  if (a.output != "md" && a.output != "json") {
    throw Error("-o: --tokenize prints md or json, not '" + a.output + "'");
  }
  if (a.dirs.empty()) throw Error("--tokenize needs -m DIR: a folder with the tokenizer files");
  std::vector<std::pair<std::string, std::string>> texts;  // name, bytes
  for (const std::string& f : a.files)
    texts.emplace_back(fs::path(f).filename().string(), read_file(f));
  for (const std::string& d : a.dirs) {
    if (!fs::is_directory(d)) throw Error("tokenizer folder not found: " + d);
  }

  std::vector<Row> rows;
  for (const std::string& dir : a.dirs) {
    // The first load warms the page cache, as a second run of any program finds it.
    std::optional<Tokenizer> tok;
    std::vector<double> load_s;
    for (int r = 0; r <= a.repetitions; ++r) {
      const auto t0 = Clock::now();
      tok.emplace(Tokenizer::load(dir, -1));
      if (r > 0) load_s.push_back(seconds_since(t0));
    }
    std::fprintf(stderr, "loom-bench: %s: %s\n", dir.c_str(), tok->describe().c_str());
    for (const auto& [name, text] : texts) {
      Row row{.tokenizer = folder_name(dir), .text = name, .bytes = text.size()};
      row.load_ms = median(load_s) * 1e3;
      const std::vector<std::string_view> lines = lines_of(text);
      row.lines = lines.size();
      std::vector<double> whole_s, lines_s;
      size_t line_tokens = 0;
      // One untimed pass each, then the timed repetitions.
      for (int r = 0; r <= a.repetitions; ++r) {
        auto t0 = Clock::now();
        row.tokens = tok->encode(text, false).size();
        if (r > 0) whole_s.push_back(seconds_since(t0));
        t0 = Clock::now();
        line_tokens = 0;
        for (std::string_view line : lines) line_tokens += tok->encode(line, false).size();
        if (r > 0) lines_s.push_back(seconds_since(t0));
      }
      row.whole_mbps = text.size() / median(whole_s) / 1e6;
      row.lines_mbps = text.size() / median(lines_s) / 1e6;
      std::fprintf(stderr, "loom-bench: %s %s: %zu tokens whole, %zu line by line\n",
                   row.tokenizer.c_str(), name.c_str(), row.tokens, line_tokens);
      rows.push_back(row);
    }
  }

  if (a.output == "json") {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const Row& r : rows) {
      out.push_back({{"tokenizer", r.tokenizer},
                     {"text", r.text},
                     {"bytes", r.bytes},
                     {"lines", r.lines},
                     {"tokens", r.tokens},
                     {"load_ms", r.load_ms},
                     {"encode_mb_s", r.whole_mbps},
                     {"encode_lines_mb_s", r.lines_mbps},
                     {"repetitions", a.repetitions},
                     {"threads", 1}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("one thread; MB = 10^6 bytes of UTF-8; median of %d repetitions\n\n", a.repetitions);
  std::printf("| tokenizer | text | bytes | tokens | load ms | encode MB/s | by line MB/s |\n");
  std::printf("| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
  for (const Row& r : rows) {
    std::printf("| %s | %s | %zu | %zu | %.1f | %.2f | %.2f |\n", r.tokenizer.c_str(),
                r.text.c_str(), r.bytes, r.tokens, r.load_ms, r.whole_mbps, r.lines_mbps);
  }
  return 0;
}

}  // namespace loom::bench
