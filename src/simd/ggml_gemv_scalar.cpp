// Decode products with ggml's Q5_0, Q5_K and Q6_K blocks, read where they lie in a GGUF file:
// the contract of quant_kernels.h (ggml_gemv) written out block by block, so that the AVX2 set,
// which computes the same lanes in vectors, gives the same bits.
#include <cstdint>
#include <cstring>

#include "quant/ggml_blocks.h"
#include "simd/half.h"
#include "simd/quant_kernels.h"
#include "simd/scalar_sums.h"

namespace loom::simd {
namespace {

using quant::ActBlocks;
using quant::kBlock;
namespace g = quant::ggml;

int32_t dot32(const int* w, const int8_t* x) {
  int32_t p = 0;
  for (int i = 0; i < kBlock; ++i) p += w[i] * x[i];
  return p;
}

// A Q5_0 or Q5_1 block's 5-bit quants q: q's low 4 bits in qs (weight i < 16 in byte i's low
// half, i + 16 in its high half), its fifth bit in bit i of qh.
template <class Block>
void five_bit_quants(const Block& blk, int q[kBlock]) {
  uint32_t qh;
  std::memcpy(&qh, blk.qh, 4);
  for (int i = 0; i < kBlock; ++i) {
    const int nibble = i < 16 ? blk.qs[i] & 15 : blk.qs[i - 16] >> 4;
    q[i] = nibble | static_cast<int>(qh >> i & 1) << 4;
  }
}

// Q5_0: block b's weights q - 16.
float dot_q5_0(const void* row, const ActBlocks& x, int nb) {
  const auto* blk = static_cast<const g::block_q5_0*>(row);
  float acc[8] = {};
  for (int b = 0; b < nb; ++b) {
    int w[kBlock];
    five_bit_quants(blk[b], w);
    for (int& v : w) v -= 16;
    const float s = f16_to_f32(blk[b].d) * x.d[b];
    acc[b % 8] += s * static_cast<float>(dot32(w, x.q + b * kBlock));
  }
  return reduce8(acc);
}

// Q5_1: block b's weights d q + m; lane b mod 8 adds (d dx) A + (m dx) B,
// A = sum q x, B = sum x (= s8 / 8).
float dot_q5_1(const void* row, const ActBlocks& x, int nb) {
  const auto* blk = static_cast<const g::block_q5_1*>(row);
  float acc[8] = {};
  for (int b = 0; b < nb; ++b) {
    int w[kBlock];
    five_bit_quants(blk[b], w);
    const int32_t a = dot32(w, x.q + b * kBlock);
    const float s = f16_to_f32(blk[b].d) * x.d[b], t = f16_to_f32(blk[b].m) * x.d[b];
    acc[b % 8] += s * static_cast<float>(a) + t * static_cast<float>(x.s8[b] / 8);
  }
  return reduce8(acc);
}

// Q5_K: sub-block j (32 weights) of a super-block: low 4 bits in byte 32 (j / 2) + i's low (even
// j) or high (odd j) half, the fifth bit in bit j of qh[i]; lane j adds (d dx) A - (dmin dx) B.
float dot_q5_k(const void* row, const ActBlocks& x, int nb) {
  const auto* blk = static_cast<const g::block_q5_K*>(row);
  float acc[8] = {};
  for (int b = 0; b < nb; ++b) {
    const g::block_q5_K& s = blk[b / 8];
    const int j = b % 8;
    int w[kBlock];
    for (int i = 0; i < kBlock; ++i) {
      w[i] = (s.qs[j / 2 * 32 + i] >> (j % 2 * 4) & 15) | (s.qh[i] >> j & 1) << 4;
    }
    int sc, m;
    g::scale_min_k(s.scales, j, sc, m);
    const int32_t a = sc * dot32(w, x.q + b * kBlock);
    const int32_t bm = m * (x.s8[b] / 8);
    const float ds = f16_to_f32(s.d) * x.d[b], dm = f16_to_f32(s.dmin) * x.d[b];
    acc[j] += ds * static_cast<float>(a) - dm * static_cast<float>(bm);
  }
  return reduce8(acc);
}

// Q6_K: sub-block j (32 weights) of a super-block is run j % 4 of half j / 4: low 4 bits in the
// low (runs 0, 1) or high (2, 3) halves of ql[64 h + 32 (j % 2) + i], high 2 bits at bit
// 2 (j % 4) of qh[32 h + i]; weights q - 32, the first 16 scaled by scales[2 j], the rest by
// scales[2 j + 1]; lane j adds (d dx) A.
float dot_q6_k(const void* row, const ActBlocks& x, int nb) {
  const auto* blk = static_cast<const g::block_q6_K*>(row);
  float acc[8] = {};
  for (int b = 0; b < nb; ++b) {
    const g::block_q6_K& s = blk[b / 8];
    const int j = b % 8, h = j / 4, run = j % 4;
    int32_t half[2] = {};
    for (int i = 0; i < kBlock; ++i) {
      const int lo = s.ql[64 * h + 32 * (run % 2) + i] >> (run / 2 * 4) & 15;
      const int hi = s.qh[32 * h + i] >> (2 * run) & 3;
      half[i / 16] += ((lo | hi << 4) - 32) * x.q[b * kBlock + i];
    }
    const int32_t a = s.scales[2 * j] * half[0] + s.scales[2 * j + 1] * half[1];
    acc[j] += f16_to_f32(s.d) * x.d[b] * static_cast<float>(a);
  }
  return reduce8(acc);
}

template <DType T>
void gemv(const void* w, size_t ldw, const ActBlocks& x, int nb, float* out, int rows) {
  const size_t stride = row_bytes(T, ldw * kBlock);
  for (int r = 0; r < rows; ++r) {
    const void* row = static_cast<const char*>(w) + r * stride;
    out[r] = T == DType::Q5_0   ? dot_q5_0(row, x, nb)
             : T == DType::Q5_1 ? dot_q5_1(row, x, nb)
             : T == DType::Q5_K ? dot_q5_k(row, x, nb)
                                : dot_q6_k(row, x, nb);
  }
}

}  // namespace

QuantKernels::Gemv ggml_gemv_scalar(DType t) {
  switch (t) {
    case DType::Q5_0:
      return gemv<DType::Q5_0>;
    case DType::Q5_1:
      return gemv<DType::Q5_1>;
    case DType::Q5_K:
      return gemv<DType::Q5_K>;
    case DType::Q6_K:
      return gemv<DType::Q6_K>;
    default:
      return nullptr;
  }
}

}  // namespace loom::simd
