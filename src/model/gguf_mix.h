// llama-quantize's file types (llama_ftype) as loom-quantize writes them: which type each matrix
// of a GGUF file gets. Most take the file type's own; llama.cpp's per-tensor rules give the
// output (and a tied embedding) Q6_K, the _M mixes Q6_K on some layers' attn_v and ffn_down, and
// rows that the type's blocks do not divide a fallback type.
#pragma once

#include <string>

#include "loom/config.h"
#include "loom/model.h"

namespace loom::model {

// What a matrix is to the rules.
enum class MixRole : uint8_t { Output, Embedding, AttnV, FfnDown, Other };

// transformers' tensor name HF (model.layers.N.self_attn.v_proj.weight, lm_head.weight, ...) to
// its role and layer (-1 outside the layers); TIED: the embedding is also the output.
MixRole mix_role(const std::string& hf, bool tied, int& layer);

// The type of a matrix of COLS columns and role ROLE in layer LAYER of N_LAYERS, in a file of
// type FT (llama.cpp's llama_tensor_get_type for dense models, then tensor_type_fallback).
DType mix_tensor_type(GgufFileType ft, MixRole role, int layer, int n_layers, int cols);

// llama.cpp's llama_ftype number of FT (general.file_type).
uint32_t gguf_ftype_number(GgufFileType ft);

}  // namespace loom::model
