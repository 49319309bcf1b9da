// Models of real shapes with random weights, for speed measurements (loom-bench,
// loom-batched-bench) and tests: speed does not depend on the weights' values. Not part of the
// public API.
#pragma once

#include <cstdint>
#include <string>

#include "loom/model.h"

namespace loom::model {

// A model of CONFIG's shape with random weights of DTYPE, made in memory (anonymous pages,
// transparent huge pages where the kernel allows), quantized as OPTIONS asks (each matrix made
// and quantized a piece at a time: the unquantized model never exists). No tokenizer.
Model synthetic_model(const ModelConfig& config, DType dtype, uint64_t seed = 1,
                      const LoadOptions& options = {});

// The shapes of well-known models: "tinyllama-1.1b", "llama2-7b", "llama3-8b", "llama3.2-1b",
// "llama3.2-3b", "qwen2.5-0.5b", "qwen2.5-1.5b", "qwen3-0.6b", "qwen3-1.7b" (architecture,
// dimensions, RoPE, tied embeddings, biases and q/k norms as their config.json files give them).
ModelConfig known_shape(const std::string& name);

}  // namespace loom::model
