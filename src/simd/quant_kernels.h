// The inner loops of products with Q8_0, Q4_0 and Q4_K weights: one table per instruction set,
// chosen at run time as simd::kernels() is. Decode steps use gemv; prompts the set's int8 gemm
// where it has one (the AVX2 and AVX-512 VNNI sets), or else the float
// kernels' gemm, which dequantizes the weights into its packed panels.
//
// The activations are quantized per block to 8 bits (quant::ActBlocks) first; each block product
// is then an exact integer sum, and only the scaling and accumulation are in fp32. Numerical
// contract of gemv: for each row, block b's product p_b = sum_i w_i * x_i is exact in int32
// (w_i = q or n - 8, x_i = q); fp32 lane b mod 8 accumulates s_b * float(p_b), s_b = d_w,b *
// d_x,b, over the blocks in order, each product and each addition rounded on its own (no FMA);
// then the eight lanes are reduced in one fixed tree ((l, l+4), then (l, l+2), then (0, 1)).
// Q4_K: block b is block j = b mod 8 of super-block s (blocks.h); its two integer sums
// A_b = sc_j * (sum_i n_i * x_i) and B_b = m_j * (sum_i x_i) (= m_j * s8 / 8) are exact in int32
// and in fp32 (|A| <= 63 * 15 * 127 * 32 < 2^22); lane j adds (d_s * d_x,b) * A_b -
// (dmin_s * d_x,b) * B_b, each product, the difference and the sum rounded on its own; then the
// same tree. gemv of every instruction set computes exactly that, so results do not depend on
// the instruction set or the thread count.
#pragma once

#include <cstddef>

#include "loom/config.h"
#include "quant/blocks.h"
#include "simd/cpu.h"

namespace loom::simd {

struct QuantKernels {
  // K activations (a multiple of quant::kBlock) to the K / kBlock blocks of OUT: d = max|x| /
  // 127, q = x * (127 / max|x|) rounded to nearest even, s8 = 8 * sum q.
  void (*quantize_acts)(const float* x, const quant::ActBlocks& out, int k);
  // out[r] = row r of W . X for r < rows: W's rows hold LDW blocks of the slot's dtype in the
  // layout of quant/blocks.h (quant_row_bytes(dtype, ldw) apart), of which the first NB are read.
  using Gemv = void (*)(const void* w, size_t ldw, const quant::ActBlocks& x, int nb, float* out,
                        int rows);
  // A row of N weights (a multiple of kBlock) to fp32: d * q, exactly (Q4_K: d * sc * n -
  // dmin * m rounded once, as quant::dequantize_row).
  using ToF32 = void (*)(const void* src, float* dst, size_t n);
  // The prompt product on quantized activations: out[t * ldo + r] = row r of W . token t of X,
  // for t < m and r < rows; token t's NB blocks are act_blocks(x + t * nb, nb). Its contract
  // is its own, the same in the AVX2 and VNNI sets (see quant_gemm_avx2.cpp); the scalar set has
  // none (null), and prompts then run through the float gemm on fp32 activations.
  using Gemm = void (*)(const void* w, size_t ldw, const quant::ActSpace* x, int nb, int m,
                        float* out, size_t ldo, int rows);
  // gemv of M tokens at once, in Gemm's arguments: out[t * ldo + r] has the bits gemv gives token
  // t, for any M, whatever else is in the batch. Where null (the scalar and AVX2 sets, Q4_K),
  // decode passes of several tokens call gemv per token.
  using GemvRows = Gemm;

  // A row of N weights of SRC_TYPE (F32, F16 or BF16; N a multiple of kBlock) to the slot's
  // type: in every set, bit for bit the bytes of quant::quantize_row (the scalar reference) on
  // the weights converted to fp32.
  using Quantize = void (*)(const void* src, DType src_type, void* row, int n);

  Gemv gemv[3];  // indexed by quant_slot(dtype)
  ToF32 to_f32[3];
  Gemm gemm[3] = {nullptr, nullptr, nullptr};
  Quantize quantize[3] = {nullptr, nullptr, nullptr};
  GemvRows gemv_rows[3] = {nullptr, nullptr, nullptr};
};

inline int quant_slot(DType t) {
  return t == DType::Q8_0 ? 0 : t == DType::Q4_0 ? 1 : 2;
}

const QuantKernels& quant_kernels(Isa isa);
inline const QuantKernels& quant_kernels() {
  return quant_kernels(best_isa());
}

// Defined in one translation unit per instruction set.
const QuantKernels& quant_scalar_kernels();
const QuantKernels& quant_avx2_kernels();
// The VNNI set: gemv and the prompt gemm with AVX-512 VNNI (quantize_acts, to_f32 and Q4_K's
// gemv are the AVX2 set's): only where avx512_vnni_supported().
const QuantKernels& quant_avx512_kernels();
QuantKernels::Gemm quant_avx512_gemm(DType t);           // (quant_gemm_avx512.cpp)
QuantKernels::GemvRows quant_avx512_gemv_rows(DType t);  // (quant_rows_avx512.cpp)
QuantKernels::Gemm quant_avx2_gemm(DType t);             // (quant_gemm_avx2.cpp)
QuantKernels::Quantize quant_avx2_quantize(DType t);     // (quantize_avx2.cpp)
void quantize_q4_k_avx2(const void* src, DType src_type, void* row, int n);  // (its own file)

}  // namespace loom::simd
