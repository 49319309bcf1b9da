// ggml's quantized blocks, field for field as ggml-common.h lays them out, for reading the weights
// of GGUF files as they are stored (loom's own layouts, in quant/blocks.h, order the bytes of a
// row differently). A block holds the weights of a run of a row: 32 of them for the _0/_1 types,
// 256 (a super-block) for the _K ones. fp16 fields are the IEEE half's bits; every struct is
// packed by its field order alone (the static_asserts in io/gguf.cpp hold them to ggml's sizes).
#pragma once

#include <cstdint>

namespace loom::quant::ggml {

inline constexpr int QK = 32;     // weights per block of the _0 and _1 types
inline constexpr int QK_K = 256;  // weights per super-block of the _K types
inline constexpr int K_SCALE_SIZE = 12;

using fp16 = uint16_t;

// Weight i is d * (q_i - 8), q_i the low nibble of qs[i] for i < 16, the high one of qs[i - 16].
struct block_q4_0 {
  fp16 d;
  uint8_t qs[QK / 2];
};

// Weight i is d * q_i + m, nibbles as block_q4_0's.
struct block_q4_1 {
  fp16 d, m;
  uint8_t qs[QK / 2];
};

// Weight i is d * (q_i - 16): the nibbles of block_q4_0 with bit 4 of q_i in bit i of qh
// (little-endian).
struct block_q5_0 {
  fp16 d;
  uint8_t qh[4];
  uint8_t qs[QK / 2];
};

// Weight i is d * q_i + m, bits as block_q5_0's.
struct block_q5_1 {
  fp16 d, m;
  uint8_t qh[4];
  uint8_t qs[QK / 2];
};

// Weight i is d * qs[i].
struct block_q8_0 {
  fp16 d;
  int8_t qs[QK];
};

// block_q8_0 with s = d * sum(qs), for activations.
struct block_q8_1 {
  fp16 d, s;
  int8_t qs[QK];
};

// 16 blocks of 16: 4-bit scales and mins in scales, 2-bit quants.
struct block_q2_K {
  uint8_t scales[QK_K / 16];
  uint8_t qs[QK_K / 4];
  fp16 d, dmin;
};

// 16 blocks of 16: 6-bit scales, 2 low bits of each quant in qs, the third in hmask.
struct block_q3_K {
  uint8_t hmask[QK_K / 8];
  uint8_t qs[QK_K / 4];
  uint8_t scales[12];
  fp16 d;
};

// The _K types' 6-bit scale SC and minimum M of sub-block J (0..7), packed in 12 bytes Q: for
// J < 4 the low 6 bits of bytes J and J + 4; for J >= 4 the two nibbles of byte J + 4 below the
// top 2 bits of bytes J - 4 and J.
inline void scale_min_k(const uint8_t* q, int j, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 15) | (q[j - 4] >> 6) << 4;
    m = (q[j + 4] >> 4) | (q[j] >> 6) << 4;
  }
}

// Packs the eight SC[j] and M[j] (each < 64) into Q as scale_min_k reads them.
inline void pack_scale_min_k(const int* sc, const int* m, uint8_t* q) {
  for (int j = 0; j < 4; ++j) {
    q[j] = static_cast<uint8_t>(sc[j] | (sc[j + 4] >> 4) << 6);
    q[j + 4] = static_cast<uint8_t>(m[j] | (m[j + 4] >> 4) << 6);
    q[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
  }
}

// 8 blocks of 32: weight is d * sc_j * q - dmin * m_j, with 6-bit sc_j and m_j packed in scales.
struct block_q4_K {
  fp16 d, dmin;
  uint8_t scales[K_SCALE_SIZE];
  uint8_t qs[QK_K / 2];
};

// block_q4_K with a fifth bit of each quant in qh.
struct block_q5_K {
  fp16 d, dmin;
  uint8_t scales[K_SCALE_SIZE];
  uint8_t qh[QK_K / 8];
  uint8_t qs[QK_K / 2];
};

// 16 blocks of 16: weight is d * scales_j * (q - 32), q's 4 low bits in ql and 2 high in qh.
struct block_q6_K {
  uint8_t ql[QK_K / 2];
  uint8_t qh[QK_K / 4];
  int8_t scales[QK_K / 16];
  fp16 d;
};

// The activations' side of the _K products: an fp32 scale and the sums of each 16 quants.
struct block_q8_K {
  float d;
  int8_t qs[QK_K];
  int16_t bsums[QK_K / 16];
};

}  // namespace loom::quant::ggml
