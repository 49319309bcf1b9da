// Quantizing a model's matrices at load: which ones, into what memory, and the account of it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "loom/config.h"
#include "loom/model.h"
#include "model/weights.h"

namespace loom::model {

// Throws loom::Error unless TYPE is a dtype weights can be quantized to.
void check_quantize_type(DType type);

// What loading quantizes to: one type for every matrix of whole blocks, or llama-quantize's
// rules of a file type (LoadOptions::quantize_mix).
struct QuantChoice {
  std::optional<DType> type;
  std::optional<GgufFileType> mix;
  std::string name() const;  // "q4_0", "q4_k_m": the cache file's
  uint32_t code() const;     // the cache header's: DType's, or 100 + the file type's
};
// OPTIONS' choice, checked (one of quantize and quantize_mix, each a quantized type); nullopt
// when neither is set.
std::optional<QuantChoice> quant_choice(const LoadOptions& options);

// Whether loading quantizes a matrix with rows of COLS weights (the embedding never is).
bool quantizes(int cols);

// One matrix that loading quantizes, and its place in the memory of the quantized matrices.
struct QuantSlot {
  std::string name;     // the checkpoint's: "model.layers.0.mlp.up_proj.weight", "lm_head.weight"
  ops::MatRef* matrix;  // in the weights: the source until quantized, then the quantized view
  DType type;           // quantized to
  size_t offset;        // from the start of that memory; a multiple of 64 (a cache line)
  size_t bytes;         // of the quantized matrix: rows * row_bytes(type, cols)
};

// Every matrix of the products of W that `quantizes`, in the order they are laid out (layer by
// layer in the order of layer_tensors: q, k, v, o, gate, up, down; then the output head), each on
// a cache line: the layout of both the memory quantize_into fills and a cache file's data section
// (model/quant_cache.h). A tied output head is a slot of its own (a quantized copy); the embedding
// is never one.
struct QuantLayout {
  QuantChoice choice;
  std::vector<QuantSlot> slots;
  size_t bytes = 0;  // the whole memory, padding included
};
QuantLayout quant_layout(LlamaWeights& w, const QuantChoice& choice);

// Quantizes every slot's matrix into BASE (LAYOUT.bytes, zeroed) and points its view there.
// THREADS: 0 for all. SOURCES_MAPPED: the matrices are views of read-only file mappings, whose
// pages are released once quantized (see io::release_mapped_pages).
void quantize_into(const QuantLayout& layout, uint8_t* base, int threads, bool sources_mapped);

// Points every slot's view at its bytes in BASE, quantized already (a cache file's data).
void bind_quantized(const QuantLayout& layout, const uint8_t* base);

// The account of what W, quantized by CHOICE, left as stored and why.
Quantization describe_quantization(const LlamaWeights& w, const QuantChoice& choice);

}  // namespace loom::model
