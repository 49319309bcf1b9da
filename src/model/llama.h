// The forward pass of the Llama family (model/arch.h) as plain calls, over a batch of consecutive
// positions.
#pragma once

#include <vector>

#include "model/kv_cache.h"
#include "model/loaded_model.h"
#include "ops/matmul.h"
#include "quant/blocks.h"

namespace loom::model {

// Buffers for one batch of up to `batch` tokens, allocated once per session.
struct Workspace {
  int batch = 0, threads = 1;
  int kv_slots = 0;                 // the most positions a sequence's layer holds
  std::vector<float> x;             // [batch, hidden]  the residual stream
  std::vector<float> xn;            // [batch, hidden]  normed input of the next product
  std::vector<float> q;             // [batch, n_heads * head_dim]
  std::vector<float> k;             // [batch, n_kv_heads * head_dim]
  std::vector<float> v;             // [batch, n_kv_heads * head_dim]
  std::vector<float> att;           // [batch, n_heads * head_dim]
  std::vector<float> gate;          // [batch, intermediate]
  std::vector<float> up;            // [batch, intermediate]
  std::vector<float> scores;        // attention scratch: ops::attention_scratch_floats
  std::vector<float> inv_freq;      // [head_dim / 2], this pass's (dynamic RoPE changes them)
  float rope_factor = 1.0f;         // cos and sin are scaled by it (yarn's attention factor)
  std::vector<float> rope_cos;      // [batch, head_dim / 2], the rows' positions
  std::vector<float> rope_sin;      // [batch, head_dim / 2]
  std::vector<quant::ActSpace> xq;  // a product's input quantized, for quantized weights

  // KV_SLOTS: the most positions a sequence's layer holds (KvCache::max_slots(), or a pool's).
  Workspace(const detail::LoadedModel& m, int batch, int kv_slots, int threads);
};

// The rows of one pass: row i is token IDS[i] at position POS[i] of sequence SEQ[i]. A sequence's
// rows are at consecutive positions in order, after every position it already holds. OUT lists
// the rows whose logits are wanted, in ascending order.
struct PassRows {
  const int* ids = nullptr;
  const int* pos = nullptr;
  const int* seq = nullptr;
  int n = 0;
  const int* out = nullptr;
  int n_out = 0;
};

// Where a pass's sequences keep their keys and values: VIEWS[l * n_seqs + s] is layer l of
// sequence s, writable at the rows' positions.
struct PassKv {
  const ops::KvView* views = nullptr;
  int n_seqs = 1;
  DType type = DType::F32;
  const ops::KvView& at(int layer, int seq) const {
    return views[static_cast<size_t>(layer) * n_seqs + seq];
  }
};

// Evaluates the N (<= ws.batch) rows of ROWS, writing their keys and values through KV, and
// LOGITS the logits of the rows ROWS.out lists ([n_out, vocab]). PASS picks the products' kernels:
// Decode (N == 1) for a step of generation, Prompt for anything else, whatever N; every row's
// results depend only on its sequence's tokens, never on the other rows.
void forward(const detail::LoadedModel& m, Workspace& ws, const PassKv& kv, const PassRows& rows,
             float* logits, ops::Pass pass);

}  // namespace loom::model
