// Every weight type loom holds, described once: its name, its ggml type in GGUF files, its blocks
// in ggml's layout and in the one loom holds in memory, and which kernel slot serves it. The
// public dtype functions (loom/config.h), the GGUF reader and writer, the quantizers' dispatch and
// the kernel tables all read this table; sizes are checked against ggml's block structs at
// compile time. A type outside the table is an error where it is met (a GGUF tensor type, a
// name), never another type's kernel.
//
// The quantized types are ggml's, number for number: the same blocks, scales, bits per weight and
// rounding of a weight. Three of them (Q8_0, Q4_0, Q4_K) are held in a row order of loom's
// (quant/blocks.h: a row's quants first, its scales after, Q4_0's blocks paired) that the int8
// decode and prompt kernels are built around; a GGUF file's rows of those types are rearranged
// into it at load, losslessly, and back when a GGUF file is written (quant/ggml_repack.h), as
// llama.cpp's CPU backend itself repacks Q4_0 and Q4_K at load. The other four are read where
// they lie in the file. One extension: loom's Q4_K row may end with a super-block of fewer than
// 8 blocks (rows of any multiple of 32), which no GGUF file can hold; writing one falls back to
// another type, as llama.cpp's rules do (model/gguf_mix.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "loom/config.h"
#include "quant/blocks.h"
#include "quant/ggml_blocks.h"

namespace loom::quant {

// How loom holds a type's rows in memory.
enum class Layout : uint8_t {
  Plain,       // F32, F16, BF16: one value a weight
  LoomRows,    // ggml's numbers in loom's row order (blocks.h); kernels by QuantKernels::gemv
  GgmlBlocks,  // ggml's blocks as they lie in the file; kernels by QuantKernels::ggml_gemv
};

struct DTypeTraits {
  DType type;
  const char* name;  // loom's name, llama.cpp's in lower case
  uint32_t ggml;     // its number in ggml.h's enum ggml_type (GGUF tensor types)
  int ggml_block;    // weights per block in ggml's layout (1 for the plain types)
  int ggml_bytes;    // bytes of one such block (the value's size for the plain types)
  int block;         // weights per block loom holds rows in: a row is a whole number of them
  Layout layout;
  int slot;  // index into the kernels of LAYOUT (QuantKernels); -1 for Plain
};

inline constexpr DTypeTraits kDTypes[] = {
    {DType::F32, "f32", 0, 1, 4, 1, Layout::Plain, -1},
    {DType::F16, "f16", 1, 1, 2, 1, Layout::Plain, -1},
    {DType::BF16, "bf16", 30, 1, 2, 1, Layout::Plain, -1},
    {DType::Q8_0, "q8_0", 8, ggml::QK, sizeof(ggml::block_q8_0), kBlock, Layout::LoomRows, 0},
    {DType::Q4_0, "q4_0", 2, ggml::QK, sizeof(ggml::block_q4_0), kBlock, Layout::LoomRows, 1},
    {DType::Q4_K, "q4_k", 12, ggml::QK_K, sizeof(ggml::block_q4_K), kBlock, Layout::LoomRows, 2},
    {DType::Q5_0, "q5_0", 6, ggml::QK, sizeof(ggml::block_q5_0), ggml::QK, Layout::GgmlBlocks, 0},
    {DType::Q5_K, "q5_k", 13, ggml::QK_K, sizeof(ggml::block_q5_K), ggml::QK_K, Layout::GgmlBlocks,
     2},
    {DType::Q6_K, "q6_k", 14, ggml::QK_K, sizeof(ggml::block_q6_K), ggml::QK_K, Layout::GgmlBlocks,
     3},
    {DType::Q5_1, "q5_1", 7, ggml::QK, sizeof(ggml::block_q5_1), ggml::QK, Layout::GgmlBlocks, 1},
};
inline constexpr int kLoomRowsSlots = 3;    // QuantKernels::gemv and its siblings
inline constexpr int kGgmlBlocksSlots = 4;  // QuantKernels::ggml_gemv

// Row I describes the DType numbered I: the table is indexed by the enum.
constexpr bool table_in_enum_order() {
  for (size_t i = 0; i < std::size(kDTypes); ++i) {
    if (static_cast<size_t>(kDTypes[i].type) != i) return false;
  }
  return true;
}
static_assert(table_in_enum_order());
static_assert(std::size(kDTypes) == static_cast<size_t>(DType::Q5_1) + 1, "a DType without a row");

constexpr const DTypeTraits& traits(DType t) {
  return kDTypes[static_cast<size_t>(t)];
}

// Each slot of each layout serves exactly one type.
constexpr bool slots_distinct() {
  for (const DTypeTraits& a : kDTypes) {
    const int n = a.layout == Layout::LoomRows     ? kLoomRowsSlots
                  : a.layout == Layout::GgmlBlocks ? kGgmlBlocksSlots
                                                   : 0;
    if (a.layout == Layout::Plain ? a.slot != -1 : a.slot < 0 || a.slot >= n) return false;
    for (const DTypeTraits& b : kDTypes) {
      if (&a != &b && a.layout != Layout::Plain && a.layout == b.layout && a.slot == b.slot) {
        return false;
      }
    }
  }
  return true;
}
static_assert(slots_distinct());

// loom's row order keeps ggml's bits per weight: a row of one ggml block takes that block's bytes.
static_assert(quant_row_bytes(DType::Q8_0, 1) == traits(DType::Q8_0).ggml_bytes);
static_assert(quant_row_bytes(DType::Q4_0, 2) == 2 * traits(DType::Q4_0).ggml_bytes);
static_assert(quant_row_bytes(DType::Q4_K, kSuper) == traits(DType::Q4_K).ggml_bytes);
// ggml's sizes (ggml-common.h), so that a struct edited by mistake is caught here.
static_assert(traits(DType::Q8_0).ggml_bytes == 34 && traits(DType::Q4_0).ggml_bytes == 18 &&
              traits(DType::Q4_K).ggml_bytes == 144 && traits(DType::Q5_0).ggml_bytes == 22 &&
              traits(DType::Q5_1).ggml_bytes == 24 && traits(DType::Q5_K).ggml_bytes == 176 &&
              traits(DType::Q6_K).ggml_bytes == 210);

// The type whose ggml number is T, if loom holds it.
constexpr const DTypeTraits* traits_of_ggml(uint32_t t) {
  for (const DTypeTraits& tr : kDTypes) {
    if (tr.ggml == t) return &tr;
  }
  return nullptr;
}

}  // namespace loom::quant
