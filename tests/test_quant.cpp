// The block formats and the products with quantized weights: the reference (de)quantizers on
// hand-computed blocks and against their error bounds, every kernel set against a plain double
// loop over the dequantized operands, and the contract that gemv, every instruction set and
// every thread count give the same bits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "ops/matmul.h"
#include "quant/blocks.h"
#include "quant/dtype_traits.h"
#include "quant/ggml_blocks.h"
#include "quant/ggml_dequant.h"
#include "quant/quantize.h"
#include "simd/cpu.h"
#include "simd/half.h"
#include "simd/kernels.h"
#include "simd/quant_kernels.h"
#include "support/float_checks.h"

namespace {

using loom::DType;
using loom::quant::ActBlocks;
using loom::quant::ActSpace;
using loom::quant::kBlock;
using loom::simd::Isa;
using loom::simd::QuantKernels;
using loom::test::bits_of;
using loom::test::Failures;

constexpr uint16_t kF16One = 0x3c00, kF16Half = 0x3800, kF16MinusTwo = 0xc000;
constexpr uint16_t kF16MinusHalf = 0xb800, kF16NaN = 0x7e00;

// Scale B of a row of NB blocks whose quants take QUANT_BYTES (the layout of blocks.h, written
// out here rather than asked of the code under test).
uint16_t scale_at(const uint8_t* row, size_t quant_bytes, int b) {
  uint16_t d;
  std::memcpy(&d, row + quant_bytes + 2 * b, 2);
  return d;
}
void set_scale(uint8_t* row, size_t quant_bytes, int b, uint16_t d) {
  std::memcpy(row + quant_bytes + 2 * b, &d, 2);
}
size_t q8_quant_bytes(int nb) {
  return 32 * static_cast<size_t>(nb);
}
size_t q4_quant_bytes(int nb) {
  return 32 * static_cast<size_t>((nb + 1) / 2);
}
size_t quant_bytes(DType type, int nb) {
  return type == DType::Q8_0 ? q8_quant_bytes(nb) : q4_quant_bytes(nb);  // Q4_K: Q4_0's pairs
}

// Q4_K: super-block S's 16-byte header after the quants (6 bytes of scales, 6 of minimums, fp16
// d and dmin), and its 6-bit field J of the array at OFFSET (0: scales, 6: minimums): bits
// 6 (j % 4) on of the little-endian 24 bits at byte 3 (j / 4).
uint8_t* q4k_header(uint8_t* row, int nb, int s) {
  return row + q4_quant_bytes(nb) + 16 * static_cast<size_t>(s);
}
uint32_t q4k_group(const uint8_t* g) {
  return g[0] | uint32_t{g[1]} << 8 | uint32_t{g[2]} << 16;
}
int q4k_field(const uint8_t* header, int offset, int j) {
  return static_cast<int>(q4k_group(header + offset + 3 * (j / 4)) >> (6 * (j % 4)) & 63);
}
void set_q4k_field(uint8_t* header, int offset, int j, int v) {
  uint8_t* g = header + offset + 3 * (j / 4);
  uint32_t w = q4k_group(g) & ~(uint32_t{63} << (6 * (j % 4)));
  w |= static_cast<uint32_t>(v) << (6 * (j % 4));
  for (int i = 0; i < 3; ++i) g[i] = static_cast<uint8_t>(w >> (8 * i));
}
uint16_t q4k_f16(const uint8_t* header, int at) {  // at 12: d, 14: dmin
  uint16_t v;
  std::memcpy(&v, header + at, 2);
  return v;
}

// Activations of NB blocks in their own arrays (exact sizes: ASan sees reads past them).
struct Acts {
  explicit Acts(int nb) : q(static_cast<size_t>(nb) * kBlock), d(nb), s8(nb) {}
  std::vector<int8_t> q;
  std::vector<float> d;
  std::vector<int32_t> s8;
  ActBlocks blocks() { return {q.data(), d.data(), s8.data()}; }
};

// ---------------------------------------------------------------------------------------------
// Sizes and names

TEST(QuantFormat, SizesAndNames) {
  EXPECT_EQ(loom::row_bytes(DType::Q8_0, 64), 68u);  // 8.5 bits a weight
  EXPECT_EQ(loom::row_bytes(DType::Q8_0, 96), 102u);
  EXPECT_EQ(loom::row_bytes(DType::Q4_0, 4096), 2304u);  // 4.5 bits a weight
  EXPECT_EQ(loom::row_bytes(DType::Q4_0, 64), 36u);
  EXPECT_EQ(loom::row_bytes(DType::Q4_0, 96), 70u);  // an odd last block takes a whole pair
  EXPECT_EQ(loom::row_bytes(DType::Q4_0, 32), 34u);
  EXPECT_EQ(loom::row_bytes(DType::Q4_K, 256), 144u);    // 4.5 bits a weight
  EXPECT_EQ(loom::row_bytes(DType::Q4_K, 4096), 2304u);  // as Q4_0's
  EXPECT_EQ(loom::row_bytes(DType::Q4_K, 64), 48u);      // a short super-block: a whole header
  EXPECT_EQ(loom::row_bytes(DType::Q4_K, 288), 192u);    // 9 blocks: 5 pairs, 2 headers
  EXPECT_EQ(loom::dtype_block(DType::Q4_K), 32);
  EXPECT_TRUE(loom::is_quantized(DType::Q4_K));
  EXPECT_EQ(std::string(loom::dtype_name(DType::Q4_K)), "q4_k");
  EXPECT_EQ(sizeof(ActSpace), 40u);  // 32 q, d, s8
  EXPECT_EQ(loom::row_bytes(DType::BF16, 172), 344u);
  EXPECT_EQ(loom::row_bytes(DType::F32, 3), 12u);
  EXPECT_EQ(loom::dtype_block(DType::Q4_0), 32);
  EXPECT_EQ(loom::dtype_block(DType::F16), 1);
  EXPECT_EQ(loom::dtype_size(DType::Q8_0), 0u);
  EXPECT_TRUE(loom::is_quantized(DType::Q8_0));
  EXPECT_FALSE(loom::is_quantized(DType::BF16));
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_K}) {
    EXPECT_EQ(loom::dtype_from_name(loom::dtype_name(t)), t);
  }
  EXPECT_EQ(loom::dtype_from_name("Q8_0"), std::nullopt);
  EXPECT_EQ(loom::dtype_from_name("q4_1"), std::nullopt);
}

// The one table (quant/dtype_traits.h): ggml's numbers and block sizes, the layouts, and a kernel
// slot asked of a type without one is an error, not slot 0's kernel.
TEST(QuantFormat, TraitsTable) {
  const DType all[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q8_0, DType::Q4_0,
                       DType::Q4_K, DType::Q5_0, DType::Q5_1, DType::Q5_K, DType::Q6_K};
  ASSERT_EQ(std::size(all), std::size(loom::quant::kDTypes));
  for (DType t : all) {
    SCOPED_TRACE(loom::dtype_name(t));
    EXPECT_EQ(loom::dtype_from_name(loom::dtype_name(t)), t);
    const loom::quant::DTypeTraits& tr = loom::quant::traits(t);
    EXPECT_EQ(loom::quant::traits_of_ggml(tr.ggml), &tr);
    // A row of one ggml block (or 256 weights) costs ggml's bytes in loom's layout too.
    const size_t cols = static_cast<size_t>(std::max(tr.ggml_block, 256));
    EXPECT_EQ(loom::row_bytes(t, cols), cols / tr.ggml_block * tr.ggml_bytes);
    if (tr.layout == loom::quant::Layout::LoomRows) {
      EXPECT_NO_THROW(loom::simd::quant_slot(t));
      EXPECT_THROW(loom::simd::ggml_slot(t), std::logic_error);
    } else if (tr.layout == loom::quant::Layout::GgmlBlocks) {
      EXPECT_NO_THROW(loom::simd::ggml_slot(t));
      EXPECT_THROW(loom::simd::quant_slot(t), std::logic_error);
      EXPECT_TRUE(loom::is_ggml_only(t));
    } else {
      EXPECT_THROW(loom::simd::quant_slot(t), std::logic_error);
      EXPECT_THROW(loom::simd::ggml_slot(t), std::logic_error);
      EXPECT_FALSE(loom::is_quantized(t));
    }
  }
  // ggml's numbers (ggml.h), and ggml types loom does not hold.
  EXPECT_EQ(loom::quant::traits(DType::Q4_K).ggml, 12u);
  EXPECT_EQ(loom::quant::traits(DType::BF16).ggml, 30u);
  EXPECT_EQ(loom::quant::traits_of_ggml(3), nullptr);   // Q4_1
  EXPECT_EQ(loom::quant::traits_of_ggml(11), nullptr);  // Q3_K
  EXPECT_EQ(loom::row_bytes(DType::Q6_K, 512), 420u);
  EXPECT_EQ(loom::row_bytes(DType::Q5_1, 64), 48u);
  EXPECT_EQ(loom::dtype_block(DType::Q5_K), 256);
}

