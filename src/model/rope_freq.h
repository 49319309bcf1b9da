// RoPE inverse frequencies for a config, scaling applied as transformers applies it.
#pragma once

#include <vector>

#include "loom/config.h"

namespace loom::model {

// head_dim/2 inverse frequencies: theta^(-2i/head_dim), then linear or llama3 scaling.
std::vector<float> rope_inv_freq(const RopeConfig& rope, int head_dim);

// cos and sin tables, [ctx][head_dim/2] each, for positions 0 .. ctx-1.
void rope_tables(const std::vector<float>& inv_freq, int ctx, std::vector<float>& cos,
                 std::vector<float>& sin);

}  // namespace loom::model
