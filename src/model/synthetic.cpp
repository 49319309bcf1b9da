// Random-weight models of a real model's shape, for measuring speed at sizes no test fixture has.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "io/hf_config.h"
#include "loom/error.h"
#include "loom/model.h"
#include "model/arch.h"
#include "model/loaded_model.h"
#include "model/quantize_weights.h"
#include "model/rope_freq.h"
#include "model/synthetic.h"
#include "quant/quantize.h"
#include "simd/half.h"

namespace loom {
namespace {

constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ull;  // splitmix64's step

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += kGamma);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

constexpr size_t kChunk = 1 << 16;  // weights drawn from one seed, in order

uint64_t chunk_seed(uint64_t seed, long c) {
  return seed ^ (static_cast<uint64_t>(c) * 0xd1b54a32d192ed03ull);
}

// Uniform values of variance 1/cols (so activations stay O(1) through the layers): 24 random bits
// -> [-1, 1) -> scaled.
float next_value(uint64_t& state, float scale) {
  return static_cast<float>(static_cast<int32_t>(splitmix64(state) >> 40) - (1 << 23)) * scale;
}

float value_scale(size_t cols) {
  return std::sqrt(3.0f / static_cast<float>(cols)) / static_cast<float>(1u << 23);
}

// Fills a ROWS x COLS matrix of DTYPE (F32, F16 or BF16) with random values, in chunks seeded by
// position: the same weights for any thread count.
void fill_random(uint8_t* dst, DType dtype, size_t rows, size_t cols, uint64_t seed) {
  const size_t n = rows * cols;
  const float scale = value_scale(cols);
  const long chunks = static_cast<long>((n + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(static)
  for (long c = 0; c < chunks; ++c) {
    uint64_t state = chunk_seed(seed, c);
    const size_t end = std::min(n, static_cast<size_t>(c + 1) * kChunk);
    for (size_t i = static_cast<size_t>(c) * kChunk; i < end; ++i) {
      const float v = next_value(state, scale);
      switch (dtype) {
        case DType::F32:
          reinterpret_cast<float*>(dst)[i] = v;
          break;
        case DType::F16:
          reinterpret_cast<uint16_t*>(dst)[i] = simd::f32_to_f16(v);
          break;
        case DType::BF16:
          reinterpret_cast<uint16_t*>(dst)[i] = simd::f32_to_bf16(v);
          break;
        case DType::Q8_0:
        case DType::Q4_0:
        case DType::Q4_K:
        case DType::Q5_0:
        case DType::Q5_1:
        case DType::Q5_K:
        case DType::Q6_K:
          break;  // made by fill_random_quantized
      }
    }
  }
}

// The matrix fill_random makes in DTYPE, quantized to TYPE a row at a time: the same weights as
// quantizing the whole matrix. A row's values are drawn from the chunks it spans, starting
// mid-chunk where it does (splitmix64's state advances by a constant a draw).
void fill_random_quantized(uint8_t* dst, DType dtype, DType type, size_t rows, size_t cols,
                           uint64_t seed) {
  const float scale = value_scale(cols);
  const size_t row = row_bytes(type, cols);
#pragma omp parallel
  {
    std::vector<float> buf(cols);
#pragma omp for schedule(static)
    for (long r = 0; r < static_cast<long>(rows); ++r) {
      const size_t begin = static_cast<size_t>(r) * cols;
      uint64_t state =
          chunk_seed(seed, static_cast<long>(begin / kChunk)) + begin % kChunk * kGamma;
      for (size_t i = 0; i < cols; ++i) {
        if ((begin + i) % kChunk == 0)
          state = chunk_seed(seed, static_cast<long>((begin + i) / kChunk));
        const float v = next_value(state, scale);
        // As stored in DTYPE, then read back.
        buf[i] = dtype == DType::F16    ? simd::f16_to_f32(simd::f32_to_f16(v))
                 : dtype == DType::BF16 ? simd::bf16_to_f32(simd::f32_to_bf16(v))
                                        : v;
      }
      quant::quantize_row_fast(type, buf.data(), dst + r * row, static_cast<int>(cols));
    }
  }
}

}  // namespace

namespace {

// Llama 3.1/3.2's RoPE (rope_scaling of type llama3), BOS and EOS ids.
void llama3_rope(ModelConfig& c, float factor) {
  c.rope.theta = 500000.0f;
  c.rope.scaling = RopeScalingType::Llama3;
  c.rope.factor = factor;
  c.rope.low_freq_factor = 1.0f;
  c.rope.high_freq_factor = 4.0f;
  c.rope.original_max_position = 8192;
  c.bos_token_id = 128000;
  c.eos_token_ids = {128001, 128008, 128009};
}

// What Qwen2.5 and Qwen3 configs share.
void qwen(ModelConfig& c, Arch arch) {
  c.arch = arch;
  c.rms_norm_eps = 1e-6f;
  c.rope.theta = 1000000.0f;
  c.tie_word_embeddings = true;
  c.vocab_size = 151936;
  c.bos_token_id = 151643;
  c.eos_token_ids = {151645, 151643};
  c.attention_bias = arch == Arch::Qwen2;
  c.qk_norm = arch == Arch::Qwen3;
}

}  // namespace

namespace model {

ModelConfig known_shape(const std::string& name) {
  ModelConfig c;
  c.rms_norm_eps = 1e-5f;
  c.bos_token_id = 1;
  c.eos_token_ids = {2};
  auto dims = [&c](int hidden, int inter, int layers, int heads, int kv_heads) {
    c.hidden_size = hidden, c.intermediate_size = inter, c.n_layers = layers;
    c.n_heads = heads, c.n_kv_heads = kv_heads, c.head_dim = hidden / heads;
  };
  // From each model's config.json.
  if (name == "tinyllama-1.1b") {
    dims(2048, 5632, 22, 32, 4);
    c.vocab_size = 32000, c.max_position_embeddings = 2048;
  } else if (name == "llama2-7b") {
    dims(4096, 11008, 32, 32, 32);
    c.vocab_size = 32000, c.max_position_embeddings = 4096;
  } else if (name == "llama3-8b") {
    dims(4096, 14336, 32, 32, 8);
    c.vocab_size = 128256, c.max_position_embeddings = 8192;
    c.rope.theta = 500000.0f;
    c.bos_token_id = 128000;
    c.eos_token_ids = {128001, 128009};
  } else if (name == "llama3.2-1b" || name == "llama3.2-3b") {
    if (name == "llama3.2-1b") {
      dims(2048, 8192, 16, 32, 8);
    } else {
      dims(3072, 8192, 28, 24, 8);
    }
    c.vocab_size = 128256, c.max_position_embeddings = 131072, c.tie_word_embeddings = true;
    llama3_rope(c, 32.0f);
  } else if (name == "qwen2.5-0.5b") {
    dims(896, 4864, 24, 14, 2);
    qwen(c, Arch::Qwen2);
    c.max_position_embeddings = 32768;
  } else if (name == "qwen2.5-1.5b") {
    dims(1536, 8960, 28, 12, 2);
    qwen(c, Arch::Qwen2);
    c.max_position_embeddings = 32768;
  } else if (name == "qwen3-0.6b" || name == "qwen3-1.7b") {
    if (name == "qwen3-0.6b") {
      dims(1024, 3072, 28, 16, 8);
    } else {
      dims(2048, 6144, 28, 16, 8);
    }
    qwen(c, Arch::Qwen3);
    c.head_dim = 128;
    c.max_position_embeddings = 40960;
  } else {
    throw Error("unknown model shape '" + name +
                "' (known: tinyllama-1.1b, llama2-7b, llama3-8b, llama3.2-1b, llama3.2-3b, "
                "qwen2.5-0.5b, qwen2.5-1.5b, qwen3-0.6b, qwen3-1.7b, or a config.json path)");
  }
  c.model_type = arch_name(c.arch);
  return c;
}

Model synthetic_model(const ModelConfig& c, DType dtype, uint64_t seed,
                      const LoadOptions& options) {
  if (is_quantized(dtype)) {
    throw Error(std::string("synthetic weights are made as f32, f16 or bf16, not ") +
                dtype_name(dtype) + " (quantize them with LoadOptions::quantize)");
  }
  if (options.quantize_mix) {
    throw Error("synthetic models take LoadOptions::quantize (one type), not a mix");
  }
  if (options.quantize) model::check_quantize_type(*options.quantize);
  const size_t h = c.hidden_size, v = c.vocab_size;
  const std::span<const model::LayerTensor> table = model::layer_tensors(c.arch);
  // The dtype a product's matrix with rows of COLS is kept in.
  auto type_of = [&](size_t cols) {
    return options.quantize && model::quantizes(static_cast<int>(cols)) ? *options.quantize : dtype;
  };
  auto bytes = [&](size_t rows, size_t cols, DType t) { return rows * row_bytes(t, cols); };
  size_t per_layer = 0;
  for (const model::LayerTensor& t : table) {
    if (t.kind != model::TensorKind::Matrix) continue;
    const size_t cols = model::dim(c, t.cols);
    per_layer += bytes(model::dim(c, t.rows), cols, type_of(cols));
  }
  // The output head is apart from the embedding when untied, or tied but quantized.
  const bool own_head = !c.tie_word_embeddings || type_of(h) != dtype;
  const size_t total =
      bytes(v, h, dtype) + (own_head ? bytes(v, h, type_of(h)) : 0) + per_layer * c.n_layers;

  io::AnonymousMemory mem(total);
  uint8_t* next = mem.data();
  uint64_t tensor_seed = seed;
  auto make = [&](size_t rows, size_t cols, DType t, uint64_t s) {
    if (is_quantized(t)) {
      fill_random_quantized(next, dtype, t, rows, cols, s);
    } else {
      fill_random(next, t, rows, cols, s);
    }
    ops::MatRef m{t, static_cast<int>(rows), static_cast<int>(cols), next};
    next += bytes(rows, cols, t);
    return m;
  };
  auto matrix = [&](size_t rows, size_t cols) {
    return make(rows, cols, type_of(cols), splitmix64(tensor_seed));
  };
  // Biases: small, uniform in [-kBias, kBias).
  constexpr float kBias = 0.05f;
  auto bias = [&](size_t n) {
    uint64_t state = splitmix64(tensor_seed);
    std::vector<float> b(n);
    for (float& x : b) x = next_value(state, kBias / static_cast<float>(1u << 23));
    return b;
  };

  model::LlamaWeights w;
  w.arch = c.arch;
  const uint64_t embed_seed = splitmix64(tensor_seed);
  w.embed = make(v, h, dtype, embed_seed);
  for (int l = 0; l < c.n_layers; ++l) {
    model::LayerWeights& lw = w.layers.emplace_back();
    for (const model::LayerTensor& t : table) {
      if (!model::present(t, c)) continue;
      const size_t rows = model::dim(c, t.rows);
      switch (t.kind) {
        case model::TensorKind::Matrix:
          lw.*t.matrix = matrix(rows, model::dim(c, t.cols));
          break;
        case model::TensorKind::Norm:
          (lw.*t.vector).assign(rows, 1.0f);
          break;
        case model::TensorKind::Bias:
          lw.*t.vector = bias(rows);
          break;
      }
    }
  }
  w.final_norm.assign(h, 1.0f);
  if (!c.tie_word_embeddings) {
    w.lm_head = matrix(v, h);
  } else if (own_head) {
    w.lm_head = make(v, h, type_of(h), embed_seed);  // the embedding's values, quantized
  } else {
    w.lm_head = w.embed;
  }

  Quantization quantization;
  if (options.quantize) {
    quantization = model::describe_quantization(w, {options.quantize, std::nullopt});
  }
  ModelConfig config = c;
  config.dtype = dtype;
  config.model_type = arch_name(c.arch);
  std::vector<float> inv_freq = model::rope_inv_freq(config.rope, config.head_dim);
  return detail::ModelAccess::wrap(
      std::make_shared<const detail::LoadedModel>(detail::LoadedModel{"<synthetic>",
                                                                      std::move(config),
                                                                      std::nullopt,
                                                                      {},
                                                                      std::move(mem),
                                                                      std::move(w),
                                                                      std::move(inv_freq),
                                                                      {},
                                                                      std::move(quantization)}));
}

}  // namespace model
}  // namespace loom
