// The architecture of a Llama-family model, as read from a Hugging Face config.json.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#pragma GCC visibility push(default)  // the public API: what libloom.so exports
namespace loom {

// Element type of a weight tensor: as the checkpoint stores it (F32, F16, BF16), or as loading
// quantized it. Q8_0 and Q4_0 hold each row as blocks of 32 weights sharing one fp16 scale: 8.5
// and 4.5 bits a weight (a row of an odd number of Q4_0 blocks pads the last to a pair). Q4_K
// groups the blocks in super-blocks of 8, each block with a 6-bit scale and minimum: 4.5 bits a
// weight too (a last super-block of fewer blocks takes a whole 16-byte header). The sizes are
// llama.cpp's types' of the same names, in a byte order of our own (src/quant/blocks.h).
// Q5_0, Q5_1, Q5_K and Q6_K are ggml's types in ggml's layouts (quant/ggml_blocks.h), read in
// place from GGUF files: 32 weights a block (Q5_0, Q5_1) or 256 a super-block (Q5_K, Q6_K).
enum class DType : uint8_t { F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_0, Q5_K, Q6_K, Q5_1 };

// How prompts' products with bf16-stored weights take their activations (decode steps always
// take fp32 ones).
//  - Exact: fp32 activations, the products' only rounding their fp32 sums: the path the goldens
//    hold within 1e-3 of transformers in fp32.
//  - Bf16Activations: the activations rounded to bf16 and multiplied in pairs (AVX-512 BF16's
//    vdpbf16ps: twice an fp32 FMA's products), as llama.cpp multiplies bf16 weights. Max logit
//    error 0.16 on the bf16 golden checkpoint, where transformers itself in bf16 is off by
//    0.26-0.36 (docs/performance.md). Where the CPU lacks the instruction: Exact.
//  - Auto (the default): Bf16Activations where it pays (AMD Zen 4/5, which issue vdpbf16ps at an
//    FMA's rate), Exact elsewhere (AVX2 machines; Sapphire Rapids measured slower with it).
enum class Bf16Prompts : uint8_t { Auto, Exact, Bf16Activations };

const char* dtype_name(DType t);  // "f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q5_0", ...
// The dtype dtype_name calls NAME, if any.
std::optional<DType> dtype_from_name(std::string_view name);
bool is_quantized(DType t);
// Whether T is one of ggml's types loom reads only from GGUF files (Q5_0, Q5_1, Q5_K, Q6_K), in
// place: decode steps take their blocks into int8 products, prompts dequantize rows into the fp32
// kernels, and loading never quantizes to them.
bool is_ggml_only(DType t);
// Weights per block: 32 for the quantized types (256 for Q5_K and Q6_K), 1 for the others.
int dtype_block(DType t);
// Bytes of one weight of F32, F16 or BF16; 0 for the block types, where only whole blocks have a
// size (see row_bytes).
size_t dtype_size(DType t);
// Bytes of a row of COLS weights of T; COLS must be a multiple of dtype_block(t).
size_t row_bytes(DType t, size_t cols);

// The model families loom runs: Llama with small differences, each a config.json model_type.
//   Llama   (LlamaForCausalLM): q/k/v/o biases when attention_bias, MLP biases when mlp_bias
//   Mistral (MistralForCausalLM): Llama's layers without biases, a sliding window
//   Qwen2   (Qwen2ForCausalLM): biases on q, k and v (never on o or the MLP)
//   Qwen3   (Qwen3ForCausalLM): RMSNorm of each head of q and k before RoPE; q/k/v/o biases when
//           attention_bias
enum class Arch : uint8_t { Llama, Mistral, Qwen2, Qwen3 };

// config.json's model_type of A: "llama", "mistral", "qwen2", "qwen3".
const char* arch_name(Arch a);

enum class RopeScalingType : uint8_t { None, Linear, Llama3, Yarn, Dynamic };

struct RopeConfig {
  float theta = 10000.0f;
  RopeScalingType scaling = RopeScalingType::None;
  float factor = 1.0f;            // linear, llama3, yarn, dynamic
  float low_freq_factor = 1.0f;   // llama3
  float high_freq_factor = 4.0f;  // llama3
  // llama3, yarn: original_max_position_embeddings (yarn: the config's max_position_embeddings
  // when absent). dynamic: the length beyond which the base grows (max_position_embeddings).
  int original_max_position = 0;
  double beta_fast = 32, beta_slow = 1;  // yarn: the ramp's ends, in rotations
  // yarn: the factor cos and sin are scaled by (attention_factor, or as transformers derives it
  // from factor, mscale and mscale_all_dim); truncate rounds the ramp's ends to whole dimensions.
  float attention_factor = 1.0f;
  bool truncate = true;
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
  Arch arch = Arch::Llama;
  std::string model_type;  // arch_name(arch)
  // Keys a query attends to, itself included (mistral; qwen2/qwen3 with use_sliding_window);
  // 0: every earlier key. It applies to the layers marked in sliding_layers, or to every layer
  // when that is empty (transformers' layer_types "sliding_attention").
  int sliding_window = 0;
  std::vector<bool> sliding_layers;
  // What a layer holds beyond Llama's matrices and norms; the architecture decides which
  // tensors each brings (model/arch.h).
  bool attention_bias = false;  // llama, qwen3: config.json's; qwen2: always (q, k and v only)
  bool mlp_bias = false;        // llama: config.json's
  bool qk_norm = false;         // qwen3: always

  int q_dim() const { return n_heads * head_dim; }
  int kv_dim() const { return n_kv_heads * head_dim; }
  // The window of LAYER's attention; 0: none.
  int window_of(int layer) const {
    const bool on = sliding_layers.empty() || sliding_layers[static_cast<size_t>(layer)];
    return on ? sliding_window : 0;
  }
};

}  // namespace loom
#pragma GCC visibility pop
