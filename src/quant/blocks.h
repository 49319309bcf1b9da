// The row layouts weights are quantized to, and the one activations are quantized to on the fly
// for the decode products. Blocks of 32 weights along a row (in_features) share one fp16 scale
// (Q4_K: a 6-bit scale and minimum against its super-block's fp16 pair); the bits per weight are
// llama.cpp's (8.5 for Q8_0, 4.5 for Q4_0 with an even number of blocks and for Q4_K with whole
// super-blocks), the byte order is ours: a row keeps all its quants first and all its scales
// after, so that a product loads the quants of a block in one 32-byte load and the scales of
// eight blocks in one 16-byte load.
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
// Q4_K, a row of nb blocks in ceil(nb / 8) super-blocks of 8 (ceil(nb / 2) * 32 + ceil(nb / 8)
// * 16 bytes; nb * 18, 4.5 bits a weight, when nb is a multiple of 8; a last super-block of
// fewer blocks still takes a whole header, so that every row of whole blocks can be Q4_K):
//   uint8 q[ceil(nb / 2)][32]  the nibbles, paired as Q4_0's (one load and a mask or a shift give
//                              a block), but unsigned: 0..15
//   Q4KHeader h[ceil(nb / 8)]  block b is in super-block s = b / 8 as its block j = b % 8; its
//                              nibble n is weight d_s * sc_j * n - dmin_s * m_j, with 6-bit
//                              unsigned sc_j and m_j and fp16 d_s and dmin_s: per block a scale and
//                              a minimum (min <= 0), at the bits of Q4_0 (llama.cpp's Q4_K, in an
//                              order of our own). d * sc and dmin * m are exact in fp32 (11 by 6
//                              bits), and so is their product with n: a weight is that exact value
//                              rounded to fp32 once, at the subtraction.
//
// Quantized-weights cache files (model/quant_cache.h) hold rows in these layouts: any change to
// them must bump quant::kQuantizerVersion (quantize.h), so that older caches are rebuilt.
#pragma once

#include <cstddef>
#include <cstdint>

#include "loom/config.h"

namespace loom::quant {

inline constexpr int kBlock = 32;  // weights per block, along a row (in_features)
inline constexpr int kSuper = 8;   // Q4_K: blocks per super-block

// A Q4_K super-block's scales and minimums: the 6-bit fields of blocks 0..3 are bits 0-5, 6-11,
// 12-17, 18-23 of the little-endian 24 bits at byte 0 of their array, those of blocks 4..7 the
// same at byte 3, so that two 4-byte loads, a variable shift and a mask give all eight (the
// second load reads one byte past the array, into the next field: the header is 16 bytes).
struct Q4KHeader {
  uint8_t scales[6];
  uint8_t mins[6];
  uint16_t d, dmin;  // fp16
};
static_assert(sizeof(Q4KHeader) == 16);

// Field J (0..7) of the 6-bit array F (Q4KHeader::scales or mins).
inline constexpr int six_bits(const uint8_t* f, int j) {
  const uint8_t* g = f + 3 * (j / 4);
  const uint32_t v = g[0] | uint32_t{g[1]} << 8 | uint32_t{g[2]} << 16;
  return static_cast<int>(v >> (6 * (j % 4)) & 63);
}

// Sets field J of the 6-bit array F to V (< 64); its bits there must be zero.
inline void set_six_bits(uint8_t* f, int j, uint8_t v) {
  uint8_t* g = f + 3 * (j / 4);
  uint32_t w = g[0] | uint32_t{g[1]} << 8 | uint32_t{g[2]} << 16;
  w |= uint32_t{v} << (6 * (j % 4));
  g[0] = static_cast<uint8_t>(w), g[1] = static_cast<uint8_t>(w >> 8);
  g[2] = static_cast<uint8_t>(w >> 16);
}

// Bytes of the quants of a row of NB blocks of TYPE: where its scales (Q4_K: headers) start.
inline constexpr size_t quants_bytes(DType type, size_t nb) {
  return type == DType::Q8_0 ? nb * kBlock : (nb + 1) / 2 * kBlock;
}

// Bytes of a row of NB blocks of TYPE.
inline constexpr size_t quant_row_bytes(DType type, size_t nb) {
  return quants_bytes(type, nb) + (type == DType::Q4_K
                                       ? (nb + kSuper - 1) / kSuper * sizeof(Q4KHeader)
                                       : nb * sizeof(uint16_t));
}

// The super-block headers of a Q4_K row of NB blocks starting at ROW.
inline const Q4KHeader* row_headers(const void* row, size_t nb) {
  return reinterpret_cast<const Q4KHeader*>(static_cast<const char*>(row) +
                                            quants_bytes(DType::Q4_K, nb));
}
inline Q4KHeader* row_headers(void* row, size_t nb) {
  return reinterpret_cast<Q4KHeader*>(static_cast<char*>(row) + quants_bytes(DType::Q4_K, nb));
}

// The fp16 scales of a row of NB blocks of TYPE (Q8_0 or Q4_0) starting at ROW.
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
