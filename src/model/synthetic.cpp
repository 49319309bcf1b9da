// Random-weight models of a real model's shape, for measuring speed at sizes no test fixture has.
#include <omp.h>

#include <cmath>

#include "io/hf_config.h"
#include "loom/error.h"
#include "loom/model.h"
#include "model/loaded_model.h"
#include "model/rope_freq.h"
#include "simd/half.h"

namespace loom {
namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Fills a ROWS x COLS matrix with uniform values of variance 1/cols (so activations stay O(1)
// through the layers), in chunks seeded by position: the same weights for any thread count.
void fill_random(uint8_t* dst, DType dtype, size_t rows, size_t cols, uint64_t seed) {
  const size_t n = rows * cols;
  const float scale = std::sqrt(3.0f / static_cast<float>(cols)) / static_cast<float>(1u << 23);
  constexpr size_t kChunk = 1 << 16;
  const long chunks = static_cast<long>((n + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(static)
  for (long c = 0; c < chunks; ++c) {
    uint64_t state = seed ^ (static_cast<uint64_t>(c) * 0xd1b54a32d192ed03ull);
    const size_t end = std::min(n, static_cast<size_t>(c + 1) * kChunk);
    for (size_t i = static_cast<size_t>(c) * kChunk; i < end; ++i) {
      // 24 random bits -> [-1, 1) -> scaled.
      const float v =
          static_cast<float>(static_cast<int32_t>(splitmix64(state) >> 40) - (1 << 23)) * scale;
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
      }
    }
  }
}

}  // namespace

ModelConfig Model::known_shape(const std::string& name) {
  ModelConfig c;
  c.model_type = "llama";
  c.rms_norm_eps = 1e-5f;
  c.bos_token_id = 1;
  c.eos_token_ids = {2};
  if (name == "tinyllama-1.1b") {
    c.hidden_size = 2048, c.intermediate_size = 5632, c.n_layers = 22, c.n_heads = 32;
    c.n_kv_heads = 4, c.vocab_size = 32000, c.max_position_embeddings = 2048;
  } else if (name == "llama2-7b") {
    c.hidden_size = 4096, c.intermediate_size = 11008, c.n_layers = 32, c.n_heads = 32;
    c.n_kv_heads = 32, c.vocab_size = 32000, c.max_position_embeddings = 4096;
  } else if (name == "llama3-8b") {
    c.hidden_size = 4096, c.intermediate_size = 14336, c.n_layers = 32, c.n_heads = 32;
    c.n_kv_heads = 8, c.vocab_size = 128256, c.max_position_embeddings = 8192;
    c.rope.theta = 500000.0f;
    c.bos_token_id = 128000;
    c.eos_token_ids = {128001, 128009};
  } else {
    throw Error("unknown model shape '" + name +
                "' (known: tinyllama-1.1b, llama2-7b, llama3-8b, or a config.json path)");
  }
  c.head_dim = c.hidden_size / c.n_heads;
  return c;
}

Model Model::synthetic(const ModelConfig& c, DType dtype, uint64_t seed) {
  const size_t es = dtype_size(dtype);
  const size_t h = c.hidden_size, f = c.intermediate_size, v = c.vocab_size;
  const size_t q = c.q_dim(), kv = c.kv_dim();
  const size_t per_layer = (q * h + 2 * kv * h + h * q + 3 * f * h) * es;
  const size_t total = v * h * es * (c.tie_word_embeddings ? 1 : 2) + per_layer * c.n_layers;

  io::AnonymousMemory mem(total);
  uint8_t* next = mem.data();
  uint64_t tensor_seed = seed;
  auto matrix = [&](size_t rows, size_t cols) {
    fill_random(next, dtype, rows, cols, splitmix64(tensor_seed));
    ops::MatRef m{dtype, static_cast<int>(rows), static_cast<int>(cols), next};
    next += rows * cols * es;
    return m;
  };

  model::LlamaWeights w;
  w.embed = matrix(v, h);
  for (int l = 0; l < c.n_layers; ++l) {
    model::LayerWeights& lw = w.layers.emplace_back();
    lw.attn_norm.assign(h, 1.0f);
    lw.wq = matrix(q, h);
    lw.wk = matrix(kv, h);
    lw.wv = matrix(kv, h);
    lw.wo = matrix(h, q);
    lw.mlp_norm.assign(h, 1.0f);
    lw.w_gate = matrix(f, h);
    lw.w_up = matrix(f, h);
    lw.w_down = matrix(h, f);
  }
  w.final_norm.assign(h, 1.0f);
  w.lm_head = c.tie_word_embeddings ? w.embed : matrix(v, h);

  ModelConfig config = c;
  config.dtype = dtype;
  std::vector<float> inv_freq = model::rope_inv_freq(config.rope, config.head_dim);
  Model model;
  model.impl_ =
      std::make_shared<const detail::LoadedModel>(detail::LoadedModel{"<synthetic>",
                                                                      std::move(config),
                                                                      std::nullopt,
                                                                      {},
                                                                      std::move(mem),
                                                                      std::move(w),
                                                                      std::move(inv_freq)});
  return model;
}

}  // namespace loom
