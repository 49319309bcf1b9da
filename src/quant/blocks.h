// The block formats weights are quantized to, and the one activations are quantized to on the fly
// for the products. A row of a quantized matrix is cols / kBlock blocks back to back.
#pragma once

#include <cstdint>

namespace loom::quant {

inline constexpr int kBlock = 32;  // weights per block, along a row (in_features)

// Q8_0: weight i is d * q[i], d = max|x| / 127 rounded to fp16.
struct BlockQ8_0 {
  uint16_t d;  // fp16 bits
  int8_t q[kBlock];
};

// Q4_0: weight i is d * (nibble i - 8). Byte j holds weight j in its low nibble and weight j + 16
// in its high nibble, so one shift and one mask give the first and the second half of the block.
// d is the weight of largest magnitude over -8 (fp16): that weight is stored as nibble 0, exactly.
struct BlockQ4_0 {
  uint16_t d;  // fp16 bits
  uint8_t q[kBlock / 2];
};

// Activations of a product with quantized weights: value i is d * q[i], d = max|x| / 127 kept
// in fp32, |q| <= 127 (the sign trick of the AVX2 products needs -128 absent).
struct ActBlock {
  float d;
  int8_t q[kBlock];
};

static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18 && sizeof(ActBlock) == 36);

}  // namespace loom::quant
