// Quantizing a model's matrices at load: which ones, into what memory, and the account of it.
#pragma once

#include "io/anonymous_memory.h"
#include "loom/config.h"
#include "loom/model.h"
#include "model/weights.h"

namespace loom::model {

// Throws loom::Error unless TYPE is a dtype weights can be quantized to.
void check_quantize_type(DType type);

// Whether loading quantizes a matrix with rows of COLS weights (the embedding never is).
bool quantizes(int cols);

// Quantizes every matrix of W that `quantizes` to TYPE, in place: the views move to the memory
// returned. A tied output head gets a quantized copy; the embedding stays. THREADS: 0 for all.
// SOURCES_MAPPED: the matrices are views of read-only file mappings, whose pages are released
// once quantized (see io::release_mapped_pages).
io::AnonymousMemory quantize_weights(LlamaWeights& w, DType type, int threads,
                                     bool sources_mapped = false);

// The account of what W, quantized to TYPE, left as stored and why.
Quantization describe_quantization(const LlamaWeights& w, DType type);

}  // namespace loom::model
