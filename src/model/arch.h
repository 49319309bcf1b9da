// The architecture data: for each architecture, one table of a layer's tensors. Binding,
// quantizing (and so the quantized cache), synthetic models, weight and parameter counts and the
// workspace all read these tables instead of listing the tensors themselves; the forward pass
// reads the bound weights, with an `if` for each optional step.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "loom/config.h"
#include "ops/matmul.h"

namespace loom::model {

// One layer's weights: views into the mapped checkpoint (or quantized memory) for the matrices,
// fp32 copies for the vectors. An optional vector the model does not have is empty; every layer
// has all seven matrices.
struct LayerWeights {
  std::vector<float> attn_norm;  // [hidden]
  ops::MatRef wq;                // [n_heads * head_dim, hidden]
  ops::MatRef wk;                // [n_kv_heads * head_dim, hidden]
  ops::MatRef wv;                // [n_kv_heads * head_dim, hidden]
  ops::MatRef wo;                // [hidden, n_heads * head_dim]
  std::vector<float> q_bias;     // [n_heads * head_dim]
  std::vector<float> k_bias;     // [n_kv_heads * head_dim]
  std::vector<float> v_bias;     // [n_kv_heads * head_dim]
  std::vector<float> o_bias;     // [hidden]
  std::vector<float> q_norm;     // [head_dim], applied to each query head
  std::vector<float> k_norm;     // [head_dim], applied to each key head
  std::vector<float> mlp_norm;   // [hidden]
  ops::MatRef w_gate;            // [intermediate, hidden]
  ops::MatRef w_up;              // [intermediate, hidden]
  ops::MatRef w_down;            // [hidden, intermediate]
  std::vector<float> gate_bias;  // [intermediate]
  std::vector<float> up_bias;    // [intermediate]
  std::vector<float> down_bias;  // [hidden]
};

// A length of a tensor's shape, as the config gives it.
enum class Dim : uint8_t { Hidden, Intermediate, QDim, KvDim, HeadDim };
int dim(const ModelConfig& c, Dim d);

enum class TensorKind : uint8_t {
  Matrix,  // the weight of a product, [rows, cols]: stored dtype, quantizable
  Norm,    // an RMSNorm weight, [rows]: held as fp32
  Bias,    // a product's bias, [rows]: held as fp32
};

// When a layer has a tensor.
enum class When : uint8_t { Always, AttentionBias, MlpBias, QkNorm };

struct LayerTensor {
  const char* name;  // under "model.layers.N."
  TensorKind kind;
  Dim rows;
  Dim cols;  // matrices only
  When when;
  ops::MatRef LayerWeights::*matrix;         // Matrix
  std::vector<float> LayerWeights::*vector;  // Norm, Bias
};

// A's layer tensors, in the order quantizing lays the matrices out.
std::span<const LayerTensor> layer_tensors(Arch a);

// Whether a layer of a model of config C has T.
bool present(const LayerTensor& t, const ModelConfig& c);

// Why a model of config C has T, for the message when the checkpoint lacks it: empty for a
// tensor every model of the architecture has.
std::string why_present(const LayerTensor& t, const ModelConfig& c);

// Weights (parameters) of one layer of a model of config C.
size_t layer_params(const ModelConfig& c);

}  // namespace loom::model
