// The SwiGLU gate of Llama's MLP, and the residual add. Elementwise, so THREADS never change a
// result; called outside a parallel region, below kParallelMin elements (a decode step) one
// thread does it all; inside one, the team shares it (ops/team.h).
#pragma once

namespace loom::ops {

// out[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + exp(-x)). OUT may equal GATE.
void swiglu(const float* gate, const float* up, float* out, long n, int threads = 1);

// x[i] += y[i]: the residual stream.
void add_to(float* x, const float* y, long n, int threads = 1);

}  // namespace loom::ops
