// loom-bench --tokenize: how long a tokenizer takes to load and how fast it encodes, on one
// thread, measured as HF tokenizers' speed is usually quoted (MB of UTF-8 text a second).
#pragma once

#include <string>
#include <vector>

namespace loom::bench {

struct TokenizeBenchArgs {
  std::vector<std::string> files;  // texts, read as bytes
  std::vector<std::string> dirs;   // tokenizer folders (tokenizer.json or tokenizer.model)
  int repetitions = 5;
  std::string output = "md";  // md or json
};

// Prints one row per folder and text: load time, tokens, encode MB/s for the whole text in one
// call and line by line; each the median of the repetitions. Returns the exit status.
int run_tokenize_bench(const TokenizeBenchArgs& args);

}  // namespace loom::bench
