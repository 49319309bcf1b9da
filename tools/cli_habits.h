// What every loom tool's command line does alike, as llama.cpp's tools and most Unix tools do.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

#include "loom/error.h"

namespace loom::tools {

// -m's value: a Hugging Face folder or a GGUF file; checked up front so a typo fails at once.
inline void check_model_path(const std::string& path) {
  namespace fs = std::filesystem;
  if (fs::is_directory(path)) return;
  if (fs::is_regular_file(path) && fs::path(path).extension() == ".gguf") return;
  throw Error("model not found: " + path + " (want a Hugging Face folder or a .gguf file)");
}

// A flag given twice takes its last value (`-n 64 ... -n 200` generates 200), so an alias or a
// wrapper script can set a default that the user's own flag then overrides. Call before adding
// options: CLI11 copies the defaults into each option as it is added.
inline void take_last_value(CLI::App& app) {
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

// A repeatable option (--stop, --logit-bias, a list) keeps every value it is given.
inline CLI::Option* repeatable(CLI::Option* opt) {
  return opt->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

// Text streamed to standard output, remembering whether it ended a line: what a tool then prints
// on standard error (the statistics) starts on a line of its own where both share a terminal,
// and standard output ends with exactly one newline.
class TextOut {
 public:
  void write(std::string_view s) {
    if (s.empty()) return;
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
    at_line_start_ = s.back() == '\n';
  }
  // Ends the line unless the last byte written did.
  void end_line() {
    if (!at_line_start_) write("\n");
  }
  bool at_line_start() const { return at_line_start_; }

 private:
  bool at_line_start_ = true;
};

}  // namespace loom::tools
