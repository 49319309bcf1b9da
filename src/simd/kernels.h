// The inner loops of every op, one table per instruction set, chosen at run time.
//
// Numerical contract, for a given kernel set: gemv and dot compute each output as the same sum in
// the same order (decode); gemm computes each output as one sum in k order whatever the batch
// size, the token's place in the batch or the rows around it (prompts). So a prompt's logits do
// not depend on the batch size or thread count, nor a decoded token's on the thread count; the
// two orders differ by rounding only (relative 1e-7 per product).
#pragma once

#include <cstddef>
#include <cstdint>

#include "loom/config.h"
#include "simd/cpu.h"

namespace loom::simd {

struct Kernels {
  // out[r] = sum_k w[r*ldw + k] * x[k] for r < rows; W's elements are of the slot's dtype.
  using Gemv = void (*)(const void* w, size_t ldw, const float* x, int k, float* out, int rows);
  // out[t*ldo + r] = sum_k w[r*ldw + k] * x[t*ldx + k] for t < m, r < rows.
  using Gemm = void (*)(const void* w, size_t ldw, const float* x, size_t ldx, int m, int k,
                        float* out, size_t ldo, int rows);
  using ToF32 = void (*)(const void* src, float* dst, size_t n);

  Gemv gemv[3];  // indexed by DType
  // Indexed by DType. Q8_0, Q4_0 and Q4_K rows (LDW a multiple of 32: rows of LDW weights in the
  // layout of quant/blocks.h, row_bytes(dtype, ldw) apart, of which the first K are read) are
  // dequantized into the packed fp32 panels, on fp32 activations: the prompt path of the scalar
  // set (and of LOOM_ISA=scalar); the vector sets' quantized prompts take their int8 gemm
  // (simd/quant_kernels.h), which ops::matmul prefers.
  Gemm gemm[6];
  ToF32 to_f32[3];
  float (*dot)(const float* a, const float* b, int n);     // the sum gemv computes for F32
  void (*axpy)(float a, const float* x, float* y, int n);  // y += a * x
  // The prompt product of BF16 weights with activations rounded to bf16 (X: bf16, LDX elements
  // apart; to_bf16 rounds them) and multiplied in pairs (AVX-512 BF16, vdpbf16ps), accumulated in
  // fp32: twice the products an instruction of gemm[BF16], at the cost of the activations' 8-bit
  // mantissas. Used only when asked for (SessionOptions::bf16_activations); both null in sets
  // without AVX-512 BF16.
  using GemmBf16 = void (*)(const void* w, size_t ldw, const uint16_t* x, size_t ldx, int m, int k,
                            float* out, size_t ldo, int rows);
  using ToBf16 = void (*)(const float* src, uint16_t* dst, size_t n);  // half.h's f32_to_bf16
  GemmBf16 gemm_bf16_acts = nullptr;  // (last: the sets' tables leave them out)
  ToBf16 to_bf16 = nullptr;
  // Indexed by DType (F32, F16, BF16): for each of M tokens, the outputs gemv gives it, bit for
  // bit, with each weight read once for several tokens (the decode steps of a batch); null where
  // the set has none (then gemv, a token at a time).
  Gemm gemv_rows[3] = {nullptr, nullptr, nullptr};
};

const Kernels& kernels(Isa isa);
inline const Kernels& kernels() {
  return kernels(best_isa());
}

// Defined in one translation unit per instruction set.
const Kernels& scalar_kernels();
const Kernels& avx2_kernels();
const Kernels& avx512_kernels();
// The AVX-512 BF16 prompt gemm of BF16 weights and bf16-rounded activations (gemm_bf16_acts),
// defined in its own translation unit; avx512_kernels() takes it only where cpuid reports
// AVX-512 BF16, BW and VL.
Kernels::GemmBf16 avx512_bf16_gemm();
// Sets the AVX-512 gemv_rows (gemv_rows_avx512.cpp).
void avx512_gemv_rows(Kernels& s);
Kernels::ToBf16 avx512_to_bf16();

}  // namespace loom::simd
