// Rotary position embedding in the Hugging Face "rotate half" convention: element i of a head
// pairs with element i + head_dim/2 (not with its neighbour, as in Meta's original code).
#pragma once

namespace loom::ops {

// Rotates N_HEADS heads of HEAD_DIM in X (contiguous) by the angles whose cosines and sines are
// COS[0..head_dim/2) and SIN[0..head_dim/2).
void rope_rotate(float* x, int n_heads, int head_dim, const float* cos, const float* sin);

}  // namespace loom::ops
