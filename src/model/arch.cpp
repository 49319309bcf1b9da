#include "model/arch.h"

namespace loom::model {
namespace {

using L = LayerWeights;

constexpr LayerTensor matrix(const char* name, Dim rows, Dim cols, ops::MatRef L::*m) {
  return {name, TensorKind::Matrix, rows, cols, When::Always, m, nullptr};
}
constexpr LayerTensor norm(const char* name, Dim n, std::vector<float> L::*v,
                           When when = When::Always) {
  return {name, TensorKind::Norm, n, Dim::Hidden, when, nullptr, v};
}
constexpr LayerTensor bias(const char* name, Dim n, std::vector<float> L::*v, When when) {
  return {name, TensorKind::Bias, n, Dim::Hidden, when, nullptr, v};
}

// The names are transformers' (modeling_llama.py, modeling_qwen2.py, modeling_qwen3.py).

// Llama, and Mistral, whose config never sets the bias flags: nn.Linear(bias=attention_bias) on
// q, k, v and o, bias=mlp_bias on gate, up and down.
constexpr LayerTensor kLlama[] = {
    norm("input_layernorm.weight", Dim::Hidden, &L::attn_norm),
    matrix("self_attn.q_proj.weight", Dim::QDim, Dim::Hidden, &L::wq),
    matrix("self_attn.k_proj.weight", Dim::KvDim, Dim::Hidden, &L::wk),
    matrix("self_attn.v_proj.weight", Dim::KvDim, Dim::Hidden, &L::wv),
    matrix("self_attn.o_proj.weight", Dim::Hidden, Dim::QDim, &L::wo),
    bias("self_attn.q_proj.bias", Dim::QDim, &L::q_bias, When::AttentionBias),
    bias("self_attn.k_proj.bias", Dim::KvDim, &L::k_bias, When::AttentionBias),
    bias("self_attn.v_proj.bias", Dim::KvDim, &L::v_bias, When::AttentionBias),
    bias("self_attn.o_proj.bias", Dim::Hidden, &L::o_bias, When::AttentionBias),
    norm("post_attention_layernorm.weight", Dim::Hidden, &L::mlp_norm),
    matrix("mlp.gate_proj.weight", Dim::Intermediate, Dim::Hidden, &L::w_gate),
    matrix("mlp.up_proj.weight", Dim::Intermediate, Dim::Hidden, &L::w_up),
    matrix("mlp.down_proj.weight", Dim::Hidden, Dim::Intermediate, &L::w_down),
    bias("mlp.gate_proj.bias", Dim::Intermediate, &L::gate_bias, When::MlpBias),
    bias("mlp.up_proj.bias", Dim::Intermediate, &L::up_bias, When::MlpBias),
    bias("mlp.down_proj.bias", Dim::Hidden, &L::down_bias, When::MlpBias),
};

// Qwen2: bias=True on q, k and v (the config's attention_bias is set for it), none on o or the
// MLP.
constexpr LayerTensor kQwen2[] = {
    norm("input_layernorm.weight", Dim::Hidden, &L::attn_norm),
    matrix("self_attn.q_proj.weight", Dim::QDim, Dim::Hidden, &L::wq),
    matrix("self_attn.k_proj.weight", Dim::KvDim, Dim::Hidden, &L::wk),
    matrix("self_attn.v_proj.weight", Dim::KvDim, Dim::Hidden, &L::wv),
    matrix("self_attn.o_proj.weight", Dim::Hidden, Dim::QDim, &L::wo),
    bias("self_attn.q_proj.bias", Dim::QDim, &L::q_bias, When::AttentionBias),
    bias("self_attn.k_proj.bias", Dim::KvDim, &L::k_bias, When::AttentionBias),
    bias("self_attn.v_proj.bias", Dim::KvDim, &L::v_bias, When::AttentionBias),
    norm("post_attention_layernorm.weight", Dim::Hidden, &L::mlp_norm),
    matrix("mlp.gate_proj.weight", Dim::Intermediate, Dim::Hidden, &L::w_gate),
    matrix("mlp.up_proj.weight", Dim::Intermediate, Dim::Hidden, &L::w_up),
    matrix("mlp.down_proj.weight", Dim::Hidden, Dim::Intermediate, &L::w_down),
};

// Qwen3: bias=attention_bias on q, k, v and o; RMSNorms of head_dim on q and k (q_norm, k_norm);
// no MLP biases.
constexpr LayerTensor kQwen3[] = {
    norm("input_layernorm.weight", Dim::Hidden, &L::attn_norm),
    matrix("self_attn.q_proj.weight", Dim::QDim, Dim::Hidden, &L::wq),
    matrix("self_attn.k_proj.weight", Dim::KvDim, Dim::Hidden, &L::wk),
    matrix("self_attn.v_proj.weight", Dim::KvDim, Dim::Hidden, &L::wv),
    matrix("self_attn.o_proj.weight", Dim::Hidden, Dim::QDim, &L::wo),
    bias("self_attn.q_proj.bias", Dim::QDim, &L::q_bias, When::AttentionBias),
    bias("self_attn.k_proj.bias", Dim::KvDim, &L::k_bias, When::AttentionBias),
    bias("self_attn.v_proj.bias", Dim::KvDim, &L::v_bias, When::AttentionBias),
    bias("self_attn.o_proj.bias", Dim::Hidden, &L::o_bias, When::AttentionBias),
    norm("self_attn.q_norm.weight", Dim::HeadDim, &L::q_norm, When::QkNorm),
    norm("self_attn.k_norm.weight", Dim::HeadDim, &L::k_norm, When::QkNorm),
    norm("post_attention_layernorm.weight", Dim::Hidden, &L::mlp_norm),
    matrix("mlp.gate_proj.weight", Dim::Intermediate, Dim::Hidden, &L::w_gate),
    matrix("mlp.up_proj.weight", Dim::Intermediate, Dim::Hidden, &L::w_up),
    matrix("mlp.down_proj.weight", Dim::Hidden, Dim::Intermediate, &L::w_down),
};

}  // namespace

int dim(const ModelConfig& c, Dim d) {
  switch (d) {
    case Dim::Hidden:
      return c.hidden_size;
    case Dim::Intermediate:
      return c.intermediate_size;
    case Dim::QDim:
      return c.q_dim();
    case Dim::KvDim:
      return c.kv_dim();
    case Dim::HeadDim:
      return c.head_dim;
  }
  return 0;
}

std::span<const LayerTensor> layer_tensors(Arch a) {
  switch (a) {
    case Arch::Llama:
    case Arch::Mistral:
      return kLlama;
    case Arch::Qwen2:
      return kQwen2;
    case Arch::Qwen3:
      return kQwen3;
  }
  return kLlama;
}

bool present(const LayerTensor& t, const ModelConfig& c) {
  switch (t.when) {
    case When::Always:
      return true;
    case When::AttentionBias:
      return c.attention_bias;
    case When::MlpBias:
      return c.mlp_bias;
    case When::QkNorm:
      return c.qk_norm;
  }
  return false;
}

std::string why_present(const LayerTensor& t, const ModelConfig& c) {
  const std::string arch = arch_name(c.arch);
  switch (t.when) {
    case When::Always:
      return "";
    case When::AttentionBias:
      return c.arch == Arch::Qwen2 ? "model_type " + arch + " has q, k and v biases"
                                   : "config.json's attention_bias is true";
    case When::MlpBias:
      return "config.json's mlp_bias is true";
    case When::QkNorm:
      return "model_type " + arch + " normalizes each head of q and k";
  }
  return "";
}

size_t layer_params(const ModelConfig& c) {
  size_t n = 0;
  for (const LayerTensor& t : layer_tensors(c.arch)) {
    if (!present(t, c)) continue;
    const size_t rows = dim(c, t.rows);
    n += t.kind == TensorKind::Matrix ? rows * dim(c, t.cols) : rows;
  }
  return n;
}

}  // namespace loom::model
