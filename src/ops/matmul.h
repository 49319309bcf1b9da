// Matrix products against a weight matrix in its stored dtype, accumulated in fp32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "loom/config.h"
#include "quant/blocks.h"

namespace loom::ops {

// A row-major weight matrix [rows, cols] (a Linear layer's [out_features, in_features]), viewed
// in place in the mapped checkpoint, or in the memory it was quantized to.
struct MatRef {
  DType dtype = DType::F32;
  int rows = 0;
  int cols = 0;
  const void* data = nullptr;

  const void* row(int r) const {
    return static_cast<const char*>(data) + static_cast<size_t>(r) * row_bytes(dtype, cols);
  }
};

// Which kernel computes a product: prompts and decode steps sum in different orders (see
// simd/kernels.h), each fixed whatever the batch size and thread count. PromptBf16Acts is a
// prompt whose BF16-weight products round the activations to bf16 where the kernel set can
// (Kernels::gemm_bf16_acts); every other product of it is Prompt's.
enum class Pass : uint8_t { Prompt, Decode, PromptBf16Acts };

// The pass prompts take for a Bf16Prompts choice on this CPU: PromptBf16Acts where it resolves
// to bf16 activations and the kernel set has their product, else Prompt.
Pass prompt_pass(Bf16Prompts choice);

// The most rows a pass with weights of type T sums faster as decode steps (Pass::Decode) than
// in PROMPT, the prompt pass, on this CPU: the prompt kernels pack W on every call, which pays
// only over many rows. Measured crossovers, docs/performance.md.
int decode_pass_rows(DType t, Pass prompt);

// Scratch for M rows of activations against W: for a quantized or BF16 W, room for them quantized
// to 8-bit blocks (m * w.cols / 32 blocks) and rounded to bf16 (for Pass::PromptBf16Acts); none
// otherwise.
size_t matmul_scratch_blocks(const MatRef& w, int m);

// y[m, w.rows] = x[m, w.cols] * w^T. The rows of W are split across THREADS (or, inside a
// parallel region, the calling team: every op here is collective, see ops/team.h); each output
// is computed by one thread in a fixed order, so results do not depend on the thread count.
// Pass::Decode takes m == 1. SCRATCH holds matmul_scratch_blocks(w, m) blocks or more; with less
// it throws loom::Error, which inside a region ends the process (a caller's bug: the model's
// workspace is sized from its matrices).
// BIAS: [w.rows] added to every row of Y, or null.
void matmul(const float* x, int m, const MatRef& w, float* y, int threads, Pass pass = Pass::Prompt,
            std::span<quant::ActSpace> scratch = {}, const float* bias = nullptr);

// One product of a group: y[m, w.rows] = x * w^T, plus BIAS[w.rows] on every row if given (a
// Linear layer's bias, added by the thread that computed those outputs, while they are in cache).
struct Product {
  MatRef w;
  float* y;
  const float* bias = nullptr;
};

// The products of one input with several matrices (q, k and v; gate and up) as one parallel
// loop: one barrier instead of several, the small matrices' rows shared out with the large
// one's, and X quantized once for quantized weights. Each output is what matmul computes. All
// matrices have X's width.
void matmul_group(const float* x, int m, std::span<const Product> products, int threads, Pass pass,
                  std::span<quant::ActSpace> scratch = {});

// out[i, :] = row ids[i] of TABLE, converted to fp32 (the embedding lookup).
void gather_rows(const MatRef& table, const int* ids, int m, float* out, int threads = 1);

}  // namespace loom::ops
