// The SwiGLU gate of Llama's MLP.
#pragma once

namespace loom::ops {

// out[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + exp(-x)). OUT may equal GATE.
void swiglu(const float* gate, const float* up, float* out, long n);

}  // namespace loom::ops
