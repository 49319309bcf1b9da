// The tools' --tokenizer flag: which of a folder's tokenizer files to read.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "loom/error.h"
#include "loom/tokenizer.h"

namespace loom::tools {

// The --tokenizer values: auto (the default) reads tokenizer.json when the folder has one, as
// transformers' AutoTokenizer does; json and sentencepiece name the file.
inline TokenizerOptions::Source tokenizer_source(const std::string& v) {
  if (v == "auto") return TokenizerOptions::Source::Auto;
  if (v == "json") return TokenizerOptions::Source::Json;
  if (v == "sentencepiece") return TokenizerOptions::Source::SentencePiece;
  throw Error("--tokenizer: '" + v +
              "' is not a tokenizer choice (want auto, json or sentencepiece)");
}

inline CLI::Option* add_tokenizer_flag(CLI::App& app, std::string& value) {
  return app
      .add_option("--tokenizer", value,
                  "tokenizer file to read: auto (tokenizer.json when the folder has one, as "
                  "transformers does), json (tokenizer.json) or sentencepiece (tokenizer.model)")
      ->type_name("auto|json|sentencepiece")
      ->capture_default_str();
}

}  // namespace loom::tools
