#include "quant/quantize.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "loom/error.h"

#include "quant/dtype_traits.h"
#include "quant/ggml_dequant.h"
#include "simd/half.h"
#include "simd/kernels.h"
#include "simd/quant_kernels.h"

// Any change here that alters a quantized byte must bump kQuantizerVersion (quantize.h), so that
// quantized-weights cache files made before it are rebuilt rather than used.
namespace loom::quant {
namespace {

// round(x / d) with the fp16 scale as stored, so the bound |x - d q| <= d/2 holds for the d that
// dequantization uses (dividing by the unrounded d would add up to 127 * d * 2^-11 of error).
// A zero d (an all-zero block, or one too small for fp16) gives all-zero weights.
// Rounds half away from zero, as std::round, without its library call (15 s for a 1.1B model):
// the quotient is an fp32 division (both operands are float), widened to double, where r +- 0.5
// is exact and truncation finishes the job. (The AVX2 quantizers reproduce exactly this.)
float scaled(float x, float d) {
  if (d == 0.0f) return 0.0f;
  const double r = x / d;
  return static_cast<float>(static_cast<int64_t>(r >= 0 ? r + 0.5 : r - 0.5));
}

}  // namespace

void quantize_row_q8_0(const float* x, void* row, int n) {
  const int nb = n / kBlock;
  auto* q = static_cast<int8_t*>(row);
  uint16_t* ds = row_scales(DType::Q8_0, row, nb);
  for (int b = 0; b < nb; ++b, x += kBlock, q += kBlock) {
    float amax = 0.0f;
    for (int i = 0; i < kBlock; ++i) amax = std::max(amax, std::fabs(x[i]));
    ds[b] = simd::f32_to_f16(amax / 127.0f);
    const float d = simd::f16_to_f32(ds[b]);
    // fp16 may round d down, taking max|x| / d a hair past 127: clamp.
    for (int i = 0; i < kBlock; ++i) {
      q[i] = static_cast<int8_t>(std::clamp(scaled(x[i], d), -127.0f, 127.0f));
    }
  }
}

void quantize_row_q4_0(const float* x, void* row, int n) {
  const int nb = n / kBlock;
  auto* pairs = static_cast<uint8_t*>(row);
  uint16_t* ds = row_scales(DType::Q4_0, row, nb);
  std::fill_n(pairs, quants_bytes(DType::Q4_0, nb), uint8_t{0});  // an odd last block's high half
  for (int b = 0; b < nb; ++b, x += kBlock) {
    // The weight of largest magnitude, with its sign, maps to -8: the range [-8, 7] is used in
    // full on that weight's side, where the largest magnitude is.
    float big = 0.0f;
    for (int i = 0; i < kBlock; ++i) {
      if (std::fabs(x[i]) > std::fabs(big)) big = x[i];
    }
    ds[b] = simd::f32_to_f16(big / -8.0f);
    const float d = simd::f16_to_f32(ds[b]);
    // Block 2p in the low nibbles of pair p, block 2p + 1 in the high ones.
    uint8_t* pair = pairs + b / 2 * kBlock;
    const int shift = b % 2 * 4;
    for (int i = 0; i < kBlock; ++i) {
      const auto nib = static_cast<uint8_t>(std::clamp(scaled(x[i], d) + 8.0f, 0.0f, 15.0f));
      pair[i] = static_cast<uint8_t>(pair[i] | nib << shift);
    }
  }
}

void dequantize_row_q8_0(const void* row, float* out, int n) {
  const int nb = n / kBlock;
  const auto* q = static_cast<const int8_t*>(row);
  const uint16_t* ds = row_scales(DType::Q8_0, row, nb);
  for (int b = 0; b < nb; ++b, out += kBlock, q += kBlock) {
    const float d = simd::f16_to_f32(ds[b]);
    for (int i = 0; i < kBlock; ++i) out[i] = d * static_cast<float>(q[i]);
  }
}

void dequantize_row_q4_0(const void* row, float* out, int n) {
  const int nb = n / kBlock;
  const auto* pairs = static_cast<const uint8_t*>(row);
  const uint16_t* ds = row_scales(DType::Q4_0, row, nb);
  for (int b = 0; b < nb; ++b, out += kBlock) {
    const float d = simd::f16_to_f32(ds[b]);
    const uint8_t* pair = pairs + b / 2 * kBlock;
    const int shift = b % 2 * 4;
    for (int i = 0; i < kBlock; ++i) {
      out[i] = d * static_cast<float>(((pair[i] >> shift) & 0x0f) - 8);
    }
  }
}

void quantize_row(DType type, const float* x, void* row, int n) {
  if (type == DType::Q8_0) {
    quantize_row_q8_0(x, row, n);
  } else if (type == DType::Q4_0) {
    quantize_row_q4_0(x, row, n);
  } else {
    quantize_row_q4_k(x, row, n);
  }
}

void dequantize_row(DType type, const void* row, float* out, int n) {
  if (type == DType::Q8_0) {
    dequantize_row_q8_0(row, out, n);
  } else if (type == DType::Q4_0) {
    dequantize_row_q4_0(row, out, n);
  } else {
    dequantize_row_q4_k(row, out, n);
  }
}

void quantize_row_fast(DType type, const float* x, void* row, int n) {
  simd::quant_kernels().quantize[simd::quant_slot(type)](x, DType::F32, row, n);
}

void row_to_f32(DType type, const void* row, float* out, int n) {
  switch (traits(type).layout) {
    case Layout::Plain:
      simd::kernels().to_f32[static_cast<int>(type)](row, out, static_cast<size_t>(n));
      return;
    case Layout::LoomRows:
      dequantize_row(type, row, out, n);
      return;
    case Layout::GgmlBlocks:
      dequantize_row_ggml(type, row, out, n);
      return;
  }
}

void quantize_matrix(const void* src, DType src_type, int rows, int cols, DType type, void* dst,
                     int threads) {
  if (!fits_blocks(cols)) {  // loading never asks (quantize_weights keeps such matrices)
    throw Error(std::string("cannot quantize to ") + dtype_name(type) + ": rows of " +
                std::to_string(cols) + " weights are not whole blocks of " +
                std::to_string(kBlock));
  }
  // The set's quantizer reads the source row itself (a few blocks at a time, in L1).
  const simd::QuantKernels::Quantize quantize =
      simd::quant_kernels().quantize[simd::quant_slot(type)];
  const size_t in_row = row_bytes(src_type, cols), out_row = row_bytes(type, cols);
  if (threads <= 0) threads = omp_get_max_threads();
  threads = std::max(1, std::min(threads, rows));
  if (src_type == DType::F32 || src_type == DType::F16 || src_type == DType::BF16) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int r = 0; r < rows; ++r) {
      quantize(static_cast<const char*>(src) + r * in_row, src_type,
               static_cast<char*>(dst) + r * out_row, cols);
    }
    return;
  }
  // A quantized source (a GGUF file's tensors, loaded with --quantize): the quantizers read
  // floats only, so each row goes through fp32 first.
#pragma omp parallel num_threads(threads)
  {
    std::vector<float> x(static_cast<size_t>(cols));
#pragma omp for schedule(static)
    for (int r = 0; r < rows; ++r) {
      row_to_f32(src_type, static_cast<const char*>(src) + r * in_row, x.data(), cols);
      quantize(x.data(), DType::F32, static_cast<char*>(dst) + r * out_row, cols);
    }
  }
}

}  // namespace loom::quant
