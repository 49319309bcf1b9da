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

// --quantize: "" (nothing), "q8_0", "q4_0" or "q4_k" (every matrix), or one of llama-quantize's
// mixes, "q4_k_s", "q4_k_m", "q5_k_s", "q5_k_m", "q6_k" (its per-tensor rules).
inline LoadOptions quantize_flag(std::string_view value) {
  LoadOptions o;
  if (value.empty()) return o;
  const std::optional<DType> t = dtype_from_name(value);
  if (t && is_quantized(*t) && !is_ggml_only(*t)) {
    o.quantize = t;
    return o;
  }
  const std::optional<GgufFileType> mix = gguf_file_type_from_name(value);
  if (mix && *mix != GgufFileType::F32 && *mix != GgufFileType::F16 && *mix != GgufFileType::BF16) {
    o.quantize_mix = mix;
    return o;
  }
  throw Error("--quantize: '" + std::string(value) +
              "' is not a quantized type (want q8_0, q4_0, q4_k, q4_k_s, q4_k_m, q5_k_s, "
              "q5_k_m or q6_k)");
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
