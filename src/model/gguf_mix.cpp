#include "model/gguf_mix.h"

#include <array>
#include <string_view>

#include "quant/dtype_traits.h"

namespace loom {
namespace {

struct FileTypeName {
  GgufFileType type;
  const char* name;
  DType base;       // the type most matrices get
  uint32_t number;  // llama_ftype
};

constexpr std::array<FileTypeName, 10> kFileTypes = {{
    {GgufFileType::F32, "f32", DType::F32, 0},
    {GgufFileType::F16, "f16", DType::F16, 1},
    {GgufFileType::BF16, "bf16", DType::BF16, 32},
    {GgufFileType::Q8_0, "q8_0", DType::Q8_0, 7},
    {GgufFileType::Q4_0, "q4_0", DType::Q4_0, 2},
    {GgufFileType::Q4_K_S, "q4_k_s", DType::Q4_K, 14},
    {GgufFileType::Q4_K_M, "q4_k_m", DType::Q4_K, 15},
    {GgufFileType::Q5_K_S, "q5_k_s", DType::Q5_K, 16},
    {GgufFileType::Q5_K_M, "q5_k_m", DType::Q5_K, 17},
    {GgufFileType::Q6_K, "q6_k", DType::Q6_K, 18},
}};

const FileTypeName& entry(GgufFileType t) {
  for (const FileTypeName& f : kFileTypes) {
    if (f.type == t) return f;
  }
  return kFileTypes[0];  // unreachable: every enumerator is in the table
}

// Weights per block of T in a GGUF file (ggml's Q4_K has super-blocks of 256; loom holds rows
// of any multiple of 32).
int file_block(DType t) {
  return quant::traits(t).ggml_block;
}

}  // namespace

std::optional<GgufFileType> gguf_file_type_from_name(std::string_view name) {
  for (const FileTypeName& f : kFileTypes) {
    if (name == f.name) return f.type;
  }
  return std::nullopt;
}

const char* gguf_file_type_name(GgufFileType t) {
  return entry(t).name;
}

std::string gguf_file_type_names() {
  std::string s;
  for (const FileTypeName& f : kFileTypes) s += std::string(s.empty() ? "" : ", ") + f.name;
  return s;
}

namespace model {

MixRole mix_role(const std::string& hf, bool tied, int& layer) {
  layer = -1;
  if (hf == "lm_head.weight") return MixRole::Output;
  if (hf == "model.embed_tokens.weight") return tied ? MixRole::Output : MixRole::Embedding;
  const std::string_view prefix = "model.layers.";
  if (hf.starts_with(prefix)) {
    layer = std::stoi(hf.substr(prefix.size()));
    if (hf.ends_with(".self_attn.v_proj.weight")) return MixRole::AttnV;
    if (hf.ends_with(".mlp.down_proj.weight")) return MixRole::FfnDown;
  }
  return MixRole::Other;
}

DType mix_tensor_type(GgufFileType ft, MixRole role, int layer, int n, int cols) {
  const DType base = entry(ft).base;
  if (!is_quantized(base)) return base;
  // llama.cpp's use_more_bits: the first and last eighth of the layers and every third between.
  const bool more_bits = layer < n / 8 || layer >= 7 * n / 8 || (layer - n / 8) % 3 == 2;
  const bool m_mix = ft == GgufFileType::Q4_K_M || ft == GgufFileType::Q5_K_M;
  DType t = base;
  switch (role) {
    case MixRole::Output:
      if (cols % file_block(base) != 0) {
        t = DType::Q8_0;
      } else if (base != DType::Q8_0) {
        t = DType::Q6_K;
      }
      break;
    case MixRole::AttnV:
      if (m_mix && more_bits) t = DType::Q6_K;
      if (ft == GgufFileType::Q4_K_S && layer < 4) t = DType::Q5_K;
      break;
    case MixRole::FfnDown:
      if (m_mix && more_bits) t = DType::Q6_K;
      if (ft == GgufFileType::Q4_K_S && layer < n / 8) t = DType::Q5_K;
      break;
    case MixRole::Embedding:
    case MixRole::Other:
      break;
  }
  if (cols % file_block(t) != 0) {  // tensor_type_fallback
    t = t == DType::Q4_K   ? DType::Q5_0
        : t == DType::Q5_K ? DType::Q5_1
        : t == DType::Q6_K ? DType::Q8_0
                           : t;
    if (cols % file_block(t) != 0) t = DType::F16;
  }
  return t;
}

uint32_t gguf_ftype_number(GgufFileType ft) {
  return entry(ft).number;
}

}  // namespace model
}  // namespace loom
