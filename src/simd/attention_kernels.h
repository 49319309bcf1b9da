// The inner loops of attention over a KV cache stored as f32, f16 or bf16, one table per
// instruction set, chosen at run time like the kernels of kernels.h.
//
// Numerical contract, for a given table: a partial's result depends only on its inputs (the keys
// it is given and their count), never on where it runs, so ops::attention can cut a query's keys
// into fixed spans and get the same bits whatever the thread count.
#pragma once

#include <cstddef>

#include "loom/config.h"
#include "simd/cpu.h"

namespace loom::simd {

// Keys scored at a time inside a partial: its scratch holds group * kAttentionBlock scores.
constexpr int kAttentionBlock = 64;

struct AttentionKernels {
  // Unnormalized attention of GROUP query heads (q: [group][hd]) over N >= 1 keys and values
  // (k, v: N rows of HD elements of the table slot's type, contiguous): with s_hj = scale *
  // q_h.k_j,
  //   m[h] = max_j s_hj,  l[h] = sum_j exp(s_hj - m[h]),  o[h][:] = sum_j exp(s_hj - m[h]) v_j.
  // SCORES: group * kAttentionBlock floats of scratch.
  using Partial = void (*)(const float* q, int group, int hd, const void* k, const void* v, int n,
                           float scale, float* scores, float* o, float* m, float* l);
  // DST[i] = SRC[i] in the slot's type, rounded to nearest even (NaN stays NaN).
  using Store = void (*)(const float* src, void* dst, size_t n);

  Partial partial[3];  // indexed by DType: F32, F16, BF16
  Store store[3];
  // y[i] = exp(x[i]) by the polynomial softmax uses (simd/exp_poly.h); 0 below -87.3.
  void (*exp)(const float* x, float* y, size_t n);
};

const AttentionKernels& attention_kernels(Isa isa);
inline const AttentionKernels& attention_kernels() {
  return attention_kernels(best_isa());
}

// Defined in one translation unit per instruction set.
const AttentionKernels& scalar_attention_kernels();
const AttentionKernels& avx2_attention_kernels();

}  // namespace loom::simd