// ---------------------------------------------------------------------------------------------
// Hand-computed blocks

TEST(QuantFormat, Q8_0KnownBlocks) {
  // Block 0: max|x| = 127, so d = 1 exactly; q = x rounded half away from zero.
  // Block 1: max|x| = 63.5, d = 0.5; q = 2x rounded. Block 2: all zero, d = 0.
  float x[3 * kBlock] = {};
  const float b0[] = {127, -127, 0.5f, -0.5f, 1.5f, 2.5f, -63.49f, 100.2f};
  const float b1[] = {63.5f, 0.25f, -0.74f, 10, -63.5f};
  std::memcpy(x, b0, sizeof b0);
  std::memcpy(x + kBlock, b1, sizeof b1);
  uint8_t q[3 * 34];
  std::memset(q, 0xab, sizeof q);
  loom::quant::quantize_row_q8_0(x, q, 3 * kBlock);

  // All quants first (block b at 32 b), then the three scales, little-endian fp16.
  const int8_t want0[] = {127, -127, 1, -1, 2, 3, -63, 100};
  const int8_t want1[] = {127, 1, -1, 20, -127};
  for (int i = 0; i < kBlock; ++i) {
    EXPECT_EQ(static_cast<int8_t>(q[i]), i < 8 ? want0[i] : 0) << i;
    EXPECT_EQ(static_cast<int8_t>(q[32 + i]), i < 5 ? want1[i] : 0) << i;
    EXPECT_EQ(q[64 + i], 0) << i;
  }
  const uint8_t want_scales[] = {0x00, 0x3c, 0x00, 0x38, 0x00, 0x00};  // 1, 0.5, 0
  for (int i = 0; i < 6; ++i) EXPECT_EQ(q[96 + i], want_scales[i]) << i;

  float back[3 * kBlock];
  loom::quant::dequantize_row_q8_0(q, back, 3 * kBlock);
  EXPECT_EQ(back[2], 1.0f);
  EXPECT_EQ(back[6], -63.0f);
  EXPECT_EQ(back[kBlock + 2], -0.5f);
  EXPECT_EQ(back[kBlock + 3], 10.0f);
  EXPECT_EQ(back[2 * kBlock + 5], 0.0f);
}

TEST(QuantFormat, Q4_0KnownBlocks) {
  // Block 0: the largest magnitude is -8, so d = -8 / -8 = 1 and q = round(x) + 8, clamped.
  float x[3 * kBlock] = {};
  x[0] = -8, x[1] = 7, x[2] = 7.6f, x[3] = 3.5f, x[16] = -3.5f, x[17] = 0.49f, x[31] = 2;
  // Block 1: the largest magnitude is +16, so d = 16 / -8 = -2: 16 is stored as nibble 0,
  // -14 as 15, -16 is past the range (clamped to 15), 3 -> round(-1.5) = -2 -> 6,
  // 1 -> round(-0.5) = -1 -> 7.
  float* y = x + kBlock;
  y[5] = 16, y[6] = -14, y[7] = -16, y[8] = 3, y[20] = 1;
  // Block 2, the odd last one: the largest magnitude is +4, so d = -0.5: 4 -> 0, -2 -> 12.
  float* z = x + 2 * kBlock;
  z[0] = 4, z[9] = -2;
  uint8_t q[2 * 32 + 3 * 2];
  std::memset(q, 0xab, sizeof q);
  loom::quant::quantize_row_q4_0(x, q, 3 * kBlock);

  // Pair 0, byte j: weight j of block 0 in the low nibble, weight j of block 1 in the high one;
  // zeros are nibble 8.
  uint8_t want0[32];
  std::memset(want0, 0x88, sizeof want0);
  want0[0] = 0x80;   // -8 -> 0 | 0 -> 8
  want0[1] = 0x8f;   // 7 -> 15
  want0[2] = 0x8f;   // 7.6 -> 16, clamped to 15
  want0[3] = 0x8c;   // 3.5 -> 12
  want0[5] = 0x08;   // block 1: 16 -> 0
  want0[6] = 0xf8;   // -14 -> 15
  want0[7] = 0xf8;   // -16 -> 16, clamped to 15
  want0[8] = 0x68;   // 3 -> 6
  want0[16] = 0x84;  // -3.5 -> 4 (half away from zero: -4 + 8)
  want0[17] = 0x88;  // 0.49 -> 8
  want0[20] = 0x78;  // block 1: 1 -> 7
  want0[31] = 0x8a;  // 2 -> 10
  for (int j = 0; j < 32; ++j) EXPECT_EQ(q[j], want0[j]) << j;
  // Pair 1: block 2 in the low nibbles, zero high nibbles.
  uint8_t want1[32];
  std::memset(want1, 0x08, sizeof want1);
  want1[0] = 0x00, want1[9] = 0x0c;
  for (int j = 0; j < 32; ++j) EXPECT_EQ(q[32 + j], want1[j]) << j;
  // The scales, little-endian fp16: 1, -2, -0.5.
  const uint8_t want_scales[] = {0x00, 0x3c, 0x00, 0xc0, 0x00, 0xb8};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(q[64 + i], want_scales[i]) << i;
  EXPECT_EQ(scale_at(q, 64, 2), kF16MinusHalf);

  float back[3 * kBlock];
  loom::quant::dequantize_row_q4_0(q, back, 3 * kBlock);
  EXPECT_EQ(back[0], -8.0f);
  EXPECT_EQ(back[2], 7.0f);
  EXPECT_EQ(back[16], -4.0f);
  EXPECT_EQ(back[kBlock + 5], 16.0f);
  EXPECT_EQ(back[kBlock + 7], -14.0f);
  EXPECT_EQ(back[kBlock + 8], 4.0f);
  EXPECT_EQ(back[kBlock + 20], 2.0f);
  EXPECT_EQ(back[kBlock + 9], 0.0f);
  EXPECT_EQ(back[2 * kBlock], 4.0f);
  EXPECT_EQ(back[2 * kBlock + 9], -2.0f);
  EXPECT_EQ(back[2 * kBlock + 31], 0.0f);
}

// ---------------------------------------------------------------------------------------------
// Error bounds on random blocks

// Blocks of many kinds: uniform, one outlier, tiny values, a single sign, all equal.
std::vector<float> random_blocks(int n_blocks, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_int_distribution<int> kind(0, 4), e(-6, 8), pos(0, kBlock - 1);
  std::vector<float> x(static_cast<size_t>(n_blocks) * kBlock);
  for (int b = 0; b < n_blocks; ++b) {
    float* v = x.data() + b * kBlock;
    const float scale = std::ldexp(1.0f, e(rng));
    const int k = kind(rng);
    for (int i = 0; i < kBlock; ++i) v[i] = u(rng) * scale;
    if (k == 1) v[pos(rng)] = 20 * scale * (u(rng) < 0 ? -1 : 1);
    if (k == 2) {
      for (int i = 0; i < kBlock; ++i) v[i] = std::fabs(v[i]);
    }
    if (k == 3) {
      for (int i = 0; i < kBlock; ++i) v[i] = -0.75f * scale;
    }
  }
  return x;
}

// The division rounds x / d once; a value a hair under a half can round up to it.
constexpr double kSlack = 1 + 1e-6;

TEST(QuantFormat, Q8_0RoundTripWithinHalfAStep) {
  std::mt19937 rng(5);
  const int nb = 4000;
  const std::vector<float> x = random_blocks(nb, rng);
  std::vector<uint8_t> q(loom::row_bytes(DType::Q8_0, nb * kBlock));
  std::vector<float> back(x.size());
  loom::quant::quantize_row_q8_0(x.data(), q.data(), nb * kBlock);
  loom::quant::dequantize_row_q8_0(q.data(), back.data(), nb * kBlock);
  Failures f;
  for (int b = 0; b < nb; ++b) {
    const double d = loom::simd::f16_to_f32(scale_at(q.data(), q8_quant_bytes(nb), b));
    double amax = 0;
    for (int i = 0; i < kBlock; ++i) amax = std::max(amax, std::fabs(double{x[b * kBlock + i]}));
    // d is max|x| / 127 to fp16 precision.
    if (!(std::fabs(d - amax / 127) <= amax / 127 * 0x1p-11) && f.add()) {
      ADD_FAILURE() << "block " << b << ": d " << d << " for max|x| " << amax;
    }
    for (int i = 0; i < kBlock; ++i) {
      const size_t at = static_cast<size_t>(b) * kBlock + i;
      if (static_cast<int8_t>(q[at]) == -128 && f.add()) ADD_FAILURE() << "block " << b << ": -128";
      const double err = std::fabs(double{x[at]} - back[at]);
      if (!(err <= d / 2 * kSlack) && f.add()) {
        ADD_FAILURE() << "block " << b << " i " << i << ": " << x[at] << " -> " << back[at]
                      << ", d " << d;
      }
    }
  }
  EXPECT_EQ(f.count(), 0);
}

