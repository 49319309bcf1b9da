#include "model/quantize_weights.h"

#include <string>
#include <vector>

#include "io/mapped_file.h"
#include "loom/error.h"
#include "quant/quantize.h"

namespace loom::model {
namespace {

// The matrices of the products with their checkpoint names, in the order they are laid out in
// memory.
std::vector<std::pair<std::string, ops::MatRef*>> product_matrices(LlamaWeights& w) {
  std::vector<std::pair<std::string, ops::MatRef*>> out;
  for (size_t i = 0; i < w.layers.size(); ++i) {
    const std::string prefix = "model.layers." + std::to_string(i) + ".";
    for (const LayerTensor& t : layer_tensors(w.arch)) {
      if (t.kind == TensorKind::Matrix) out.emplace_back(prefix + t.name, &(w.layers[i].*t.matrix));
    }
  }
  out.emplace_back("lm_head.weight", &w.lm_head);
  return out;
}

// Each matrix starts on a cache line.
size_t padded(size_t bytes) {
  return (bytes + 63) & ~size_t{63};
}

std::string kept_line(const std::string& name, const ops::MatRef& m, const std::string& why) {
  return name + " (" + dtype_name(m.dtype) + "): " + why;
}

std::string not_whole_blocks(int cols) {
  return "rows of " + std::to_string(cols) + " weights are not whole blocks of " +
         std::to_string(quant::kBlock);
}

}  // namespace

void check_quantize_type(DType type) {
  if (!is_quantized(type) || is_ggml_only(type)) {
    throw Error(std::string("cannot quantize weights to ") + dtype_name(type) +
                " (quantized types: q8_0, q4_0, q4_k)");
  }
}

bool quantizes(int cols) {
  return quant::fits_blocks(cols);
}

QuantLayout quant_layout(LlamaWeights& w, DType type) {
  check_quantize_type(type);
  QuantLayout layout{type, {}, 0};
  for (auto& [name, m] : product_matrices(w)) {
    if (!quantizes(m->cols)) continue;
    const size_t bytes = row_bytes(type, m->cols) * m->rows;
    layout.slots.push_back({std::move(name), m, layout.bytes, bytes});
    layout.bytes += padded(bytes);
  }
  return layout;
}

void quantize_into(const QuantLayout& layout, uint8_t* base, int threads, bool sources_mapped) {
  for (const QuantSlot& s : layout.slots) {
    ops::MatRef& m = *s.matrix;
    quant::quantize_matrix(m.data, m.dtype, m.rows, m.cols, layout.type, base + s.offset, threads);
    if (sources_mapped) io::release_mapped_pages(m.data, row_bytes(m.dtype, m.cols) * m.rows);
    m = ops::MatRef{layout.type, m.rows, m.cols, base + s.offset};
  }
}

void bind_quantized(const QuantLayout& layout, const uint8_t* base) {
  for (const QuantSlot& s : layout.slots) {
    ops::MatRef& m = *s.matrix;
    m = ops::MatRef{layout.type, m.rows, m.cols, base + s.offset};
  }
}

Quantization describe_quantization(const LlamaWeights& w, DType type) {
  Quantization q;
  q.type = type;
  q.kept.push_back(
      kept_line("model.embed_tokens.weight", w.embed, "a lookup of rows, not a product"));
  for (const LayerTensor& t : layer_tensors(w.arch)) {
    if (t.kind != TensorKind::Matrix) continue;
    bool listed = false;
    for (const LayerWeights& l : w.layers) {
      const ops::MatRef& m = l.*t.matrix;
      if (m.dtype == type) {
        ++q.quantized;
      } else if (!listed) {  // every layer has the same shape: one line for all
        q.kept.push_back(
            kept_line(std::string("model.layers.*.") + t.name, m, not_whole_blocks(m.cols)));
        listed = true;
      }
    }
  }
  if (w.lm_head.dtype == type) {
    ++q.quantized;
  } else {
    q.kept.push_back(kept_line("lm_head.weight", w.lm_head, not_whole_blocks(w.lm_head.cols)));
  }
  return q;
}

}  // namespace loom::model
