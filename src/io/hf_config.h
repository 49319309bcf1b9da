// config.json and generation_config.json of a Hugging Face Llama folder -> ModelConfig.
#pragma once

#include <filesystem>
#include <string>

#include "loom/config.h"

namespace loom::io {

// Reads DIR/config.json (and DIR/generation_config.json for EOS ids, if present). Throws
// loom::Error naming the file, key and value for anything missing, malformed or unsupported.
ModelConfig read_hf_config(const std::filesystem::path& dir);

// Reads one config.json file (no generation_config.json).
ModelConfig read_hf_config_file(const std::filesystem::path& config_json);

// Same, from JSON text; WHERE names the source in messages. GENERATION may be empty.
ModelConfig parse_hf_config(const std::string& config_json, const std::string& where,
                            const std::string& generation_json = "",
                            const std::string& generation_where = "");

}  // namespace loom::io
