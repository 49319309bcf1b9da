// The matrices a model reads in place from a file mapping, copied at load into memory of its own
// on huge pages (LoadOptions::map_weights says why, and when not).
#pragma once

#include "io/anonymous_memory.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "model/weights.h"

namespace loom::model {

// Copies every matrix of W whose data is a mapped tensor of STORE (TensorInfo::mapped) or lies in
// CACHE (a quantized-weights cache file; may be null) into one block of anonymous memory, points
// W's views at the copies and drops the mapped pages from the resident set. A matrix seen twice
// (tied embeddings as the output head) is copied once; the embedding alone is a lookup of rows
// and stays where it is. Returns the memory; empty, the views unchanged, when nothing was mapped
// or the copy is larger than the memory available (MemAvailable in /proc/meminfo).
io::AnonymousMemory copy_mapped_matrices(LlamaWeights& w, const io::TensorStore& store,
                                         const io::MappedFile* cache);

}  // namespace loom::model
