// The searches that pick a block's scale (and minimum) when quantizing: shared by loom's Q4_K
// (quantize_q4_k.cpp) and ggml's Q5_K and Q6_K (ggml_quantize.cpp). Each is a function of the
// block alone, in a fixed order of operations, so quantized bytes never depend on threads.
#pragma once

namespace loom::quant {

// Nearest integer of V >= 0 (halves up), without a library call (see quantize.cpp's scaled).
inline int nearest_nonneg(float v) {
  return static_cast<int>(v + 0.5f);
}

// x ~ scale * n - min for n in 0..levels, scale >= 0, min >= 0 (the line's value at n = 0 is
// never above 0, so a block of one sign is never offset away from zero).
struct ScaleMin {
  float scale = 0, min = 0;
};

// The 32 weights at X: the line of least squared error over 21 placements of the integers (from
// the block's range, candidate steps from (LEVELS - 1) / LEVELS to (LEVELS + 1) / LEVELS of
// range / LEVELS place them; for each, the least-squares line through (n, x) gives scale and
// minimum), or the plain min/max grid where none beats it (llama.cpp's make_qkx2_quants,
// unweighted).
ScaleMin fit_scale_min(const float* x, int levels);

// X[0..N) (N a multiple of 4) ~ scale * q for integers q in -32..31 (Q6_K's): the scale of
// least squared error over placements of q from candidate scales that put the weight of largest
// magnitude at -34 .. -28.5 and 28 .. 31.5 in steps of 1/2, each refit by least squares (sum x q
// / sum q q). 0 for a block of zeros.
float fit_scale_q6(const float* x, int n);

}  // namespace loom::quant
