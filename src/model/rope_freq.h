// RoPE inverse frequencies for a config, scaling applied as transformers applies it.
#pragma once

#include <vector>

#include "loom/config.h"

namespace loom::model {

// head_dim/2 inverse frequencies: theta^(-2i/head_dim), then linear, llama3 or yarn scaling.
// Dynamic scaling depends on the sequence: SEQ_LEN is transformers' max(position_ids) + 1 of the
// forward call; at or below rope.original_max_position (and for the other types) it is unused.
std::vector<float> rope_inv_freq(const RopeConfig& rope, int head_dim, long seq_len = 0);

// The factor cos and sin are multiplied by (yarn's attention factor; 1 for the other types).
float rope_attention_factor(const RopeConfig& rope);

// cos and sin of positions pos0 .. pos0+n-1, [n][head_dim/2] each, times ATTENTION_FACTOR.
void rope_rows(const std::vector<float>& inv_freq, float attention_factor, int pos0, int n,
               float* cos, float* sin);

// cos and sin tables, [ctx][head_dim/2] each, for positions 0 .. ctx-1 (attention factor 1).
void rope_tables(const std::vector<float>& inv_freq, int ctx, std::vector<float>& cos,
                 std::vector<float>& sin);

// transformers' dynamic_rope_update for one sequence: before each forward call, the inverse
// frequencies of that call. Transformers recomputes them when the call's max(position)+1 exceeds
// the longest length seen so far (max_seq_len_cached), and returns to the original ones when a
// call's length is below max_position_embeddings after having grown past it. Keys already in the
// cache keep the rotation they were written with, as in transformers.
class DynamicRope {
 public:
  DynamicRope(const RopeConfig& rope, int head_dim);
  // Updates for a call whose positions end before SEQ_LEN; true if the frequencies changed.
  bool update(long seq_len);
  const std::vector<float>& inv_freq() const { return inv_freq_; }
  void reset();

 private:
  RopeConfig rope_;
  int head_dim_;
  long cached_;
  std::vector<float> original_, inv_freq_;
};

}  // namespace loom::model
