// The row layouts weights are quantized to, and the one activations are quantized to on the fly
// for the decode products. Blocks of 32 weights along a row (in_features) share one fp16 scale;
// the bits per weight are llama.cpp's (8.5 for Q8_0, 4.5 for Q4_0 with an even number of
// blocks), the byte order is ours: a row keeps all its quants first and all its scales after, so
// that a product loads the quants of a block in one 32-byte load and the scales of eight blocks
// in one 16-byte load.
//
// Q8_0, a row of nb blocks (nb * 34 bytes):
//   int8 q[nb][32]   weight i of block b is d[b] * q[b][i]; |q| <= 127
//   fp16 d[nb]       d = max|x| / 127 rounded to fp16
//
// Q4_0, a row of nb blocks (ceil(nb / 2) * 32 + nb * 2 bytes; nb * 18 when nb is even):
//   uint8 q[ceil(nb / 2)][32]  blocks in pairs: byte j of pair p holds nibble j of block 2p in
//                              its low half and nibble j of block 2p + 1 in its high half (zero
//                              for an odd last block), so one load and a mask give block 2p's
//                              nibbles in order, and a shift and the mask block 2p + 1's
//   fp16 d[nb]                 nibble n of block b is weight d[b] * (n - 8); d is the weight of
//                              largest magnitude, with its sign, over -8, so that weight is
//                              stored as nibble 0, exactly
//
// Quantized-weights cache files (model/quant_cache.h) hold rows in these layouts: any change to
// them must bump quant::kQuantizerVersion (quantize.h), so that older caches are rebuilt.
#pragma once

#include <cstddef>
#include <cstdint>

#include "loom/config.h"

namespace loom::quant {

inline constexpr int kBlock = 32;  // weights per block, along a row (in_features)

// Bytes of the quants of a row of NB blocks of TYPE (Q8_0 or Q4_0): where its scales start.
inline constexpr size_t quants_bytes(DType type, size_t nb) {
  return type == DType::Q8_0 ? nb * kBlock : (nb + 1) / 2 * kBlock;
}

// Bytes of a row of NB blocks of TYPE.
inline constexpr size_t quant_row_bytes(DType type, size_t nb) {
  return quants_bytes(type, nb) + nb * sizeof(uint16_t);
}

// The fp16 scales of a row of NB blocks of TYPE starting at ROW.
inline const uint16_t* row_scales(DType type, const void* row, size_t nb) {
  return reinterpret_cast<const uint16_t*>(static_cast<const char*>(row) + quants_bytes(type, nb));
}
inline uint16_t* row_scales(DType type, void* row, size_t nb) {
  return reinterpret_cast<uint16_t*>(static_cast<char*>(row) + quants_bytes(type, nb));
}

// Activations of a decode product, one row of x quantized per block, as arrays over its nb
// blocks: value i of block b is d[b] * q[b][i], d = max|x| / 127 kept in fp32, |q| <= 127 (the
// sign trick of the AVX2 Q8_0 product needs -128 absent); s8[b] = 8 * (q[b][0] + ... +
// q[b][31]), for Q4_0's offset: sum (n - 8) x = sum n x - s8, exactly in int32.
struct ActBlocks {
  int8_t* q;    // [nb][kBlock]
  float* d;     // [nb]
  int32_t* s8;  // [nb]
};

// One block's room in a scratch buffer of quantized activations: its 32 q, d and s8.
struct ActSpace {
  alignas(4) unsigned char bytes[kBlock + sizeof(float) + sizeof(int32_t)];
};
static_assert(sizeof(ActSpace) == 40);

// The arrays of NB blocks laid out in ROOM[0, nb): all q, then all d, then all s8.
inline ActBlocks act_blocks(ActSpace* room, size_t nb) {
  auto* bytes = reinterpret_cast<char*>(room);
  return {reinterpret_cast<int8_t*>(bytes), reinterpret_cast<float*>(bytes + nb * kBlock),
          reinterpret_cast<int32_t*>(bytes + nb * (kBlock + sizeof(float)))};
}

}  // namespace loom::quant
