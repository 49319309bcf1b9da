// loom/config.h's dtype functions, read from the one table of quant/dtype_traits.h.
#include "quant/dtype_traits.h"

namespace loom {

using quant::Layout;
using quant::traits;

const char* dtype_name(DType t) {
  return traits(t).name;
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const quant::DTypeTraits& tr : quant::kDTypes) {
    if (name == tr.name) return tr.type;
  }
  return std::nullopt;
}

bool is_quantized(DType t) {
  return traits(t).layout != Layout::Plain;
}

bool is_ggml_only(DType t) {
  return traits(t).layout == Layout::GgmlBlocks;
}

int dtype_block(DType t) {
  return traits(t).block;
}

size_t dtype_size(DType t) {
  return traits(t).layout == Layout::Plain ? static_cast<size_t>(traits(t).ggml_bytes) : 0;
}

size_t row_bytes(DType t, size_t cols) {
  const quant::DTypeTraits& tr = traits(t);
  switch (tr.layout) {
    case Layout::Plain:
      return cols * static_cast<size_t>(tr.ggml_bytes);
    case Layout::LoomRows:
      return quant::quant_row_bytes(t, cols / quant::kBlock);
    case Layout::GgmlBlocks:
      return cols / static_cast<size_t>(tr.ggml_block) * static_cast<size_t>(tr.ggml_bytes);
  }
  return 0;
}

}  // namespace loom
