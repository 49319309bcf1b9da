// exp(x) as softmax computes it, in every kernel set: the same polynomial (Cephes' expf) so the
// sets differ only by FMA's single rounding. std::exp is a scalar call per attention score; this
// runs eight lanes at a time.
//
// x = n*ln2 + r with n = round(x / ln2) and |r| <= ln2/2 (ln2 split in two so n*ln2 is exact),
// exp(r) by a degree-7 polynomial, times 2^n built in the exponent bits. Max relative error
// 8.3e-8 (under 1 ulp) over [-87, 88] against std::exp in double, measured in both kernel sets;
// test_attention asserts 1.5e-7. Domain:
// x < -87.33 gives 0 (where exp would be subnormal), x > 88 gives exp(88); NaN stays NaN.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace loom::simd::exp_poly {

constexpr float kLo = -87.33654f;  // log(FLT_MIN): below it, 0
constexpr float kHi = 88.0f;       // keeps n <= 127, so 2^n stays a normal float
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;  // 8 significant bits: n * kLn2Hi is exact
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f,
                kP3 = 4.1665795894e-2f, kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;

inline float exp(float x) {
  if (!(x >= kLo)) return x != x ? x : 0.0f;
  const float xc = x > kHi ? kHi : x;
  const float n = std::nearbyint(xc * kLog2e);
  const float r = (xc - n * kLn2Hi) - n * kLn2Lo;
  float p = kP0;
  for (float c : {kP1, kP2, kP3, kP4, kP5}) p = p * r + c;
  p = p * (r * r) + r + 1.0f;
  const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return p * scale;
}

}  // namespace loom::simd::exp_poly
