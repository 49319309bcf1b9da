// Rows of Q8_0, Q4_0 and Q4_K between ggml's block layouts (GGUF files) and loom's
// (quant/blocks.h): the same numbers rearranged, losslessly, both ways.
#pragma once

#include <cstddef>

#include "loom/config.h"

namespace loom::quant {

// A row of NB blocks of 32 (for Q4_K, a multiple of 8) of TYPE: ggml's blocks at FROM to loom's
// row_bytes(type, 32 * NB) bytes at TO, and back.
void from_ggml_row(DType type, const void* from, size_t nb, void* to);
void to_ggml_row(DType type, const void* from, size_t nb, void* to);

}  // namespace loom::quant
