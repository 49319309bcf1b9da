// The load and session flags every tool shares (--quantize, --quant-cache, --kv-type), parsed
// before any model is read, so a typo costs no load. Errors name the flag and the value.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "loom/error.h"
#include "loom/model.h"

namespace loom::tools {

// --quantize: loom::quantize_options's names, an error naming the flag.
inline LoadOptions quantize_flag(std::string_view value) {
  try {
    return quantize_options(value);
  } catch (const Error& e) {
    throw Error(std::string("--quantize: ") + e.what());
  }
}

// --quant-cache: "auto", "off" or a file path, into O's quant_cache and quant_cache_path.
inline void set_quant_cache_flag(LoadOptions& o, std::string_view value) {
  if (value.empty()) throw Error("--quant-cache: want auto, off or a file path");
  o.quant_cache = value == "off" ? QuantCache::Off : QuantCache::Auto;
  o.quant_cache_path = value == "auto" || value == "off" ? "" : std::filesystem::path(value);
}

// --kv-type: "f32", "f16" or "bf16".
inline DType kv_type_flag(std::string_view value) {
  const std::optional<DType> t = dtype_from_name(value);
  if (!t || is_quantized(*t)) {
    throw Error("--kv-type: '" + std::string(value) +
                "' is not a KV cache type (want f32, f16 or bf16)");
  }
  return *t;
}

}  // namespace loom::tools
