#include "model/llama.h"

#include <algorithm>

#include "model/rope_freq.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/matmul.h"
#include "ops/norm.h"
#include "ops/rope.h"
#include "ops/team.h"

namespace loom::model {

Workspace::Workspace(const detail::LoadedModel& m, int batch_size, int kv_slots_, int n_threads)
    : batch(batch_size), threads(n_threads), kv_slots(kv_slots_) {
  const ModelConfig& c = m.config;
  const size_t b = batch_size;
  x.resize(b * c.hidden_size);
  xn.resize(b * c.hidden_size);
  q.resize(b * c.q_dim());
  k.resize(b * c.kv_dim());
  v.resize(b * c.kv_dim());
  att.resize(b * c.q_dim());
  gate.resize(b * c.intermediate_size);
  up.resize(b * c.intermediate_size);
  scores.resize(
      ops::attention_scratch_floats({c.n_heads, c.n_kv_heads, c.head_dim, kv_slots_}, n_threads));
  inv_freq = m.inv_freq;
  rope_factor = rope_attention_factor(c.rope);
  rope_cos.resize(b * (c.head_dim / 2));
  rope_sin.resize(b * (c.head_dim / 2));
  size_t blocks = ops::matmul_scratch_blocks(m.weights.lm_head, batch_size);
  for (const LayerWeights& l : m.weights.layers) {
    for (const LayerTensor& t : layer_tensors(m.weights.arch)) {
      if (t.kind != TensorKind::Matrix) continue;
      blocks = std::max(blocks, ops::matmul_scratch_blocks(l.*t.matrix, batch_size));
    }
  }
  xq.resize(blocks);
}

namespace {
// An optional bias as matmul takes it.
const float* bias(const std::vector<float>& b) {
  return b.empty() ? nullptr : b.data();
}
}  // namespace

void forward(const detail::LoadedModel& m, Workspace& ws, const PassKv& kv, const PassRows& rows,
             float* logits, ops::Pass pass) {
  const ModelConfig& c = m.config;
  const LlamaWeights& w = m.weights;
  const int hidden = c.hidden_size, hd = c.head_dim, half = hd / 2;
  const int nt = ws.threads;
  const int n = rows.n;
  const int* ids = rows.ids;

  // One parallel region for the whole pass: every op below is collective (ops/team.h), run by
  // the whole team and ending on a barrier, so the threads stay the same team from the first op
  // to the last, with no fork or join between them. An op's loom::Error comes back to the caller.
  ops::region(nt, [&] {
    ops::gather_rows(w.embed, ids, n, ws.x.data(), nt);
#pragma omp for schedule(static)
    for (int i = 0; i < n; ++i) {
      rope_rows(ws.inv_freq, ws.rope_factor, rows.pos[i], 1, ws.rope_cos.data() + i * half,
                ws.rope_sin.data() + i * half);
    }
    for (int l = 0; l < c.n_layers; ++l) {
      const LayerWeights& lw = w.layers[l];

      // Attention block: x += wo * attention(rope(wq * norm(x)), rope(wk * norm(x)), wv * norm(x)),
      // each product with its bias where the model has one.
      ops::rmsnorm(ws.x.data(), lw.attn_norm.data(), ws.xn.data(), n, hidden, c.rms_norm_eps, nt);
      const ops::Product qkv[] = {{lw.wq, ws.q.data(), bias(lw.q_bias)},
                                  {lw.wk, ws.k.data(), bias(lw.k_bias)},
                                  {lw.wv, ws.v.data(), bias(lw.v_bias)}};
      ops::matmul_group(ws.xn.data(), n, qkv, nt, pass, ws.xq);
      if (!lw.q_norm.empty()) {  // Qwen3: an RMSNorm over each head of q and k, before RoPE
        ops::rmsnorm(ws.q.data(), lw.q_norm.data(), ws.q.data(), n * c.n_heads, hd, c.rms_norm_eps,
                     nt);
        ops::rmsnorm(ws.k.data(), lw.k_norm.data(), ws.k.data(), n * c.n_kv_heads, hd,
                     c.rms_norm_eps, nt);
      }
#pragma omp for schedule(static)
      for (int i = 0; i < n; ++i) {
        const float* cs = ws.rope_cos.data() + static_cast<size_t>(i) * half;
        const float* sn = ws.rope_sin.data() + static_cast<size_t>(i) * half;
        ops::rope_rotate(ws.q.data() + static_cast<size_t>(i) * c.q_dim(), c.n_heads, hd, cs, sn);
        float* ki = ws.k.data() + static_cast<size_t>(i) * c.kv_dim();
        const float* vi = ws.v.data() + static_cast<size_t>(i) * c.kv_dim();
        ops::rope_rotate(ki, c.n_kv_heads, hd, cs, sn);
        const ops::KvView& view = kv.at(l, rows.seq[i]);
        for (int h = 0; h < c.n_kv_heads; ++h) {
          const size_t at = view.offset(h, rows.pos[i]);
          ops::kv_store(kv.type, ki + h * hd, view.k + at, hd);
          ops::kv_store(kv.type, vi + h * hd, view.v + at, hd);
        }
      }
      const ops::AttentionShape shape{c.n_heads,   c.n_kv_heads, hd,
                                      ws.kv_slots, kv.type,      c.window_of(l)};
      ops::attention(ws.q.data(), n, rows.pos, rows.seq, &kv.at(l, 0), shape, ws.att.data(),
                     ws.scores.data(), nt);
      ops::matmul(ws.att.data(), n, lw.wo, ws.xn.data(), nt, pass, ws.xq, bias(lw.o_bias));
      ops::add_to(ws.x.data(), ws.xn.data(), static_cast<long>(n) * hidden, nt);

      // MLP block: x += w_down * (silu(w_gate * norm(x)) * (w_up * norm(x)))
      ops::rmsnorm(ws.x.data(), lw.mlp_norm.data(), ws.xn.data(), n, hidden, c.rms_norm_eps, nt);
      const ops::Product gate_up[] = {{lw.w_gate, ws.gate.data(), bias(lw.gate_bias)},
                                      {lw.w_up, ws.up.data(), bias(lw.up_bias)}};
      ops::matmul_group(ws.xn.data(), n, gate_up, nt, pass, ws.xq);
      ops::swiglu(ws.gate.data(), ws.up.data(), ws.gate.data(),
                  static_cast<long>(n) * c.intermediate_size, nt);
      ops::matmul(ws.gate.data(), n, lw.w_down, ws.xn.data(), nt, pass, ws.xq, bias(lw.down_bias));
      ops::add_to(ws.x.data(), ws.xn.data(), static_cast<long>(n) * hidden, nt);
    }

    // Output head: on the rows whose logits are wanted, gathered.
#pragma omp for schedule(static)
    for (int i = 0; i < rows.n_out; ++i) {
      std::copy_n(ws.x.data() + static_cast<size_t>(rows.out[i]) * hidden, hidden,
                  ws.xn.data() + static_cast<size_t>(i) * hidden);
    }
    ops::rmsnorm(ws.xn.data(), w.final_norm.data(), ws.xn.data(), rows.n_out, hidden,
                 c.rms_norm_eps, nt);
    ops::matmul(ws.xn.data(), rows.n_out, w.lm_head, logits, nt, pass, ws.xq);
  });
}

}  // namespace loom::model
