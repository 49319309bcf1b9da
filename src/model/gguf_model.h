// A GGUF file as a model: its metadata read into a ModelConfig, its tensors put under the
// Hugging Face names bind_weights reads, in the layouts loom's kernels read. F32, F16 and BF16
// tensors stay views into the mapped file; Q8_0, Q4_0 and Q4_K rows are rearranged, losslessly,
// into loom's layouts (quant/blocks.h) once at load, and the file's pages for them released.
// llama.cpp's converter permutes the rows of q and k for ggml's RoPE on adjacent pairs; those
// are put back in transformers' order as they are copied.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "io/safetensors.h"
#include "loom/config.h"

namespace loom::model {

struct GgufCheckpoint {
  ModelConfig config;
  io::TensorStore store;
  // RoPE inverse frequencies when the file sets them itself (Llama 3.1's rope_freqs.weight
  // scales the base frequencies); empty: from the config.
  std::vector<float> inv_freq;
};

// Reads FILE (already opened). Throws loom::Error naming the file and the key or tensor at fault:
// an architecture loom does not run, a missing or mistyped key, a tensor of the wrong shape or
// of a type loom cannot run.
GgufCheckpoint read_gguf_checkpoint(const std::shared_ptr<const io::GgufFile>& file);

// The GGUF name of a Hugging Face tensor name ("model.layers.3.self_attn.q_proj.weight" ->
// "blk.3.attn_q.weight"), and back; empty when the name has none.
std::string gguf_tensor_name(const std::string& hf_name);
std::string hf_tensor_name(const std::string& gguf_name);

// Whether llama.cpp's converter permutes q and k for general.architecture ARCH (its "llama").
bool gguf_permutes_qk(const std::string& arch);

// ARCH's name as general.architecture writes it.
const char* gguf_arch_name(Arch arch);

}  // namespace loom::model
