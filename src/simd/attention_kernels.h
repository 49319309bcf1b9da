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

// Keys scored at a time inside a partial, between the updates of its running maxima.
constexpr int kAttentionBlock = 64;

// Queries one partial call takes at most: consecutive positions of one sequence sharing a KV
// head, so each key and value row is read once for all their heads.
constexpr int kAttentionQueries = 8;

// Floats of scratch a partial call needs for ROWS query heads (queries times group).
constexpr size_t attention_partial_scratch(int rows, int hd) {
  return static_cast<size_t>(rows + 2 * hd) * kAttentionBlock;
}

struct AttentionKernels {
  // Unnormalized attention of NQ queries' GROUP heads each (query a's heads at q + a * q_stride,
  // [group][hd]; 1 <= NQ <= kAttentionQueries) over the first N[a] >= 1 keys and values (k, v:
  // rows of HD elements of the table slot's type, contiguous, the first max(N) of them written).
  // With row r = a * group + h and s_rj = scale * q_r.k_j for j < N[a],
  //   m[r] = max_j s_rj,  l[r] = sum_j exp(s_rj - m[r]),  o[r][:] = sum_j exp(s_rj - m[r]) v_j.
  // A row's bits depend only on its query head, its N and the keys: not on NQ, the other rows
  // or where the call runs. SCRATCH: attention_partial_scratch(NQ * group, hd) floats.
  using Partial = void (*)(const float* q, size_t q_stride, int nq, int group, int hd,
                           const void* k, const void* v, const int* n, float scale, float* scratch,
                           float* o, float* m, float* l);
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

// A Partial made of a one-query loop ONE (a Partial's arguments for NQ = 1, N by value): the
// queries in turn, each over its own keys. For the sets that read the key rows once per query.
using OneQuery = void (*)(const float* q, int group, int hd, const void* k, const void* v, int n,
                          float scale, float* scratch, float* o, float* m, float* l);
template <OneQuery One>
void query_by_query(const float* q, size_t q_stride, int nq, int group, int hd, const void* k,
                    const void* v, const int* n, float scale, float* scratch, float* o, float* m,
                    float* l) {
  for (int a = 0; a < nq; ++a) {
    const size_t r = static_cast<size_t>(a) * group;
    One(q + a * q_stride, group, hd, k, v, n[a], scale, scratch, o + r * hd, m + r, l + r);
  }
}

// Defined in one translation unit per instruction set.
const AttentionKernels& scalar_attention_kernels();
const AttentionKernels& avx2_attention_kernels();
const AttentionKernels& avx512_attention_kernels();

}  // namespace loom::simd
