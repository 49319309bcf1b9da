// The inner loops of decode steps with Q8_0 and Q4_0 weights: one table per instruction set,
// chosen at run time as simd::kernels() is. (Prompts read quantized weights through the float
// kernels' gemm, which dequantizes them into its packed panels.)
//
// The activations are quantized per block to 8 bits (ActBlock) first; each block product is then
// an exact integer sum, and only the scaling and accumulation are in fp32. Numerical contract:
// every output is the sum of its blocks in block order, each block contributing its integer sums
// of 4 consecutive products, lane l = products 4l..4l+3, as s * float(sum) to fp32 lane l, with
// s = d_w * d_x; each product and each addition is rounded on its own (no FMA) and the eight lanes
// are reduced in one fixed tree. gemv of every instruction set computes exactly that, so results
// do not depend on the instruction set or the thread count.
#pragma once

#include <cstddef>

#include "loom/config.h"
#include "quant/blocks.h"
#include "simd/cpu.h"

namespace loom::simd {

struct QuantKernels {
  // K activations (a multiple of quant::kBlock) to K / kBlock blocks: d = max|x| / 127,
  // q = x * (127 / max|x|) rounded to nearest even.
  void (*quantize_acts)(const float* x, quant::ActBlock* out, int k);
  // out[r] = row r of W (blocks of the slot's dtype, ldw blocks apart) . X, NB blocks, r < rows.
  using Gemv = void (*)(const void* w, size_t ldw, const quant::ActBlock* x, int nb, float* out,
                        int rows);
  // N weights (a multiple of kBlock) to fp32: d * q, exactly.
  using ToF32 = void (*)(const void* src, float* dst, size_t n);

  Gemv gemv[2];  // indexed by quant_slot(dtype)
  ToF32 to_f32[2];
};

inline int quant_slot(DType t) {
  return t == DType::Q8_0 ? 0 : 1;
}

const QuantKernels& quant_kernels(Isa isa);
inline const QuantKernels& quant_kernels() {
  return quant_kernels(best_isa());
}

// Defined in one translation unit per instruction set.
const QuantKernels& quant_scalar_kernels();
const QuantKernels& quant_avx2_kernels();

}  // namespace loom::simd
