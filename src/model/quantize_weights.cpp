#include "model/quantize_weights.h"

#include <string>
#include <vector>

#include "io/mapped_file.h"
#include "loom/error.h"
#include "model/gguf_mix.h"
#include "quant/ggml_quantize.h"
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

std::string QuantChoice::name() const {
  return mix ? gguf_file_type_name(*mix) : dtype_name(*type);
}

uint32_t QuantChoice::code() const {
  return mix ? 100 + static_cast<uint32_t>(*mix) : static_cast<uint32_t>(*type);
}

namespace {
// A file type that is a float type, not a quantized mix: such a model loads as stored.
bool is_float_file_type(GgufFileType t) {
  return t == GgufFileType::F32 || t == GgufFileType::F16 || t == GgufFileType::BF16;
}
}  // namespace

}  // namespace loom::model

namespace loom {

LoadOptions quantize_options(std::string_view name) {
  LoadOptions o;
  if (name.empty()) return o;
  const std::optional<DType> t = dtype_from_name(name);
  if (t && is_quantized(*t) && !is_ggml_only(*t)) {
    o.quantize = t;
    return o;
  }
  const std::optional<GgufFileType> mix = gguf_file_type_from_name(name);
  if (mix && !model::is_float_file_type(*mix)) {
    o.quantize_mix = mix;
    return o;
  }
  std::string why = "'";  // (built in steps: GCC 12 warns falsely of "'" + std::string)
  why += name;
  why +=
      "' is not a quantized type (want q8_0, q4_0, q4_k, q4_k_s, q4_k_m, q5_k_s, q5_k_m or q6_k)";
  throw Error(why);
}

}  // namespace loom

namespace loom::model {

std::optional<QuantChoice> quant_choice(const LoadOptions& options) {
  if (options.quantize && options.quantize_mix) {
    throw Error("LoadOptions: quantize and quantize_mix are exclusive (one type, or a mix)");
  }
  if (options.quantize) {
    check_quantize_type(*options.quantize);
    return QuantChoice{options.quantize, std::nullopt};
  }
  if (options.quantize_mix) {
    const GgufFileType t = *options.quantize_mix;
    if (is_float_file_type(t)) {
      throw Error(std::string("cannot quantize weights to ") + gguf_file_type_name(t) +
                  " (a float type: load the model as stored)");
    }
    return QuantChoice{std::nullopt, t};
  }
  return std::nullopt;
}

QuantLayout quant_layout(LlamaWeights& w, const QuantChoice& choice) {
  QuantLayout layout{choice, {}, 0};
  const int n_layers = static_cast<int>(w.layers.size());
  for (auto& [name, m] : product_matrices(w)) {
    DType type;
    if (choice.type) {
      if (!quantizes(m->cols)) continue;
      type = *choice.type;
    } else {
      int layer = -1;
      // The head is a slot of its own even when tied: the output's rules.
      const MixRole role = mix_role(name, false, layer);
      type = mix_tensor_type(*choice.mix, role, layer, n_layers, m->cols);
      if (!is_quantized(type)) continue;  // F16 where 32 does not divide the rows: as stored
    }
    if (m->dtype == type) continue;  // already of that type (a GGUF file's tensor): as stored
    const size_t bytes = row_bytes(type, m->cols) * m->rows;
    layout.slots.push_back({std::move(name), m, type, layout.bytes, bytes});
    layout.bytes += padded(bytes);
  }
  return layout;
}

void quantize_into(const QuantLayout& layout, uint8_t* base, int threads, bool sources_mapped) {
  for (const QuantSlot& s : layout.slots) {
    ops::MatRef& m = *s.matrix;
    if (is_ggml_only(s.type)) {
      quant::quantize_matrix_ggml(m.data, m.dtype, m.rows, m.cols, s.type, base + s.offset,
                                  threads);
    } else {
      quant::quantize_matrix(m.data, m.dtype, m.rows, m.cols, s.type, base + s.offset, threads);
    }
    if (sources_mapped) io::release_mapped_pages(m.data, row_bytes(m.dtype, m.cols) * m.rows);
    m = ops::MatRef{s.type, m.rows, m.cols, base + s.offset};
  }
}

void bind_quantized(const QuantLayout& layout, const uint8_t* base) {
  for (const QuantSlot& s : layout.slots) {
    ops::MatRef& m = *s.matrix;
    m = ops::MatRef{s.type, m.rows, m.cols, base + s.offset};
  }
}

Quantization describe_quantization(const LlamaWeights& w, const QuantChoice& choice) {
  Quantization q;
  q.type = choice.type;
  q.mix = choice.mix;
  const std::string why = choice.type ? "" : "F16 by llama-quantize's rules, kept as stored: ";
  q.kept.push_back(
      kept_line("model.embed_tokens.weight", w.embed, "a lookup of rows, not a product"));
  for (const LayerTensor& t : layer_tensors(w.arch)) {
    if (t.kind != TensorKind::Matrix) continue;
    bool listed = false;
    for (const LayerWeights& l : w.layers) {
      const ops::MatRef& m = l.*t.matrix;
      if (is_quantized(m.dtype)) {
        ++q.quantized;
      } else if (!listed) {  // every layer has the same shape: one line for all
        q.kept.push_back(
            kept_line(std::string("model.layers.*.") + t.name, m, why + not_whole_blocks(m.cols)));
        listed = true;
      }
    }
  }
  if (is_quantized(w.lm_head.dtype)) {
    ++q.quantized;
  } else {
    q.kept.push_back(
        kept_line("lm_head.weight", w.lm_head, why + not_whole_blocks(w.lm_head.cols)));
  }
  return q;
}

}  // namespace loom::model