TEST(QuantFormat, Q4_0RoundTripWithinHalfAStepInsideTheRange) {
  std::mt19937 rng(6);
  const int nb = 4001;  // odd: the last block alone in its pair
  const std::vector<float> x = random_blocks(nb, rng);
  std::vector<uint8_t> q(loom::row_bytes(DType::Q4_0, nb * kBlock));
  std::vector<float> back(x.size());
  loom::quant::quantize_row_q4_0(x.data(), q.data(), nb * kBlock);
  loom::quant::dequantize_row_q4_0(q.data(), back.data(), nb * kBlock);
  Failures f;
  int clamped = 0;
  for (int b = 0; b < nb; ++b) {
    const double d = loom::simd::f16_to_f32(scale_at(q.data(), q4_quant_bytes(nb), b));
    for (int i = 0; i < kBlock; ++i) {
      const size_t at = static_cast<size_t>(b) * kBlock + i;
      const double steps = x[at] / d;  // in units of d, from the block's zero
      const double err = std::fabs(double{x[at]} - back[at]);
      if (steps > 7.5) {
        // Past the top of the range (only the side opposite the largest magnitude gets there):
        // stored as the top nibble.
        ++clamped;
        if (back[at] != static_cast<float>(7 * d) && f.add()) {
          ADD_FAILURE() << "block " << b << " i " << i << ": " << x[at] << " -> " << back[at];
        }
      } else if (!(err <= std::fabs(d) / 2 * kSlack) && f.add()) {
        ADD_FAILURE() << "block " << b << " i " << i << ": " << x[at] << " -> " << back[at]
                      << ", d " << d;
      }
    }
  }
  EXPECT_EQ(f.count(), 0);
  EXPECT_GT(clamped, 0);  // the sweep did reach the clamp
}

TEST(QuantFormat, Q4_KKnownBlocks) {
  // Three blocks, a short super-block, each an exact grid: x = step * (i % 16) - offset.
  // Block 0: step 63/128, offset 63/32; block 1: step 1/8, offset 1/2; block 2: step 5/128,
  // offset 0 (a block of one sign is not offset away from zero). Each block's fit is its grid;
  // the super-block's d = (63/128) / 63 = 1/128 and dmin = (63/32) / 63 = 1/32, both exact in
  // fp16, make the 6-bit scales 63, 16, 5 and minimums 63, 16, 0, and the weights come back
  // exactly.
  const float step[3] = {63.0f / 128, 1.0f / 8, 5.0f / 128}, offset[3] = {63.0f / 32, 0.5f, 0};
  float x[3 * kBlock];
  for (int b = 0; b < 3; ++b) {
    for (int i = 0; i < kBlock; ++i) x[b * kBlock + i] = step[b] * (i % 16) - offset[b];
  }
  alignas(16) uint8_t q[2 * 32 + 16];  // the header holds fp16 fields
  ASSERT_EQ(loom::row_bytes(DType::Q4_K, 3 * kBlock), sizeof q);
  std::memset(q, 0xab, sizeof q);
  loom::quant::quantize_row_q4_k(x, q, 3 * kBlock);
  // Pair 0: blocks 0 (low nibbles) and 1 (high); pair 1: block 2, zero high nibbles.
  for (int i = 0; i < kBlock; ++i) {
    EXPECT_EQ(q[i], (i % 16) * 0x11) << i;
    EXPECT_EQ(q[kBlock + i], i % 16) << i;
  }
  const uint8_t* h = q + 64;
  const int want_sc[8] = {63, 16, 5}, want_m[8] = {63, 16, 0};
  for (int j = 0; j < 8; ++j) {
    EXPECT_EQ(q4k_field(h, 0, j), want_sc[j]) << j;
    EXPECT_EQ(q4k_field(h, 6, j), want_m[j]) << j;
  }
  // The packing written out: scales 63 | 16 << 6 | 5 << 12 little-endian, then zeros.
  const uint8_t want_scales[6] = {0x3f, 0x54, 0x00, 0, 0, 0};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(h[i], want_scales[i]) << i;
  EXPECT_EQ(q4k_f16(h, 12), 0x2000);  // 1/128
  EXPECT_EQ(q4k_f16(h, 14), 0x2800);  // 1/32
  float back[3 * kBlock];
  loom::quant::dequantize_row_q4_k(q, back, 3 * kBlock);
  for (int i = 0; i < 3 * kBlock; ++i) EXPECT_EQ(back[i], x[i]) << i;

  // All zero: d = dmin = 0, every weight 0.
  std::memset(x, 0, sizeof x);
  loom::quant::quantize_row_q4_k(x, q, 3 * kBlock);
  loom::quant::dequantize_row_q4_k(q, back, 3 * kBlock);
  for (int i = 0; i < 3 * kBlock; ++i) EXPECT_EQ(back[i], 0.0f) << i;
}

// Gaussian rows, as trained weights roughly are: the mean squared error of q4_k against q4_0's on
// the same rows (k-quants' point: a minimum per block uses the 16 levels on the block's actual
// range, and the least-squares fit beats max-magnitude scaling).
std::vector<float> gaussian_rows(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> g(0.0f, 0.02f);
  std::vector<float> x(n);
  for (float& v : x) v = g(rng);
  return x;
}

double mean_squared_error(DType type, const std::vector<float>& x) {
  const int n = static_cast<int>(x.size());
  std::vector<uint8_t> q(loom::row_bytes(type, n));
  std::vector<float> back(x.size());
  loom::quant::quantize_row(type, x.data(), q.data(), n);
  loom::quant::dequantize_row(type, q.data(), back.data(), n);
  double sse = 0;
  for (size_t i = 0; i < x.size(); ++i) sse += (double{x[i]} - back[i]) * (double{x[i]} - back[i]);
  return sse / static_cast<double>(x.size());
}

TEST(QuantFormat, Q4_KBeatsQ4_0OnGaussianRows) {
  std::mt19937 rng(12);
  const std::vector<float> x = gaussian_rows(64 * 256, rng);
  const double q4_0 = mean_squared_error(DType::Q4_0, x), q4_k = mean_squared_error(DType::Q4_K, x);
  std::printf("[ quant ] gaussian rows: rms error q4_0 %.4g, q4_k %.4g (sigma 0.02)\n",
              std::sqrt(q4_0), std::sqrt(q4_k));
  EXPECT_LT(q4_k, 0.8 * q4_0);
}

// The bound, per weight: the nibble is the nearest point of the block's grid step * n - offset,
// n in 0..15, as stored (6-bit sc and m against fp16 d and dmin): within half a step, unless the
// weight is past an end of the grid, where it is that end. (The search may pick a grid that
// leaves a block's extremes outside it when that lowers the block's squared error.) And a
// sanity check that the grid spans about the block's range: step <= range / 12. (The candidate
// placements use steps of range / 14 to range / 16, but each one's least-squares line may be
// steeper, most with an outlier: down to range / 13.2 in this sweep, plus half a unit of d from
// the 6-bit rounding.)
TEST(QuantFormat, Q4_KRoundTripNearestOnItsGrid) {
  std::mt19937 rng(9);
  const int nb = 8 * 500 + 3;  // a short last super-block
  const std::vector<float> x = random_blocks(nb, rng);
  std::vector<uint8_t> q(loom::row_bytes(DType::Q4_K, nb * kBlock));
  std::vector<float> back(x.size());
  loom::quant::quantize_row_q4_k(x.data(), q.data(), nb * kBlock);
  loom::quant::dequantize_row_q4_k(q.data(), back.data(), nb * kBlock);
  Failures f;
  int past_ends = 0;
  for (int b = 0; b < nb; ++b) {
    const uint8_t* h = q4k_header(q.data(), nb, b / 8);
    const double d = loom::simd::f16_to_f32(q4k_f16(h, 12));
    const double dmin = loom::simd::f16_to_f32(q4k_f16(h, 14));
    const double step = d * q4k_field(h, 0, b % 8), offset = dmin * q4k_field(h, 6, b % 8);
    double lo = 0, hi = 0;
    for (int i = 0; i < kBlock; ++i) {
      lo = std::min(lo, double{x[b * kBlock + i]});
      hi = std::max(hi, double{x[b * kBlock + i]});
    }
    if (!(step <= (hi - lo) / 12 + d / 2 + 1e-30) && f.add()) {
      ADD_FAILURE() << "block " << b << ": step " << step << " for range " << hi - lo;
    }
    for (int i = 0; i < kBlock; ++i) {
      const size_t at = static_cast<size_t>(b) * kBlock + i;
      const int nib = (q[b / 2 * kBlock + i] >> (b % 2 * 4)) & 0x0f;
      const double v = x[at], w = back[at];
      // The value read back is the grid point, rounded once to fp32.
      if (!(std::fabs(w - (step * nib - offset)) <= std::fabs(w) * 0x1p-24) && f.add()) {
        ADD_FAILURE() << "block " << b << " i " << i << ": " << w << " off its grid point";
      }
      const double slack = 1e-6 * (std::fabs(v) + offset) + 1e-30;
      if (step == 0) continue;  // a one-point grid (a constant block): nothing to choose
      if (v < -offset - step / 2 || v > 15 * step - offset + step / 2) {
        ++past_ends;
        if (nib != (v < -offset ? 0 : 15) && f.add()) {
          ADD_FAILURE() << "block " << b << " i " << i << ": " << v << " past the grid, nibble "
                        << nib;
        }
      } else if (!(std::fabs(v - w) <= step / 2 + slack) && f.add()) {
        ADD_FAILURE() << "block " << b << " i " << i << ": " << v << " -> " << w << ", step "
                      << step;
      }
    }
  }
  EXPECT_EQ(f.count(), 0);
  EXPECT_GT(past_ends, 0);  // the search did clip some extremes
  // The short super-block's missing blocks: scale and minimum 0; the odd block's high nibbles 0.
  const uint8_t* last = q4k_header(q.data(), nb, nb / 8);
  for (int j = 3; j < 8; ++j) EXPECT_EQ(q4k_field(last, 0, j) + q4k_field(last, 6, j), 0) << j;
  for (int i = 0; i < kBlock; ++i) EXPECT_EQ(q[(nb - 1) / 2 * kBlock + i] >> 4, 0) << i;
}

