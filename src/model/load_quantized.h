// Quantized matrices at load: quantized from the checkpoint, or mapped from a quantized-weights
// cache file (model/quant_cache.h) as LoadOptions::quant_cache asks, with the account of which.
#pragma once

#include <filesystem>
#include <optional>
#include <vector>

#include "io/anonymous_memory.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "loom/model.h"
#include "model/weights.h"

namespace loom::model {

// The memory the quantized views point into: one of the two.
struct QuantizedMemory {
  io::AnonymousMemory quantized;        // quantized at load
  std::optional<io::MappedFile> cache;  // mapped from a cache file
};

// Quantizes the product matrices of W (bound to STORE, the checkpoint of DIR) to
// OPTIONS.quantize, or maps them from a valid cache; writes the cache when it was not. Sets Q's
// source, cache_file, cache_bytes and cache_log (the counts and kept lines are
// describe_quantization's). Cache problems are never errors: they are logged and the load goes on.
QuantizedMemory load_quantized(LlamaWeights& w, const io::TensorStore& store,
                               const std::filesystem::path& dir, const LoadOptions& options,
                               Quantization& q);

// Where Auto looks for the cache of DIR's weights quantized to TYPE, in order: beside the
// weights, DIR/loom-<type>.cache; then, for a folder that is not writable, the user's cache
// directory ($XDG_CACHE_HOME/loom, else $HOME/.cache/loom; absent when neither is set) with a
// name made of the folder's name, a hash of its absolute path and the type.
std::vector<std::filesystem::path> quant_cache_paths(const std::filesystem::path& dir,
                                                     const std::string& name);

}  // namespace loom::model
