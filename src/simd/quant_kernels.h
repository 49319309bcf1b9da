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
//
// ggml_gemv, for ggml's Q5_0, Q5_1, Q5_K and Q6_K blocks as they lie in a GGUF file (quant/ggml_
// blocks.h), keeps that contract over 32-weight blocks b (for the _K types sub-block j = b mod 8
// of super-block b / 8): Q5_0 as Q8_0 with p_b = sum (q_i - 16) x_i; Q5_1 (weights d q + m)
// adds (d * d_x,b) * A_b + (m * d_x,b) * B_b, A_b = sum q_i x_i, B_b = sum x_i; Q5_K as Q4_K with
// its 5-bit q, 6-bit sc_j and m_j and fp16 d, dmin; Q6_K as Q8_0 with s_b = d * d_x,b and p_b =
// sc_2j * (sum over weights 0..15 of (q_i - 32) x_i) + sc_2j+1 * (the same over 16..31), exact
// in int32 and in fp32 (|p| <= 2 * 128 * 32 * 127 * 16 < 2^24).
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

#include "loom/config.h"
#include "quant/blocks.h"
#include "quant/dtype_traits.h"
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

  // Indexed by quant_slot(dtype) (quant/dtype_traits.h's slots of the LoomRows types).
  Gemv gemv[quant::kLoomRowsSlots];
  ToF32 to_f32[quant::kLoomRowsSlots];
  Gemm gemm[quant::kLoomRowsSlots] = {};
  Quantize quantize[quant::kLoomRowsSlots] = {};
  GemvRows gemv_rows[quant::kLoomRowsSlots] = {};
  // Decode products with ggml's blocks read in place (the contract above), by ggml_slot(dtype)
  // (the GgmlBlocks types); LDW and NB count 32-weight blocks, NB a whole number of the type's
  // blocks.
  Gemv ggml_gemv[quant::kGgmlBlocksSlots] = {};
};

// The slot of T among the kernels of its layout. A type of another layout has none: asking is a
// bug, reported rather than answered with another type's kernel.
inline int slot_of(DType t, quant::Layout layout) {
  const quant::DTypeTraits& tr = quant::traits(t);
  if (tr.layout != layout) {
    throw std::logic_error(std::string("no kernel slot of this layout for dtype ") + tr.name);
  }
  return tr.slot;
}
inline int quant_slot(DType t) {
  return slot_of(t, quant::Layout::LoomRows);
}
inline int ggml_slot(DType t) {
  return slot_of(t, quant::Layout::GgmlBlocks);
}
// The gemv of quantized type T in K: quant_slot's or ggml_slot's.
inline QuantKernels::Gemv gemv_of(const QuantKernels& k, DType t) {
  return is_ggml_only(t) ? k.ggml_gemv[ggml_slot(t)] : k.gemv[quant_slot(t)];
}

const QuantKernels& quant_kernels(Isa isa);
inline const QuantKernels& quant_kernels() {
  return quant_kernels(best_isa());
}

// Defined in one translation unit per instruction set.
const QuantKernels& quant_scalar_kernels();
const QuantKernels& quant_avx2_kernels();
// The VNNI set: gemv and the prompt gemm with AVX-512 VNNI (quantize_acts, to_f32 and the
// ggml_gemv of Q5_0, Q5_1 and Q5_K are the AVX2 set's): only where avx512_vnni_supported().
const QuantKernels& quant_avx512_kernels();
QuantKernels::Gemm quant_avx512_gemm(DType t);           // (quant_gemm_avx512.cpp)
QuantKernels::GemvRows quant_avx512_gemv_rows(DType t);  // (quant_rows_avx512.cpp)
QuantKernels::Gemm quant_avx2_gemm(DType t);             // (quant_gemm_avx2.cpp)
QuantKernels::Quantize quant_avx2_quantize(DType t);     // (quantize_avx2.cpp)
void quantize_q4_k_avx2(const void* src, DType src_type, void* row, int n);  // (its own file)
QuantKernels::Gemv ggml_gemv_scalar(DType t);  // (ggml_gemv_scalar.cpp), Q5_0 .. Q6_K
QuantKernels::Gemv ggml_gemv_avx2(DType t);    // (ggml_gemv_avx2.cpp)
QuantKernels::Gemv ggml_gemv_avx512(DType t);  // (ggml_gemv_avx512.cpp): Q6_K; else null

}  // namespace loom::simd
