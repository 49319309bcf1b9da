#include "ops/matmul.h"

#include <omp.h>

#include <algorithm>
#include <string>
#include <vector>

#include "loom/error.h"
#include "ops/team.h"
#include "quant/ggml_dequant.h"
#include "simd/kernels.h"
#include "simd/quant_kernels.h"

namespace loom::ops {

namespace {

// Each thread takes chunks of rows as it finishes the last (a dynamic schedule): on a shared host
// a core can run late by a whole time slice, and with a static split every other thread waits
// for it at the barrier (the device's 8-thread bf16 tg32: 17.6-25.3 -> 25.6-28.3 t/s). Prompts
// take finer chunks: a chunk is seconds' worth of FMAs split 2 ways here, and the last one
// decides when the join comes (at 4 a thread, 5% of a 2-thread pp512 was spent waiting in it).
int chunks_per_thread(Pass pass) {
  return pass == Pass::Decode ? 4 : 16;
}

// Quantized weights meet quantized activations in decode steps, and in prompts where the kernel
// set has an int8 gemm (AVX2, AVX-512 VNNI); elsewhere prompts dequantize W into the float gemm.
// ggml's types read in place (is_ggml_only) have int8 decode products only; their prompts
// dequantize tiles of rows into the fp32 gemm (ggml_rows).
bool int8_product(const Product& p, Pass pass, const simd::QuantKernels& qk) {
  if (!is_quantized(p.w.dtype)) return false;
  if (pass == Pass::Decode) return true;
  return !is_ggml_only(p.w.dtype) && qk.gemm[simd::quant_slot(p.w.dtype)] != nullptr;
}

// BF16 weights meet activations rounded to bf16 in a bf16-activation prompt, where the kernel set
// has the product.
bool bf16_product(const Product& p, Pass pass, const simd::Kernels& k) {
  return pass == Pass::PromptBf16Acts && p.w.dtype == DType::BF16 && k.gemm_bf16_acts != nullptr;
}

// Rows per unit of work: whole tiles of the kernels (gemv's 4 rows; for prompts gemm's packed
// blocks of 32 rows, two panels), so that no chunk splits a tile: a row's sum never depends on
// the rows around it.
int row_align(Pass pass) {
  return pass == Pass::Decode ? 4 : 32;
}

// Blocks of scratch that hold M rows of K activations rounded to bf16.
size_t bf16_blocks(int m, int k) {
  return (static_cast<size_t>(m) * k * sizeof(uint16_t) + sizeof(quant::ActSpace) - 1) /
         sizeof(quant::ActSpace);
}

// Rows R0 .. R1 of P for the M tokens of X as decode steps: each output the gemv's sum, so a
// token's results do not depend on the others. From 2 tokens on, the set's gemv_rows takes them
// all at once where it has one (quantized: its fixed cost, the transposition of each block pair,
// is about a gemv's per token; float: it loads and converts each weight once for four tokens;
// docs/performance.md); else W is read from memory once: a tile of rows (about 64 KiB, whole
// gemv tiles of 4) serves every token from cache before the next.
void decode_rows(const Product& p, const float* x, int m, int r0, int r1, quant::ActSpace* xq,
                 int nb, const simd::Kernels& k, const simd::QuantKernels& qk) {
  const MatRef& w = p.w;
  if (m >= 2 && is_quantized(w.dtype) && !is_ggml_only(w.dtype) &&
      qk.gemv_rows[simd::quant_slot(w.dtype)] != nullptr) {
    qk.gemv_rows[simd::quant_slot(w.dtype)](w.row(r0), nb, xq, nb, m, p.y + r0, w.rows, r1 - r0);
    return;
  }
  if (m >= 2 && !is_quantized(w.dtype) && k.gemv_rows[static_cast<int>(w.dtype)] != nullptr) {
    k.gemv_rows[static_cast<int>(w.dtype)](w.row(r0), w.cols, x, w.cols, m, w.cols, p.y + r0,
                                           w.rows, r1 - r0);
    return;
  }
  const int tile =
      m == 1 ? r1 - r0
             : std::max<int>(4, static_cast<int>((64 << 10) / row_bytes(w.dtype, w.cols)) / 4 * 4);
  for (int s0 = r0; s0 < r1; s0 += tile) {
    const int s1 = std::min(r1, s0 + tile);
    for (int t = 0; t < m; ++t) {
      float* y = p.y + static_cast<size_t>(t) * w.rows + s0;
      if (is_quantized(w.dtype)) {
        const quant::ActBlocks xt = quant::act_blocks(xq + static_cast<size_t>(t) * nb, nb);
        simd::gemv_of(qk, w.dtype)(w.row(s0), nb, xt, nb, y, s1 - s0);
      } else {
        k.gemv[static_cast<int>(w.dtype)](w.row(s0), w.cols, x + static_cast<size_t>(t) * w.cols,
                                          w.cols, y, s1 - s0);
      }
    }
  }
}

// Prompt rows R0 .. R1 of P, whose weights are one of ggml's types (is_ggml_only): tiles of rows
// dequantized into fp32 for the fp32 gemm, which then gives each row the sum it gives an F32
// matrix (a tile is whole gemm tiles, so no row's sum depends on the tile).
void ggml_rows(const Product& p, const float* x, int m, int r0, int r1, const simd::Kernels& k) {
  const MatRef& w = p.w;
  constexpr int kTile = 32;
  thread_local std::vector<float> tile;  // grows once, to the widest matrix's tile
  if (tile.size() < static_cast<size_t>(kTile) * w.cols)
    tile.resize(static_cast<size_t>(kTile) * w.cols);
  const int f32 = static_cast<int>(DType::F32);
  for (int s0 = r0; s0 < r1; s0 += kTile) {
    const int s1 = std::min(r1, s0 + kTile);
    for (int r = s0; r < s1; ++r) {
      quant::dequantize_row_ggml(w.dtype, w.row(r),
                                 tile.data() + static_cast<size_t>(r - s0) * w.cols, w.cols);
    }
    k.gemm[f32](tile.data(), w.cols, x, w.cols, m, w.cols, p.y + s0, w.rows, s1 - s0);
  }
}

}  // namespace

Pass prompt_pass(Bf16Prompts choice) {
  const bool acts = choice == Bf16Prompts::Bf16Activations ||
                    (choice == Bf16Prompts::Auto && simd::bf16_dot_pays());
  return acts && simd::kernels().gemm_bf16_acts ? Pass::PromptBf16Acts : Pass::Prompt;
}

int decode_pass_rows(DType t, Pass prompt) {
  // Quantized: the gemv a token at a time, or gemv_rows, beats the int8 prompt kernels (which
  // pack more) up to 16 rows. Float: gemv_rows beats the fp32 prompt gemm up to 16 rows, and
  // the gemm of bf16 activations (twice an FMA's products) at 4 rows but not at 8; the gemv a
  // token at a time beats either only up to 2.
  if (is_quantized(t)) return 16;
  if (simd::kernels().gemv_rows[static_cast<int>(t)] == nullptr) return 2;
  return t == DType::BF16 && prompt == Pass::PromptBf16Acts ? 4 : 16;
}

size_t matmul_scratch_blocks(const MatRef& w, int m) {
  // Quantized rows take X quantized; BF16 rows, in a bf16-activation prompt, X rounded to bf16,
  // after the room of a quantized X (a group may hold both kinds).
  if (!is_quantized(w.dtype) && w.dtype != DType::BF16) return 0;
  return static_cast<size_t>(m) * (w.cols / quant::kBlock) + bf16_blocks(m, w.cols);
}

void matmul_group(const float* x, int m, std::span<const Product> products, int threads, Pass pass,
                  std::span<quant::ActSpace> scratch) {
  if (products.empty()) return;
  const simd::QuantKernels& qk = simd::quant_kernels();
  const int cols = products[0].w.cols;
  const simd::Kernels& k = simd::kernels();
  bool quantize_x = false, bf16_x = false;
  long units = 0;
  const int align = row_align(pass);
  for (const Product& p : products) {
    if (p.w.cols != cols) {
      throw Error("matmul: products of one group read " + std::to_string(cols) + " and " +
                  std::to_string(p.w.cols) + " activations");
    }
    quantize_x |= int8_product(p, pass, qk);
    bf16_x |= bf16_product(p, pass, k);
    units += (p.w.rows + align - 1) / align;
  }
  const int nb = cols / quant::kBlock;
  const size_t quant_room = quantize_x ? static_cast<size_t>(m) * nb : 0;
  if (scratch.size() < quant_room + (bf16_x ? bf16_blocks(m, cols) : 0)) {
    // A caller's bug, not the input's: the workspace is sized from the model's matrices.
    throw Error("matmul: " + std::to_string(scratch.size()) + " blocks of scratch for " +
                std::to_string(m) + " rows of " + std::to_string(cols) + " activations");
  }
  auto* xb = reinterpret_cast<uint16_t*>(scratch.data() + quant_room);

  collective(static_cast<int>(std::clamp<long>(units, 1, threads)), [&] {
    // The chunks follow the team's size; a row's sum never depends on them.
    const long want = static_cast<long>(omp_get_num_threads()) * chunks_per_thread(pass);
    const int per_chunk = static_cast<int>(std::max<long>(1, (units + want - 1) / want));
    int n_chunks = 0;
    for (const Product& p : products) {
      n_chunks += ((p.w.rows + align - 1) / align + per_chunk - 1) / per_chunk;
    }
    if (quantize_x) {
#pragma omp for schedule(static)
      for (int t = 0; t < m; ++t) {
        qk.quantize_acts(x + static_cast<size_t>(t) * cols,
                         quant::act_blocks(scratch.data() + static_cast<size_t>(t) * nb, nb), cols);
      }  // (the barrier here: every thread reads every token's blocks)
    }
    if (bf16_x) {
      // Once for the group: each chunk of rows below would otherwise round (and read) all of X
      // again, from L3 once X outgrows L2.
#pragma omp for schedule(static)
      for (int t = 0; t < m; ++t) {
        k.to_bf16(x + static_cast<size_t>(t) * cols, xb + static_cast<size_t>(t) * cols, cols);
      }
    }
#pragma omp for schedule(dynamic, 1)
    for (int c = 0; c < n_chunks; ++c) {
      // Chunk c -> its product and rows: a walk over at most a few products.
      int first = c;
      size_t i = 0;
      for (;; ++i) {
        const int pc = ((products[i].w.rows + align - 1) / align + per_chunk - 1) / per_chunk;
        if (first < pc) break;
        first -= pc;
      }
      const Product& p = products[i];
      const MatRef& w = p.w;
      const int r0 = first * per_chunk * align;
      const int r1 = std::min(w.rows, r0 + per_chunk * align);
      if (pass == Pass::Decode) {
        decode_rows(p, x, m, r0, r1, scratch.data(), nb, k, qk);
      } else if (is_ggml_only(w.dtype)) {
        ggml_rows(p, x, m, r0, r1, k);
      } else if (int8_product(p, pass, qk)) {
        qk.gemm[simd::quant_slot(w.dtype)](w.row(r0), nb, scratch.data(), nb, m, p.y + r0, w.rows,
                                           r1 - r0);
      } else if (bf16_product(p, pass, k)) {
        k.gemm_bf16_acts(w.row(r0), w.cols, xb, w.cols, m, w.cols, p.y + r0, w.rows, r1 - r0);
      } else {
        k.gemm[static_cast<int>(w.dtype)](w.row(r0), w.cols, x, w.cols, m, w.cols, p.y + r0, w.rows,
                                          r1 - r0);
      }
      if (p.bias) {
        for (int t = 0; t < m; ++t) {
          float* yt = p.y + static_cast<size_t>(t) * w.rows;
          for (int r = r0; r < r1; ++r) yt[r] += p.bias[r];
        }
      }
    }
  });
}

void matmul(const float* x, int m, const MatRef& w, float* y, int threads, Pass pass,
            std::span<quant::ActSpace> scratch, const float* bias) {
  const Product p{w, y, bias};
  matmul_group(x, m, std::span(&p, 1), threads, pass, scratch);
}

void gather_rows(const MatRef& table, const int* ids, int m, float* out, int threads) {
  if (is_ggml_only(table.dtype)) {
    collective(std::clamp(m, 1, threads), [&] {
#pragma omp for schedule(static)
      for (int i = 0; i < m; ++i) {
        quant::dequantize_row_ggml(table.dtype, table.row(ids[i]),
                                   out + static_cast<size_t>(i) * table.cols, table.cols);
      }
    });
    return;
  }
  const simd::Kernels::ToF32 convert =
      is_quantized(table.dtype) ? simd::quant_kernels().to_f32[simd::quant_slot(table.dtype)]
                                : simd::kernels().to_f32[static_cast<int>(table.dtype)];
  collective(std::clamp(m, 1, threads), [&] {
#pragma omp for schedule(static)
    for (int i = 0; i < m; ++i) {
      convert(table.row(ids[i]), out + static_cast<size_t>(i) * table.cols, table.cols);
    }
  });
}

}  // namespace loom::ops
