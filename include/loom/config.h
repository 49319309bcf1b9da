// The architecture of a Llama-style model, as read from a Hugging Face config.json.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace loom {

// Element type of a weight tensor as it is stored in the checkpoint (and kept in memory).
enum class DType : uint8_t { F32, F16, BF16 };

const char* dtype_name(DType t);
size_t dtype_size(DType t);

enum class RopeScalingType : uint8_t { None, Linear, Llama3 };

struct RopeConfig {
  float theta = 10000.0f;
  RopeScalingType scaling = RopeScalingType::None;
  float factor = 1.0f;            // linear, llama3
  float low_freq_factor = 1.0f;   // llama3
  float high_freq_factor = 4.0f;  // llama3
  int original_max_position = 0;  // llama3: original_max_position_embeddings
};

// The sampling settings of generation_config.json, as transformers reads them. Absent keys stay
// empty; transformers' own defaults are applied by loom::sampler_defaults.
struct GenerationConfig {
  bool has_sampling_keys = false;  // any key below present
  bool do_sample = false;
  std::optional<float> temperature, top_p, min_p, typical_p, repetition_penalty;
  std::optional<int> top_k;
};

struct ModelConfig {
  int hidden_size = 0;
  int intermediate_size = 0;
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int vocab_size = 0;
  int max_position_embeddings = 0;
  float rms_norm_eps = 1e-5f;
  RopeConfig rope;
  bool tie_word_embeddings = false;
  int bos_token_id = -1;           // -1: none
  std::vector<int> eos_token_ids;  // generation_config.json wins over config.json
  GenerationConfig generation;     // sampling settings of generation_config.json
  DType dtype = DType::F32;        // torch_dtype / dtype (informational: each tensor keeps its own)
  std::string model_type;          // "llama" or "mistral"
  int sliding_window = 0;          // mistral; 0: none

  int q_dim() const { return n_heads * head_dim; }
  int kv_dim() const { return n_kv_heads * head_dim; }
};

}  // namespace loom