// Rows that are not whole blocks are not the quantizers' to take: loading keeps such matrices
// as stored (test_quant_model); asked directly, quantize_matrix says why.
TEST(QuantFormat, MatrixOfPartialBlocksIsAnError) {
  const std::vector<float> x(2 * 48, 1.0f);
  std::vector<uint8_t> out(256);
  for (DType type : {DType::Q8_0, DType::Q4_0, DType::Q4_K}) {
    try {
      loom::quant::quantize_matrix(x.data(), DType::F32, 2, 48, type, out.data(), 1);
      ADD_FAILURE() << "no error for " << loom::dtype_name(type);
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("rows of 48 weights are not whole blocks of 32"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(QuantFormat, MatrixFromEveryDtypeAnyThreadCount) {
  std::mt19937 rng(8);
  const int rows = 37, cols = 96;
  const std::vector<float> x = random_blocks(rows * cols / kBlock, rng);
  std::vector<uint16_t> h16(x.size()), b16(x.size());
  std::vector<float> x16(x.size()), xb16(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    h16[i] = loom::simd::f32_to_f16(x[i]);
    x16[i] = loom::simd::f16_to_f32(h16[i]);
    b16[i] = loom::simd::f32_to_bf16(x[i]);
    xb16[i] = loom::simd::bf16_to_f32(b16[i]);
  }
  for (DType type : {DType::Q8_0, DType::Q4_0, DType::Q4_K}) {
    const size_t row = loom::row_bytes(type, cols);
    for (const auto& [src, src_type, values] :
         {std::tuple<const void*, DType, const std::vector<float>*>{x.data(), DType::F32, &x},
          {h16.data(), DType::F16, &x16},
          {b16.data(), DType::BF16, &xb16}}) {
      // Row by row, one thread, from the fp32 values the source holds.
      std::vector<uint8_t> want(rows * row);
      for (int r = 0; r < rows; ++r) {
        loom::quant::quantize_row(type, values->data() + r * cols, want.data() + r * row, cols);
      }
      for (int threads : {1, 2, 3, 8}) {
        std::vector<uint8_t> got(rows * row, 0xab);
        loom::quant::quantize_matrix(src, src_type, rows, cols, type, got.data(), threads);
        EXPECT_EQ(got, want) << loom::dtype_name(type) << " from " << loom::dtype_name(src_type)
                             << ", " << threads << " threads";
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Kernel sets

bool isa_runs_here(Isa isa) {
  return loom::simd::isa_supported(isa);
}

std::string param_name(Isa isa) {
  return isa == Isa::Scalar ? "Scalar" : isa == Isa::Avx2 ? "Avx2" : "Avx512";
}

class QuantActs : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!isa_runs_here(GetParam()))
      GTEST_SKIP() << "CPU lacks " << loom::simd::isa_name(GetParam());
  }
  const QuantKernels& kern() const { return loom::simd::quant_kernels(GetParam()); }
};

// max|x| = 127 makes the scale 1: q is x rounded to nearest, ties to even.
TEST_P(QuantActs, KnownBlock) {
  // Block 1: max|x| = 63.5, so q = 2x rounded.
  float x[2 * kBlock] = {127, 2.5f, 3.5f, -2.5f, 0.5f, -0.5f, 1.5f, -126.6f, 0.49f};
  x[kBlock] = -63.5f, x[kBlock + 1] = 0.25f, x[kBlock + 31] = 0.75f;
  Acts a(2);
  kern().quantize_acts(x, a.blocks(), 2 * kBlock);
  EXPECT_EQ(a.d[0], 1.0f);
  EXPECT_EQ(a.d[1], 0.5f);
  const int8_t want[] = {127, 2, 4, -2, 0, 0, 2, -127, 0};
  for (int i = 0; i < kBlock; ++i) EXPECT_EQ(a.q[i], i < 9 ? want[i] : 0) << i;
  for (int i = 0; i < kBlock; ++i) {
    EXPECT_EQ(a.q[kBlock + i], i == 0 ? -127 : i == 1 ? 0 : i == 31 ? 2 : 0) << i;
  }
  EXPECT_EQ(a.s8[0], 8 * (127 + 2 + 4 - 2 + 2 - 127));
  EXPECT_EQ(a.s8[1], 8 * (-127 + 2));

  float zero[kBlock] = {};
  kern().quantize_acts(zero, a.blocks(), kBlock);
  EXPECT_EQ(a.d[0], 0.0f);
  EXPECT_EQ(a.s8[0], 0);
  for (int i = 0; i < kBlock; ++i) EXPECT_EQ(a.q[i], 0);

  x[3] = NAN;  // reaches the outputs through the scale
  kern().quantize_acts(x, a.blocks(), kBlock);
  EXPECT_TRUE(std::isnan(a.d[0]));
}

// Every set agrees with the scalar one bit for bit, and stays within half a step of x.
TEST_P(QuantActs, MatchScalarAndBound) {
  std::mt19937 rng(11);
  const int nb = 3000;
  const std::vector<float> x = random_blocks(nb, rng);
  Acts got(nb), want(nb);
  kern().quantize_acts(x.data(), got.blocks(), nb * kBlock);
  loom::simd::quant_scalar_kernels().quantize_acts(x.data(), want.blocks(), nb * kBlock);
  Failures f;
  for (int b = 0; b < nb; ++b) {
    const int8_t* q = got.q.data() + b * kBlock;
    if ((bits_of(got.d[b]) != bits_of(want.d[b]) ||
         std::memcmp(q, want.q.data() + b * kBlock, kBlock) != 0 || got.s8[b] != want.s8[b]) &&
        f.add()) {
      ADD_FAILURE() << "block " << b << " differs from the scalar set";
    }
    int32_t sum = 0;
    for (int i = 0; i < kBlock; ++i) {
      sum += q[i];
      const double v = x[b * kBlock + i], back = double{got.d[b]} * q[i];
      if ((q[i] == -128 || !(std::fabs(v - back) <= got.d[b] / 2 * kSlack)) && f.add()) {
        ADD_FAILURE() << "block " << b << " i " << i << ": " << v << " -> " << back;
      }
    }
    if (got.s8[b] != 8 * sum && f.add()) ADD_FAILURE() << "block " << b << ": s8 " << got.s8[b];
  }
  EXPECT_EQ(f.count(), 0);
}

INSTANTIATE_TEST_SUITE_P(Isas, QuantActs, ::testing::Values(Isa::Scalar, Isa::Avx2, Isa::Avx512),
                         [](const auto& info) { return param_name(info.param); });

// A quantized matrix of ROWS rows of LDW blocks, of which the first NB hold values, in a buffer
// that ends right after the last row's scales (ASan flags reads past it); the padding blocks
// have a NaN scale, so a kernel that reads them shows NaN.
struct QMatrix {
  DType type;
  int rows, nb;
  size_t ldw;
  std::vector<uint8_t> bytes;
  std::vector<float> values;  // [rows, nb * kBlock], dequantized by the reference code

  size_t row_bytes() const { return loom::row_bytes(type, ldw * kBlock); }
  const uint8_t* row(int r) const { return bytes.data() + r * row_bytes(); }
};

QMatrix make_qmatrix(DType type, int rows, int nb, size_t ldw, std::mt19937& rng) {
  QMatrix m{type, rows, nb, ldw, {}, {}};
  const size_t k = static_cast<size_t>(nb) * kBlock, kw = ldw * kBlock;
  m.bytes.resize(rows * m.row_bytes());
  m.values.resize(rows * k);
  std::vector<float> back(kw);
  for (int r = 0; r < rows; ++r) {
    const std::vector<float> x = random_blocks(static_cast<int>(ldw), rng);
    uint8_t* row = m.bytes.data() + r * m.row_bytes();
    loom::quant::quantize_row(type, x.data(), row, static_cast<int>(kw));
    for (int b = nb; b < static_cast<int>(ldw); ++b) {
      if (type != DType::Q4_K) {
        set_scale(row, quant_bytes(type, static_cast<int>(ldw)), b, kF16NaN);
      } else if (b / 8 > (nb - 1) / 8) {  // a super-block past NB: a NaN d
        const uint16_t nan = kF16NaN;
        std::memcpy(q4k_header(row, static_cast<int>(ldw), b / 8) + 12, &nan, 2);
      } else {  // a block past NB in NB's last super-block: the largest scale, minimum, nibbles
        uint8_t* h = q4k_header(row, static_cast<int>(ldw), b / 8);
        set_q4k_field(h, 0, b % 8, 63);
        set_q4k_field(h, 6, b % 8, 63);
        for (int i = 0; i < kBlock; ++i) row[b / 2 * kBlock + i] |= b % 2 ? 0xf0 : 0x0f;
      }
    }
    loom::quant::dequantize_row(type, row, back.data(), static_cast<int>(kw));
    std::copy_n(back.begin(), k, m.values.begin() + r * k);
  }
  return m;
}

class QuantKernelSet : public ::testing::TestWithParam<std::tuple<Isa, DType>> {
 protected:
  void SetUp() override {
    if (!isa_runs_here(isa())) GTEST_SKIP() << "CPU lacks " << loom::simd::isa_name(isa());
  }
  Isa isa() const { return std::get<0>(GetParam()); }
  DType type() const { return std::get<1>(GetParam()); }
  int slot() const { return loom::simd::quant_slot(type()); }
  const QuantKernels& kern() const { return loom::simd::quant_kernels(isa()); }
};

// k = 32 .. 1504: around gemv's groups of 8 blocks (AVX2) and 16 (AVX-512 VNNI, whose tail of at
// most 8 blocks adds only its lower half), Q4_0's pairs of blocks.
constexpr int kNbs[] = {1, 2, 3, 7, 8, 9, 11, 15, 16, 17, 23, 24, 25, 31, 32, 33, 47};
// Around matmul's blocks of 4 rows and gemv_rows' 16; 37 rows of 23 blocks or more take gemv's
// prefetch (8 KiB ahead) to the end of the matrix.
constexpr int kRowCounts[] = {1, 2, 3, 4, 5, 11, 12, 13, 16, 37};
constexpr int kMaxTokens = 9;

// For each shape: gemv of every token against the double reference over the dequantized weights
// and activations, and equal bit for bit to the scalar set's.
TEST_P(QuantKernelSet, GemvMatchesReferenceAndScalarSet) {
  const QuantKernels& k = kern();
  const QuantKernels& scalar = loom::simd::quant_scalar_kernels();
  std::mt19937 rng(42 + slot());
  Failures f;
  for (const int nb : kNbs) {
    for (const int rows : kRowCounts) {
      SCOPED_TRACE(testing::Message() << "nb=" << nb << " rows=" << rows);
      const int K = nb * kBlock;
      const size_t ldw = nb + (nb + rows) % 3;
      const QMatrix w = make_qmatrix(type(), rows, nb, ldw, rng);

      // Activations quantized by this set (equal to the scalar set's: tested above), each token
      // in arrays of its own, of exactly NB blocks.
      std::vector<Acts> x;
      for (int t = 0; t < kMaxTokens; ++t) {
        const std::vector<float> v = random_blocks(nb, rng);
        x.emplace_back(nb);
        k.quantize_acts(v.data(), x.back().blocks(), K);
      }

      std::vector<float> gemv(static_cast<size_t>(kMaxTokens) * rows);
      for (int t = 0; t < kMaxTokens; ++t) {
        std::vector<float> out(rows), ref(rows);  // exact size: ASan sees writes past ROWS
        k.gemv[slot()](w.bytes.data(), ldw, x[t].blocks(), nb, out.data(), rows);
        scalar.gemv[slot()](w.bytes.data(), ldw, x[t].blocks(), nb, ref.data(), rows);
        std::copy(out.begin(), out.end(), gemv.begin() + t * rows);
        const Acts& xt = x[t];
        for (int r = 0; r < rows; ++r) {
          double sum = 0, mag = 0;
          for (int i = 0; i < K; ++i) {
            const double p = double{w.values[static_cast<size_t>(r) * K + i]} *
                             (double{xt.d[i / kBlock]} * xt.q[i]);
            sum += p;
            mag += std::fabs(p);
          }
          if (!(std::fabs(out[r] - sum) <= 1e-5 * mag + 1e-30) && f.add()) {
            ADD_FAILURE() << "gemv t=" << t << " r=" << r << ": " << out[r] << " vs " << sum;
          }
          if (bits_of(out[r]) != bits_of(ref[r]) && f.add()) {
            ADD_FAILURE() << "gemv t=" << t << " r=" << r << ": " << out[r] << " vs scalar "
                          << ref[r];
          }
        }
      }
      // Several tokens at once (the set's gemv_rows, where it has one): each token gemv's bits,
      // in chunks of tokens around the kernel's 8 and rows around its 16; nothing written
      // between the rows of OUT's stride.
      if (k.gemv_rows[slot()] == nullptr) continue;
      for (const int m : {2, 3, 8, kMaxTokens}) {
        std::vector<ActSpace> packed(static_cast<size_t>(m) * nb);
        for (int t = 0; t < m; ++t) {
          const ActBlocks b = loom::quant::act_blocks(packed.data() + t * nb, nb);
          std::copy(x[t].q.begin(), x[t].q.end(), b.q);
          std::copy(x[t].d.begin(), x[t].d.end(), b.d);
          std::copy(x[t].s8.begin(), x[t].s8.end(), b.s8);
        }
        const size_t ldo = rows + 3;
        std::vector<float> out(m * ldo, NAN);
        k.gemv_rows[slot()](w.bytes.data(), ldw, packed.data(), nb, m, out.data(), ldo, rows);
        for (int t = 0; t < m; ++t) {
          for (size_t r = 0; r < ldo; ++r) {
            const float got = out[t * ldo + r];
            if (r >= static_cast<size_t>(rows) ? !std::isnan(got)
                                               : bits_of(got) != bits_of(gemv[t * rows + r])) {
              if (f.add()) {
                ADD_FAILURE() << "gemv_rows m=" << m << " t=" << t << " r=" << r << ": " << got;
              }
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(f.count(), 0);
}

// The prompt path's gemm reads quantized rows by dequantizing them into its fp32 panels: the
// same bits as the fp32 gemm of the dequantized matrix, across the panel (16 rows), row-block
// (32) and k-block (1024) edges, with LDW wider than the row.
TEST_P(QuantKernelSet, PromptGemmIsTheFloatGemmOfTheDequantizedMatrix) {
  const loom::simd::Kernels& fk = loom::simd::kernels(isa());
  std::mt19937 rng(23);
  for (const auto& [rows, nb, m] : {std::tuple{1, 1, 1}, {37, 3, 7}, {70, 40, 13}}) {
    SCOPED_TRACE(testing::Message() << rows << " rows, " << nb << " blocks, " << m << " tokens");
    const int K = nb * kBlock;
    const size_t ldw = nb + 1;  // blocks between rows
    const QMatrix w = make_qmatrix(type(), rows, nb, ldw, rng);
    std::vector<float> dense(static_cast<size_t>(rows) * ldw * kBlock, NAN);
    for (int r = 0; r < rows; ++r) {
      std::copy_n(w.values.begin() + static_cast<size_t>(r) * K, K,
                  dense.begin() + static_cast<size_t>(r) * ldw * kBlock);
    }
    std::vector<float> x(static_cast<size_t>(m) * K);
    std::uniform_real_distribution<float> u(-1, 1);
    for (float& v : x) v = u(rng);
    std::vector<float> got(static_cast<size_t>(m) * rows, NAN), want(got.size(), NAN);
    fk.gemm[static_cast<int>(type())](w.bytes.data(), ldw * kBlock, x.data(), K, m, K, got.data(),
                                      rows, rows);
    fk.gemm[static_cast<int>(DType::F32)](dense.data(), ldw * kBlock, x.data(), K, m, K,
                                          want.data(), rows, rows);
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(bits_of(got[i]), bits_of(want[i])) << i;
  }
}

// A row at a time (its scales follow its quants).
TEST_P(QuantKernelSet, ToF32IsTheReferenceDequantization) {
  std::mt19937 rng(3);
  for (const int nb : {1, 5, 8, 11, 17}) {
    const int K = nb * kBlock;
    const QMatrix w = make_qmatrix(type(), 3, nb, nb, rng);
    std::vector<float> got(w.values.size());
    for (int r = 0; r < 3; ++r) kern().to_f32[slot()](w.row(r), got.data() + r * K, K);
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(bits_of(got[i]), bits_of(w.values[i])) << nb << " blocks, " << i;
    }
  }
}

// The int8 prompt gemm, in the sets that have one (AVX2, AVX-512 VNNI): every output against the
// double-precision sum over its blocks of d_w * d_x * (exact integer product), within the
// rounding of an fp32 sum of NB terms (Q4_K: 2 NB); bit for bit against the contract both sets
// share (the blocks' float(p) * (d_w * d_x) added in order with FMAs; Q4_K: then float(sum x) *
// -(dmin m d_x) each block), so prompts do not depend on the set;
// rows and tokens across the panels' (8 or 16 rows), the packed blocks' (64 rows, 16 blocks) and
// the micro-tiles' (4 or 6 tokens) edges; and nothing written between ROWS and the output
// stride.
TEST_P(QuantKernelSet, GemmMatchesBlockSums) {
  const QuantKernels& k = kern();
  if (k.gemm[slot()] == nullptr) GTEST_SKIP() << "no int8 gemm in this set (prompts: float gemm)";
  std::mt19937 rng(7 + slot());
  constexpr float kSentinel = 12345.0f;
  Failures f;
  for (const int nb : {1, 2, 3, 15, 16, 17, 33}) {
    for (const int rows : {1, 15, 16, 17, 33, 64, 65, 100}) {
      for (const int m : {1, 5, 6, 7, 13}) {
        SCOPED_TRACE(testing::Message() << "nb=" << nb << " rows=" << rows << " m=" << m);
        const int K = nb * kBlock;
        const size_t ldw = nb + (nb + rows) % 3;
        const QMatrix w = make_qmatrix(type(), rows, nb, ldw, rng);
        std::vector<ActSpace> acts(static_cast<size_t>(m) * nb);
        for (int t = 0; t < m; ++t) {
          const std::vector<float> v = random_blocks(nb, rng);
          k.quantize_acts(v.data(), loom::quant::act_blocks(acts.data() + t * nb, nb), K);
        }
        const size_t ldo = rows + 3;
        // Exactly up to the last output: ASan sees a write past it.
        std::vector<float> out((m - 1) * ldo + rows, kSentinel);
        k.gemm[slot()](w.bytes.data(), ldw, acts.data(), nb, m, out.data(), ldo, rows);
        EXPECT_EQ(loom::test::padding_writes(out, m, rows, ldo, kSentinel), 0);
        for (int t = 0; t < m; ++t) {
          const ActBlocks a = loom::quant::act_blocks(acts.data() + t * nb, nb);
          for (int r = 0; r < rows; ++r) {
            double want = 0, mag = 0;
            for (int i = 0; i < K; ++i) {
              const double term = static_cast<double>(w.values[static_cast<size_t>(r) * K + i]) *
                                  (static_cast<double>(a.d[i / kBlock]) * a.q[i]);
              want += term;
              mag += std::fabs(term);
            }
            const float got = out[t * ldo + r];
            float contract = 0.0f;
            for (int b = 0; b < nb; ++b) {
              if (type() == DType::Q4_K) {  // d * sc * n - dmin * m: two sums, two FMAs
                const loom::quant::Q4KHeader& h =
                    loom::quant::row_headers(w.row(r), ldw)[b / loom::quant::kSuper];
                const int j = b % loom::quant::kSuper;
                const float sc = loom::simd::f16_to_f32(h.d) * loom::quant::six_bits(h.scales, j);
                const float mn = loom::simd::f16_to_f32(h.dmin) * loom::quant::six_bits(h.mins, j);
                int32_t p = 0, sx = 0;
                for (int i = 0; i < kBlock; ++i) {
                  const uint8_t pair = w.row(r)[b / 2 * kBlock + i];
                  p += (b % 2 ? pair >> 4 : pair & 15) * a.q[b * kBlock + i];
                  sx += a.q[b * kBlock + i];
                }
                contract = std::fma(static_cast<float>(p), sc * a.d[b], contract);
                contract = std::fma(static_cast<float>(sx), -(mn * a.d[b]), contract);
                // Its terms are the two sums': they may be larger than the weights' products.
                int32_t abs_p = 0, abs_x = 0;
                for (int i = 0; i < kBlock; ++i) {
                  const uint8_t pair = w.row(r)[b / 2 * kBlock + i];
                  abs_p += (b % 2 ? pair >> 4 : pair & 15) * std::abs(a.q[b * kBlock + i]);
                  abs_x += std::abs(a.q[b * kBlock + i]);
                }
                mag +=
                    std::fabs(double{sc} * a.d[b]) * abs_p + std::fabs(double{mn} * a.d[b]) * abs_x;
                continue;
              }
              const float d =
                  loom::simd::f16_to_f32(loom::quant::row_scales(type(), w.row(r), ldw)[b]);
              int32_t p = 0;  // exact: the values are d * q, q an integer of at most 8 bits
              for (int i = b * kBlock; i < (b + 1) * kBlock; ++i) {
                p += static_cast<int32_t>(w.values[static_cast<size_t>(r) * K + i] / d) * a.q[i];
              }
              contract = std::fma(static_cast<float>(p), d * a.d[b], contract);
            }
            const int terms = type() == DType::Q4_K ? 2 * nb : nb;
            if (!(std::fabs(got - want) <= (terms + 2) * 6e-8 * mag + 1e-30) && f.add()) {
              ADD_FAILURE() << "token " << t << " row " << r << ": " << got << " vs " << want;
            }
            if (bits_of(got) != bits_of(contract) && f.add()) {
              ADD_FAILURE() << "token " << t << " row " << r << ": " << got << " vs contract "
                            << contract;
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(f.count(), 0);
}

// ops::matmul with a quantized matrix: for decode steps the kernel's gemv, whatever the thread
// count; for prompts the set's int8 gemm (AVX-512 VNNI) or else the float gemm of the
// dequantized matrix, whatever the thread count; and a
// clear error for scratch too small.
TEST_P(QuantKernelSet, MatmulAnyThreadsAndBatchIsGemv) {
  if (isa() != loom::simd::best_isa()) GTEST_SKIP() << "ops use the best set";
  std::mt19937 rng(17);
  const int rows = 53, nb = 5, K = nb * kBlock, m = 7;
  const QMatrix w = make_qmatrix(type(), rows, nb, nb, rng);
  const loom::ops::MatRef ref{type(), rows, K, w.bytes.data()};
  std::vector<float> x(static_cast<size_t>(m) * K);
  std::uniform_real_distribution<float> u(-1, 1);
  for (float& v : x) v = u(rng);

  std::vector<float> want(static_cast<size_t>(m) * rows);
  for (int t = 0; t < m; ++t) {
    Acts a(nb);
    kern().quantize_acts(x.data() + t * K, a.blocks(), K);
    kern().gemv[slot()](w.bytes.data(), nb, a.blocks(), nb, want.data() + t * rows, rows);
  }
  std::vector<ActSpace> scratch(loom::ops::matmul_scratch_blocks(ref, m));
  ASSERT_GE(scratch.size(), static_cast<size_t>(m * nb));
  // The prompt path: the set's int8 gemm over the quantized activations where it has one, else
  // the float kernels' gemm over the dequantized values.
  std::vector<float> want_prompt(static_cast<size_t>(m) * rows);
  if (kern().gemm[slot()] != nullptr) {
    std::vector<ActSpace> acts(static_cast<size_t>(m) * nb);
    for (int t = 0; t < m; ++t) {
      kern().quantize_acts(x.data() + t * K, loom::quant::act_blocks(acts.data() + t * nb, nb), K);
    }
    kern().gemm[slot()](w.bytes.data(), nb, acts.data(), nb, m, want_prompt.data(), rows, rows);
  } else {
    loom::simd::kernels().gemm[static_cast<int>(DType::F32)](w.values.data(), K, x.data(), K, m, K,
                                                             want_prompt.data(), rows, rows);
  }
  for (int threads : {1, 2, 3, 5}) {
    std::vector<float> y(rows, NAN);
    loom::ops::matmul(x.data(), 1, ref, y.data(), threads, loom::ops::Pass::Decode, scratch);
    for (size_t i = 0; i < y.size(); ++i) {
      ASSERT_EQ(bits_of(y[i]), bits_of(want[i])) << "decode, threads " << threads;
    }
    // A decode pass of M rows: each row the gemv's bits.
    std::vector<float> yd(static_cast<size_t>(m) * rows, NAN);
    loom::ops::matmul(x.data(), m, ref, yd.data(), threads, loom::ops::Pass::Decode, scratch);
    for (size_t i = 0; i < yd.size(); ++i) {
      ASSERT_EQ(bits_of(yd[i]), bits_of(want[i]))
          << "decode of " << m << " rows, threads " << threads;
    }
    for (int n : {1, m}) {
      std::vector<float> yp(static_cast<size_t>(n) * rows, NAN);
      loom::ops::matmul(x.data(), n, ref, yp.data(), threads, loom::ops::Pass::Prompt, scratch);
      for (size_t i = 0; i < yp.size(); ++i) {
        ASSERT_EQ(bits_of(yp[i]), bits_of(want_prompt[i])) << "prompt, threads " << threads;
      }
    }
  }
  std::vector<float> y(rows);
  EXPECT_THROW(loom::ops::matmul(x.data(), 1, ref, y.data(), 1, loom::ops::Pass::Decode,
                                 std::span(scratch).first(nb - 1)),
               std::exception);
}

// A decode group of quantized matrices and one left as stored (fp32): the activations are
// quantized once for all, and each output is what matmul gives for its matrix alone.
TEST_P(QuantKernelSet, MatmulGroupIsEachProductAlone) {
  if (isa() != loom::simd::best_isa()) GTEST_SKIP() << "ops use the best set";
  std::mt19937 rng(29);
  const int nb = 4, K = nb * kBlock;
  const QMatrix a = make_qmatrix(type(), 70, nb, nb, rng), b = make_qmatrix(type(), 9, nb, nb, rng);
  std::vector<float> f(static_cast<size_t>(13) * K), x(K);
  std::uniform_real_distribution<float> u(-1, 1);
  for (float& v : f) v = u(rng);
  for (float& v : x) v = u(rng);
  const loom::ops::MatRef refs[] = {{type(), 70, K, a.bytes.data()},
                                    {DType::F32, 13, K, f.data()},
                                    {type(), 9, K, b.bytes.data()}};
  std::vector<ActSpace> scratch(loom::ops::matmul_scratch_blocks(refs[0], 1));
  std::vector<std::vector<float>> alone;
  for (const auto& r : refs) {
    alone.emplace_back(r.rows, NAN);
    loom::ops::matmul(x.data(), 1, r, alone.back().data(), 1, loom::ops::Pass::Decode, scratch);
  }
  for (int threads : {1, 2, 5, 16}) {
    std::vector<std::vector<float>> got;
    std::vector<loom::ops::Product> group;
    for (const auto& r : refs) got.emplace_back(r.rows, NAN);
    for (size_t i = 0; i < got.size(); ++i) group.push_back({refs[i], got[i].data()});
    loom::ops::matmul_group(x.data(), 1, group, threads, loom::ops::Pass::Decode, scratch);
    for (size_t i = 0; i < got.size(); ++i) {
      for (size_t j = 0; j < got[i].size(); ++j) {
        ASSERT_EQ(bits_of(got[i][j]), bits_of(alone[i][j]))
            << "threads " << threads << ", product " << i << ", row " << j;
      }
    }
  }
}

// Which quantized set the Avx512 cases above test: the VNNI set's gemv where the CPU has AVX-512
// BW, VL and VNNI besides F, else (Skylake-SP, say) the AVX2 set, whose cases then check the
// fallback (and the AVX-512 float gemm's reading of quantized rows). quantize_acts and to_f32 are
// the AVX2 set's either way.
TEST(QuantDispatch, Avx512RunsTheVnniSetWhereTheCpuHasIt) {
  if (!isa_runs_here(Isa::Avx512))
    GTEST_SKIP() << "CPU lacks " << loom::simd::isa_name(Isa::Avx512);
  const loom::simd::CpuFeatures& f = loom::simd::cpu_features();
  const bool vnni = f.avx512bw && f.avx512vl && f.avx512vnni;
  EXPECT_EQ(loom::simd::avx512_vnni_supported(), vnni);
  const QuantKernels& k = loom::simd::quant_kernels(Isa::Avx512);
  const QuantKernels& avx2 = loom::simd::quant_avx2_kernels();
  EXPECT_EQ(&k, vnni ? &loom::simd::quant_avx512_kernels() : &avx2);
  for (int slot : {0, 1, 2}) EXPECT_EQ(k.gemv[slot] != avx2.gemv[slot], vnni) << slot;
  // ggml's blocks: the AVX2 gemv for Q5_0, Q5_1 and Q5_K, a VNNI one for Q6_K.
  for (int slot : {0, 1, 2}) EXPECT_EQ(k.ggml_gemv[slot], avx2.ggml_gemv[slot]) << slot;
  EXPECT_EQ(k.ggml_gemv[3] != avx2.ggml_gemv[3], vnni);
  // Every slot's prompts: the set's own int8 gemm (VNNI), or the AVX2 one.
  for (int slot : {0, 1, 2}) {
    EXPECT_NE(k.gemm[slot], nullptr) << slot;
    EXPECT_EQ(k.gemm[slot] != avx2.gemm[slot], vnni) << slot;
  }
  EXPECT_EQ(k.quantize_acts, avx2.quantize_acts);
  for (int slot : {0, 1, 2}) EXPECT_EQ(k.to_f32[slot], avx2.to_f32[slot]) << slot;
  std::printf("Avx512 quantized cases run the %s set\n", vnni ? "AVX-512 VNNI" : "AVX2");
}

INSTANTIATE_TEST_SUITE_P(IsasAndTypes, QuantKernelSet,
                         ::testing::Combine(::testing::Values(Isa::Scalar, Isa::Avx2, Isa::Avx512),
                                            ::testing::Values(DType::Q8_0, DType::Q4_0,
                                                              DType::Q4_K)),
                         [](const auto& info) {
                           return param_name(std::get<0>(info.param)) + "_" +
                                  loom::dtype_name(std::get<1>(info.param));
                         });

// ---------------------------------------------------------------------------------------------
// ggml's blocks (Q5_0, Q5_K, Q6_K) read in place by the decode products

// ROWS rows of NB 32-weight blocks of ggml's TYPE: random bytes (every quant, scale and minimum
// pattern), with fp16 d (and dmin) fields drawn from [2^-10, 2^-5) of either sign, so that every
// weight is finite; EXTREME rows put every quant and scale at the format's largest magnitude
// (Q6_K's p at its bound of 2^24 / 1.008). VALUES holds the scalar dequantizer's weights.
struct GgmlMatrix {
  std::vector<uint8_t> bytes;
  std::vector<float> values;
  size_t row_bytes;
};

GgmlMatrix make_ggml_matrix(DType type, int rows, int nb, bool extreme, std::mt19937& rng) {
  namespace g = loom::quant::ggml;
  const size_t k = static_cast<size_t>(nb) * kBlock;
  GgmlMatrix m{std::vector<uint8_t>(rows * loom::row_bytes(type, k)), std::vector<float>(rows * k),
               loom::row_bytes(type, k)};
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> mag(-10.0f, -5.0f);
  const auto half = [&] {
    const float v = std::exp2(mag(rng));
    return loom::simd::f32_to_f16(byte(rng) % 2 ? v : -v);
  };
  for (uint8_t& b : m.bytes) b = static_cast<uint8_t>(extreme ? 0 : byte(rng));
  for (int r = 0; r < rows; ++r) {
    uint8_t* row = m.bytes.data() + r * m.row_bytes;
    if (type == DType::Q5_0) {
      auto* blk = reinterpret_cast<g::block_q5_0*>(row);
      for (int b = 0; b < nb; ++b) blk[b].d = half();  // extreme: every q 0, weight -16 d
    } else if (type == DType::Q5_1) {
      auto* blk = reinterpret_cast<g::block_q5_1*>(row);
      for (int b = 0; b < nb; ++b) {
        blk[b].d = half(), blk[b].m = half();
        if (extreme) std::fill(std::begin(blk[b].qs), std::end(blk[b].qs), 0xff);
        if (extreme) std::fill(std::begin(blk[b].qh), std::end(blk[b].qh), 0xff);
      }
    } else if (type == DType::Q5_K) {
      auto* blk = reinterpret_cast<g::block_q5_K*>(row);
      for (int s = 0; s < nb / 8; ++s) {
        blk[s].d = half(), blk[s].dmin = half();
        if (extreme) std::fill(std::begin(blk[s].scales), std::end(blk[s].scales), 0xff);
        if (extreme) std::fill(std::begin(blk[s].qs), std::end(blk[s].qs), 0xff);
        if (extreme) std::fill(std::begin(blk[s].qh), std::end(blk[s].qh), 0xff);
      }
    } else {
      auto* blk = reinterpret_cast<g::block_q6_K*>(row);
      for (int s = 0; s < nb / 8; ++s) {
        blk[s].d = half();
        if (extreme) std::fill(std::begin(blk[s].scales), std::end(blk[s].scales), -128);
      }
    }
    loom::quant::dequantize_row_ggml_scalar(type, row, m.values.data() + r * k,
                                            static_cast<int>(k));
  }
  return m;
}

class GgmlGemv : public ::testing::TestWithParam<std::tuple<Isa, DType>> {
 protected:
  void SetUp() override {
    if (!isa_runs_here(isa())) GTEST_SKIP() << "CPU lacks " << loom::simd::isa_name(isa());
  }
  Isa isa() const { return std::get<0>(GetParam()); }
  DType type() const { return std::get<1>(GetParam()); }
};

// Each shape's gemv against the double sum over the dequantized weights and activations, and
// equal bit for bit to the scalar set's; Q5_0 around the AVX2 groups of 8 blocks (its short last
// group), the _K types one to seven super-blocks; rows around the prefetch's 8 KiB.
TEST_P(GgmlGemv, MatchesReferenceAndScalarSet) {
  const QuantKernels& k = loom::simd::quant_kernels(isa());
  const QuantKernels::Gemv gemv = loom::simd::gemv_of(k, type());
  const QuantKernels::Gemv scalar = loom::simd::gemv_of(loom::simd::quant_scalar_kernels(), type());
  ASSERT_NE(gemv, nullptr);
  ASSERT_NE(scalar, nullptr);
  const bool small = type() == DType::Q5_0 || type() == DType::Q5_1;
  const std::vector<int> nbs =
      small ? std::vector<int>{1, 2, 7, 8, 9, 15, 17, 28} : std::vector<int>{8, 16, 24, 56};
  std::mt19937 rng(7 + static_cast<int>(type()));
  Failures f;
  for (const int nb : nbs) {
    for (const int rows : {1, 3, 4, 5, 13, 37}) {
      for (const bool extreme : {false, true}) {
        SCOPED_TRACE(testing::Message() << "nb=" << nb << " rows=" << rows << " " << extreme);
        const int K = nb * kBlock;
        const GgmlMatrix w = make_ggml_matrix(type(), rows, nb, extreme, rng);
        std::vector<float> v = random_blocks(nb, rng);
        if (extreme) std::fill(v.begin(), v.end(), 1.0f);  // every q 127
        Acts x(nb);
        k.quantize_acts(v.data(), x.blocks(), K);
        std::vector<float> out(rows), ref(rows);  // exact size: ASan sees writes past ROWS
        gemv(w.bytes.data(), nb, x.blocks(), nb, out.data(), rows);
        scalar(w.bytes.data(), nb, x.blocks(), nb, ref.data(), rows);
        for (int r = 0; r < rows; ++r) {
          double sum = 0, mag = 0;
          for (int i = 0; i < K; ++i) {
            const double p = double{w.values[static_cast<size_t>(r) * K + i]} *
                             (double{x.d[i / kBlock]} * x.q[i]);
            sum += p;
            mag += std::fabs(p);
          }
          if (!(std::fabs(out[r] - sum) <= 1e-5 * mag + 1e-30) && f.add()) {
            ADD_FAILURE() << "r=" << r << ": " << out[r] << " vs " << sum;
          }
          if (bits_of(out[r]) != bits_of(ref[r]) && f.add()) {
            ADD_FAILURE() << "r=" << r << ": " << out[r] << " vs scalar " << ref[r];
          }
        }
      }
    }
  }
  EXPECT_EQ(f.count(), 0);
}

INSTANTIATE_TEST_SUITE_P(IsasAndTypes, GgmlGemv,
                         ::testing::Combine(::testing::Values(Isa::Scalar, Isa::Avx2, Isa::Avx512),
                                            ::testing::Values(DType::Q5_0, DType::Q5_1, DType::Q5_K,
                                                              DType::Q6_K)),
                         [](const auto& info) {
                           return param_name(std::get<0>(info.param)) + "_" +
                                  loom::dtype_name(std::get<1>(info.param));
                         });

// ---------------------------------------------------------------------------------------------
// Quantizing at load: every set's quantizers against the scalar reference, bit for bit

// Blocks made to reach the corners of the reference's arithmetic: random magnitudes from tiny
// (fp16-subnormal scales) to near fp16's limit, zeros, one huge weight, fp32 denormals, weights
// at x / d = k + 1/2 exactly (ties) and a hair either side, constant blocks, and (SPECIALS) NaN
// and infinities.
std::vector<float> corner_blocks(int n_blocks, std::mt19937& rng, bool specials) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_int_distribution<int> kind(0, specials ? 9 : 7), e(-30, 22), pos(0, kBlock - 1);
  std::vector<float> x(static_cast<size_t>(n_blocks) * kBlock);
  for (int b = 0; b < n_blocks; ++b) {
    float* v = x.data() + static_cast<size_t>(b) * kBlock;
    const float scale = std::ldexp(1.0f, e(rng));
    for (int i = 0; i < kBlock; ++i) v[i] = u(rng) * scale;
    switch (kind(rng)) {
      case 1:  // zeros, one negative
        for (int i = 0; i < kBlock; ++i) v[i] = 0.0f;
        v[pos(rng)] = -0.0f;
        break;
      case 2:  // one huge weight
        v[pos(rng)] = 1e6f * scale * (u(rng) < 0 ? -1 : 1);
        break;
      case 3:  // fp32 denormals
        for (int i = 0; i < kBlock; ++i) v[i] = u(rng) * 1e-39f;
        break;
      case 4:    // ties: d = 2^-4 exactly (max 127 d for Q8_0, -8 d for Q4_0), x = (k + 1/2) d
      case 5: {  // and a step of d either side (each from the same magnitude as Q4_K's grid)
        const float d = 0.0625f;
        v[0] = 127 * d, v[1] = -8 * d;
        std::uniform_int_distribution<int> k(-8, 7), nudge(-1, 1);
        for (int i = 2; i < kBlock; ++i) {
          const float t = (static_cast<float>(k(rng)) + 0.5f) * d;
          v[i] = nudge(rng) == 0 ? t : std::nextafter(t, nudge(rng) * 1e9f);
        }
        break;
      }
      case 6:  // near fp16's largest scale (max / 127 around 65504), and past it
        for (int i = 0; i < kBlock; ++i) v[i] = u(rng) * 65504.0f * 127.0f * (1 + u(rng) / 64);
        break;
      case 7:  // constant
        for (int i = 0; i < kBlock; ++i) v[i] = -0.75f * scale;
        break;
      case 8:
        v[pos(rng)] = std::nanf("");
        break;
      case 9:
        v[pos(rng)] = (u(rng) < 0 ? -1 : 1) * INFINITY;
        break;
    }
  }
  return x;
}

TEST(QuantizeSets, EverySetIsTheReferenceBitForBit) {
  std::mt19937 rng(11);
  // Rows of 19 blocks: two whole Q4_K super-blocks and a short one of three, an odd last pair.
  const int rows = 120, cols = 19 * kBlock;
  for (bool specials : {false, true}) {
    const std::vector<float> x = corner_blocks(rows * cols / kBlock, rng, specials);
    std::vector<uint16_t> h16(x.size()), b16(x.size());
    std::vector<float> x16(x.size()), xb16(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      h16[i] = loom::simd::f32_to_f16(x[i]);
      x16[i] = loom::simd::f16_to_f32(h16[i]);
      b16[i] = loom::simd::f32_to_bf16(x[i]);
      xb16[i] = loom::simd::bf16_to_f32(b16[i]);
    }
    for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
      if (!isa_runs_here(isa)) continue;
      const QuantKernels& k = loom::simd::quant_kernels(isa);
      for (DType type : {DType::Q8_0, DType::Q4_0, DType::Q4_K}) {
        const size_t row = loom::row_bytes(type, cols);
        for (const auto& [src, src_type, values] :
             {std::tuple<const void*, DType, const std::vector<float>*>{x.data(), DType::F32, &x},
              {h16.data(), DType::F16, &x16},
              {b16.data(), DType::BF16, &xb16}}) {
          const size_t in_row = loom::row_bytes(src_type, cols);
          int wrong = 0;
          for (int r = 0; r < rows; ++r) {
            std::vector<uint8_t> want(row), got(row, 0xab);
            loom::quant::quantize_row(type, values->data() + r * cols, want.data(), cols);
            k.quantize[loom::simd::quant_slot(type)](static_cast<const char*>(src) + r * in_row,
                                                     src_type, got.data(), cols);
            wrong += got != want;
          }
          EXPECT_EQ(wrong, 0) << param_name(isa) << ": " << loom::dtype_name(type) << " from "
                              << loom::dtype_name(src_type) << (specials ? " (NaN, inf)" : "");
        }
      }
    }
  }
}

}  // namespace
