// Rows of ggml's Q5_0, Q5_1, Q5_K and Q6_K blocks (read in place from GGUF files) to fp32, by the
// formulas of ggml's reference dequantizers. Products with these types dequantize tiles of rows
// into the fp32 kernels, so every kernel set gives them the fp32 path's bits.
#pragma once

#include "loom/config.h"

namespace loom::quant {

// N weights (a multiple of dtype_block(TYPE)) of the row at ROW into OUT. TYPE: Q5_0, Q5_1, Q5_K,
// Q6_K. Runs dequantize_row_ggml_avx2 where simd::best_isa() has AVX2 (not under LOOM_ISA=scalar).
void dequantize_row_ggml(DType type, const void* row, float* out, int n);

// The two implementations, which give every weight the same bits (each weight computed by the
// same float operations, in the same order, none fused). The AVX2 one needs AVX2, FMA and F16C
// (simd::isa_supported(simd::Isa::Avx2)).
void dequantize_row_ggml_scalar(DType type, const void* row, float* out, int n);
void dequantize_row_ggml_avx2(DType type, const void* row, float* out, int n);

}  // namespace loom::quant
