// RMSNorm, as Llama applies it before attention, before the MLP and before the output head.
#pragma once

namespace loom::ops {

// For each of M rows of N: out = x / sqrt(mean(x^2) + eps) * weight. OUT may equal X.
// Rows are split across THREADS (each row computed whole by one thread).
void rmsnorm(const float* x, const float* weight, float* out, int m, int n, float eps,
             int threads = 1);

}  // namespace loom::ops
