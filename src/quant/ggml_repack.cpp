#include "quant/ggml_repack.h"

#include <cstdint>
#include <cstring>

#include "quant/blocks.h"
#include "quant/ggml_blocks.h"

namespace loom::quant {
namespace {

uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

}  // namespace

void from_ggml_row(DType type, const void* from, size_t nb, void* to) {
  const auto* src = static_cast<const uint8_t*>(from);
  auto* dst = static_cast<uint8_t*>(to);
  switch (type) {
    case DType::Q8_0: {  // ggml: {fp16 d; int8 qs[32]}
      uint16_t* d = row_scales(DType::Q8_0, dst, nb);
      for (size_t b = 0; b < nb; ++b, src += 34) {
        d[b] = load_u16(src);
        std::memcpy(dst + b * kBlock, src + 2, kBlock);
      }
      break;
    }
    case DType::Q4_0: {  // ggml: {fp16 d; uint8 qs[16]}: weight j low, j + 16 high
      // Blocks a = 2p and c = 2p + 1 make pair p: byte j holds a's weight j and c's weight j in
      // its low and high nibbles, byte j + 16 their weights j + 16 (a loop GCC vectorizes).
      uint16_t* d = row_scales(DType::Q4_0, dst, nb);
      for (size_t b = 0; b < nb; b += 2, src += 36) {
        const uint8_t* a = src + 2;
        const uint8_t* c = src + 20;
        const bool two = b + 1 < nb;
        uint8_t* pair = dst + b / 2 * kBlock;
        d[b] = load_u16(src);
        if (two) {
          d[b + 1] = load_u16(src + 18);
          for (int j = 0; j < 16; ++j) {
            pair[j] = static_cast<uint8_t>((a[j] & 15) | (c[j] << 4));
            pair[j + 16] = static_cast<uint8_t>((a[j] >> 4) | (c[j] & 0xf0));
          }
        } else {
          for (int j = 0; j < 16; ++j) {
            pair[j] = static_cast<uint8_t>(a[j] & 15);
            pair[j + 16] = static_cast<uint8_t>(a[j] >> 4);
          }
        }
      }
      break;
    }
    case DType::Q4_K: {
      // ggml: {fp16 d, dmin; uint8 scales[12]; uint8 qs[128]} for 256 weights: qs holds blocks
      // 2c and 2c + 1 in the low and high nibbles of bytes 32c..32c+31, as loom pairs them.
      const size_t supers = nb / kSuper;
      Q4KHeader* h = row_headers(dst, nb);
      for (size_t s = 0; s < supers; ++s, src += 144) {
        std::memcpy(dst + s * 128, src + 16, 128);
        Q4KHeader& out = h[s];
        std::memset(&out, 0, sizeof out);
        out.d = load_u16(src);
        out.dmin = load_u16(src + 2);
        const uint8_t* q = src + 4;
        for (int j = 0; j < 8; ++j) {
          int sc, m;
          ggml::scale_min_k(q, j, sc, m);
          set_six_bits(out.scales, j, static_cast<uint8_t>(sc));
          set_six_bits(out.mins, j, static_cast<uint8_t>(m));
        }
      }
      break;
    }
    default:
      break;
  }
}

void to_ggml_row(DType type, const void* from, size_t nb, void* to) {
  const auto* src = static_cast<const uint8_t*>(from);
  auto* dst = static_cast<uint8_t*>(to);
  switch (type) {
    case DType::Q8_0: {
      const uint16_t* d = row_scales(type, src, nb);
      for (size_t b = 0; b < nb; ++b, dst += 34) {
        std::memcpy(dst, &d[b], 2);
        std::memcpy(dst + 2, src + b * kBlock, kBlock);
      }
      break;
    }
    case DType::Q4_0: {
      const uint16_t* d = row_scales(type, src, nb);
      for (size_t b = 0; b < nb; ++b, dst += 18) {
        std::memcpy(dst, &d[b], 2);
        const uint8_t* pair = src + b / 2 * kBlock;
        const int shift = b % 2 ? 4 : 0;
        for (int j = 0; j < 16; ++j) {
          dst[2 + j] = static_cast<uint8_t>(((pair[j] >> shift) & 15) |
                                            (((pair[j + 16] >> shift) & 15) << 4));
        }
      }
      break;
    }
    case DType::Q4_K: {
      const Q4KHeader* h = row_headers(src, nb);
      for (size_t s = 0; s < nb / kSuper; ++s, dst += 144) {
        std::memcpy(dst, &h[s].d, 2);
        std::memcpy(dst + 2, &h[s].dmin, 2);
        int sc[8], m[8];
        for (int j = 0; j < 8; ++j) {
          sc[j] = six_bits(h[s].scales, j);
          m[j] = six_bits(h[s].mins, j);
        }
        ggml::pack_scale_min_k(sc, m, dst + 4);
        std::memcpy(dst + 16, src + s * 128, 128);
      }
      break;
    }
    default:
      break;
  }
}

}  // namespace loom::quant
