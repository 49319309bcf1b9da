// Weights to and from the row layouts of blocks.h: the reference code, scalar, run once at load.
#pragma once

#include <cstdint>

#include "loom/config.h"
#include "quant/blocks.h"

namespace loom::quant {

// The version of the quantization arithmetic (quantize.cpp) and the row layouts (blocks.h), as
// quantized-weights cache files record it (model/quant_cache.h): a cache made by another version
// is rebuilt, not used. Bump it with any change that alters a quantized byte: rounding, scale
// choice, block or row layout.
inline constexpr uint32_t kQuantizerVersion = 1;

// Whether rows of COLS weights can be stored as blocks: only whole blocks can.
inline bool fits_blocks(long cols) {
  return cols > 0 && cols % kBlock == 0;
}

// A row of N weights (a multiple of kBlock) to its row_bytes(type, n) bytes, and back.
void quantize_row_q8_0(const float* x, void* row, int n);
void quantize_row_q4_0(const float* x, void* row, int n);
void dequantize_row_q8_0(const void* row, float* out, int n);
void dequantize_row_q4_0(const void* row, float* out, int n);
// (quantize_q4_k.cpp: the search for each block's scale and minimum.)
void quantize_row_q4_k(const float* x, void* row, int n);
void dequantize_row_q4_k(const void* row, float* out, int n);

// The same for TYPE, Q8_0, Q4_0 or Q4_K.
void quantize_row(DType type, const float* x, void* row, int n);
// quantize_row's bytes, from the CPU's fastest quantizer (simd::QuantKernels::quantize).
void quantize_row_fast(DType type, const float* x, void* row, int n);
void dequantize_row(DType type, const void* row, float* out, int n);

// The N weights of ROW, of any type loom holds and in the layout it holds it in memory
// (quant/dtype_traits.h), as fp32.
void row_to_f32(DType type, const void* row, float* out, int n);

// SRC, a [rows, cols] matrix of SRC_TYPE (any type: a quantized one goes through fp32), to DST
// in TYPE (row_bytes(type, cols) a row), its rows split across THREADS (0: all). The result does
// not depend on THREADS.
void quantize_matrix(const void* src, DType src_type, int rows, int cols, DType type, void* dst,
                     int threads);

}  // namespace loom::quant
