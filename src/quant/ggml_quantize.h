// Rows of fp32 weights to ggml's Q5_0, Q5_1, Q5_K and Q6_K blocks (quant/ggml_blocks.h), for
// writing GGUF files (loom-quantize's _K mixes). Scalar reference code; every byte a function of
// its row, so files do not depend on the thread count.
#pragma once

#include "loom/config.h"

namespace loom::quant {

// N weights (a multiple of dtype_block(TYPE)) of X into the blocks at ROW. TYPE: Q5_0, Q5_1, Q5_K,
// Q6_K.
//  - Q5_0: d = the weight of largest magnitude over -16 (fp16), that weight stored as 0 exactly;
//    q = x / d + 16 rounded to nearest, clamped to 0..31.
//  - Q5_1: m = the minimum weight and d = the range over 31 (fp16); q = (x - m) / d rounded,
//    clamped to 0..31.
//  - Q5_K: each 32-weight sub-block's scale and minimum from fit_scale_min (31 levels), then as
//    loom's Q4_K: rounded to 6 bits against the super-block's fp16 d and dmin, and the quants
//    placed again on that grid.
//  - Q6_K: each 16-weight sub-block's scale from fit_scale_q6; the one of largest magnitude
//    stored as -128 against the fp16 d, the others rounded to int8 against d; the quants placed
//    again on the grid d * scale.
void quantize_row_ggml(DType type, const float* x, void* row, int n);

// SRC, a [rows, cols] matrix of SRC_TYPE (any type, as quant::row_to_f32), to DST in TYPE (one
// of the above; row_bytes(type, cols) a row), its rows split across THREADS (0: all); the bytes
// do not depend on THREADS.
void quantize_matrix_ggml(const void* src, DType src_type, int rows, int cols, DType type,
                          void* dst, int threads);

}  // namespace loom::quant
