// The simd layer against plain double-precision loops: the 16-bit float conversions, and every
// kernel set this CPU can run, including the contract that gemv, gemm and dot agree bit for bit.
#include <gtest/gtest.h>
#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "simd/cpu.h"
#include "simd/half.h"
#include "simd/kernels.h"
#include "support/float_checks.h"

namespace {

using loom::DType;
using loom::simd::Isa;
using loom::simd::Kernels;

using loom::test::bits_of;
using loom::test::Failures;
using loom::test::kNaN;

float float_of(uint32_t u) {
  return std::bit_cast<float>(u);
}

// ---------------------------------------------------------------------------------------------
// Reference decoders, written from the format definitions rather than by moving bits around as
// half.h does, so that the two cannot share a mistake.

double f16_reference(uint16_t h) {
  const int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  double v;
  if (exp == 0x1f) {
    v = mant ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  } else if (exp == 0) {
    v = std::ldexp(mant, -24);  // subnormal: mant * 2^-14 * 2^-10
  } else {
    v = std::ldexp(1024 + mant, exp - 25);  // (1 + mant/2^10) * 2^(exp-15)
  }
  return (h & 0x8000) ? -v : v;
}

double bf16_reference(uint16_t h) {
  const int exp = (h >> 7) & 0xff, mant = h & 0x7f;
  double v;
  if (exp == 0xff) {
    v = mant ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  } else if (exp == 0) {
    v = std::ldexp(mant, -133);  // mant * 2^-126 * 2^-7
  } else {
    v = std::ldexp(128 + mant, exp - 134);  // (1 + mant/2^7) * 2^(exp-127)
  }
  return (h & 0x8000) ? -v : v;
}

bool f16_is_nan(uint16_t h) {
  return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
}
bool bf16_is_nan(uint16_t h) {
  return (h & 0x7f80) == 0x7f80 && (h & 0x7f) != 0;
}

// Nearest encoding to F among MAGNITUDES[0..n) (sorted, finite, of encodings 0..n-1), ties to the
// even encoding; OVERFLOW_AT is the magnitude from which rounding goes to infinity (INF_CODE).
uint16_t round_reference(float f, const std::vector<double>& magnitudes, double overflow_at,
                         uint16_t inf_code) {
  const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  const double a = std::fabs(static_cast<double>(f));
  if (a >= overflow_at) return sign | inf_code;
  // The last magnitude <= a; a >= 0 = magnitudes[0], so it exists.
  const size_t lo =
      std::upper_bound(magnitudes.begin(), magnitudes.end(), a) - magnitudes.begin() - 1;
  if (magnitudes[lo] == a || lo + 1 == magnitudes.size()) return sign | static_cast<uint16_t>(lo);
  const double below = a - magnitudes[lo], above = magnitudes[lo + 1] - a;
  size_t pick = below < above ? lo : lo + 1;
  if (below == above) pick = (lo % 2 == 0) ? lo : lo + 1;
  return sign | static_cast<uint16_t>(pick);
}

const std::vector<double>& f16_magnitudes() {
  static const std::vector<double> m = [] {
    std::vector<double> v;
    for (uint32_t h = 0; h < 0x7c00; ++h) v.push_back(f16_reference(static_cast<uint16_t>(h)));
    return v;
  }();
  return m;
}

const std::vector<double>& bf16_magnitudes() {
  static const std::vector<double> m = [] {
    std::vector<double> v;
    for (uint32_t h = 0; h < 0x7f80; ++h) v.push_back(bf16_reference(static_cast<uint16_t>(h)));
    return v;
  }();
  return m;
}

// Rounding reaches infinity at the midpoint between the largest finite value and the next power
// of two: the largest finite encoding has an odd mantissa in both formats, so that tie goes up.
uint16_t f16_reference_round(float f) {
  return round_reference(f, f16_magnitudes(), (65504.0 + 65536.0) / 2, 0x7c00);
}
uint16_t bf16_reference_round(float f) {
  return round_reference(f, bf16_magnitudes(), std::ldexp(255.5, 120), 0x7f80);
}

// The hardware conversions, compiled for F16C only here so the binary still runs without it.
__attribute__((target("f16c"))) float f16c_to_f32(uint16_t h) {
  return _cvtsh_ss(h);
}
__attribute__((target("f16c"))) uint16_t f16c_from_f32(float f) {
  return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}

// Floats that stress the conversions: every exponent f16 reaches, and a margin either side, with
// random mantissas and signs; then arbitrary bit patterns, which span bf16's range (and NaNs).
std::vector<float> conversion_samples() {
  std::mt19937 rng(1234);
  std::vector<float> v;
  std::uniform_int_distribution<uint32_t> exp(95, 150), mant(0, 0x7fffff), any;
  for (int i = 0; i < 60000; ++i)
    v.push_back(float_of((any(rng) & 0x80000000u) | (exp(rng) << 23) | mant(rng)));
  for (int i = 0; i < 20000; ++i) v.push_back(float_of(any(rng)));
  return v;
}

// ---------------------------------------------------------------------------------------------
// half.h

TEST(Half, F16ToF32AllInputsMatchReference) {
  Failures f;
  for (uint32_t u = 0; u < 0x10000; ++u) {
    const uint16_t h = static_cast<uint16_t>(u);
    const float got = loom::simd::f16_to_f32(h);
    const double want = f16_reference(h);
    const bool ok = std::isnan(want) ? std::isnan(got)
                                     : (static_cast<double>(got) == want &&
                                        std::signbit(got) == std::signbit(want));
    if (!ok && f.add())
      ADD_FAILURE() << std::hex << "h=0x" << h << " got " << got << " want " << want;
  }
  EXPECT_EQ(f.count(), 0);
}

TEST(Half, F16ToF32AllInputsMatchF16C) {
  if (!loom::simd::cpu_features().f16c) GTEST_SKIP() << "no F16C on this CPU";
  Failures f;
  for (uint32_t u = 0; u < 0x10000; ++u) {
    const uint16_t h = static_cast<uint16_t>(u);
    const float got = loom::simd::f16_to_f32(h), want = f16c_to_f32(h);
    // NaN payloads are not compared: F16C quiets signalling NaNs, the software path keeps the bits.
    const bool ok = std::isnan(want) ? std::isnan(got) : bits_of(got) == bits_of(want);
    if (!ok && f.add())
      ADD_FAILURE() << std::hex << "h=0x" << h << " got 0x" << bits_of(got) << " F16C 0x"
                    << bits_of(want);
  }
  EXPECT_EQ(f.count(), 0);
}

TEST(Half, F32ToF16RoundTripsEveryF16) {
  for (uint32_t u = 0; u < 0x10000; ++u) {
    const uint16_t h = static_cast<uint16_t>(u);
    const uint16_t back = loom::simd::f32_to_f16(loom::simd::f16_to_f32(h));
    if (f16_is_nan(h)) {
      ASSERT_TRUE(f16_is_nan(back)) << std::hex << "h=0x" << h << " back 0x" << back;
    } else {
      ASSERT_EQ(back, h) << std::hex << "h=0x" << h;  // infinities and -0 included
    }
  }
}

// Exactly halfway between neighbours the even encoding wins; one fp32 ulp either side of the
// midpoint decides for the nearer one. Covers subnormals, the 0 / smallest-subnormal midpoint,
// and the midpoint above the largest finite value (which rounds to infinity).
TEST(Half, F32ToF16RoundsToNearestEven) {
  Failures f;
  for (uint32_t lo = 0; lo < 0x7c00; ++lo) {
    const double a = f16_reference(static_cast<uint16_t>(lo));
    const double b = lo + 1 < 0x7c00 ? f16_reference(static_cast<uint16_t>(lo + 1)) : 65536.0;
    const float mid = static_cast<float>((a + b) / 2);  // exact: 12 significant bits at most
    ASSERT_EQ(static_cast<double>(mid), (a + b) / 2);
    const uint16_t even = static_cast<uint16_t>(lo % 2 == 0 ? lo : lo + 1);
    const uint16_t up = static_cast<uint16_t>(lo + 1);
    for (const uint16_t sign : {0, 0x8000}) {
      const float s = sign ? -1.0f : 1.0f;
      const struct {
        float x;
        uint16_t want;
      } cases[] = {{s * mid, static_cast<uint16_t>(sign | even)},
                   {s * std::nextafter(mid, 0.0f), static_cast<uint16_t>(sign | lo)},
                   {s * std::nextafter(mid, INFINITY), static_cast<uint16_t>(sign | up)}};
      for (const auto& c : cases) {
        const uint16_t got = loom::simd::f32_to_f16(c.x);
        if (got != c.want && f.add()) {
          ADD_FAILURE() << std::hex << "x=" << c.x << " (0x" << bits_of(c.x) << ") got 0x" << got
                        << " want 0x" << c.want;
        }
      }
    }
  }
  EXPECT_EQ(f.count(), 0);
  EXPECT_EQ(loom::simd::f32_to_f16(1e10f), 0x7c00);
  EXPECT_EQ(loom::simd::f32_to_f16(-INFINITY), 0xfc00);
  EXPECT_EQ(loom::simd::f32_to_f16(-1e-40f), 0x8000);  // fp32 subnormal: signed zero
  EXPECT_TRUE(f16_is_nan(loom::simd::f32_to_f16(kNaN)));
  EXPECT_TRUE(f16_is_nan(loom::simd::f32_to_f16(float_of(0x7f800001u))));  // payload in low bits
}

TEST(Half, F32ToF16MatchesReferenceAndF16COnSamples) {
  const bool f16c = loom::simd::cpu_features().f16c;
  Failures f;
  for (const float x : conversion_samples()) {
    const uint16_t got = loom::simd::f32_to_f16(x);
    if (std::isnan(x)) {
      if (!f16_is_nan(got) && f.add()) ADD_FAILURE() << std::hex << "NaN 0x" << bits_of(x);
      continue;
    }
    const uint16_t want = f16_reference_round(x);
    if (got != want && f.add()) {
      ADD_FAILURE() << std::hex << "x=" << x << " (0x" << bits_of(x) << ") got 0x" << got
                    << " want 0x" << want;
    }
    if (f16c && f16c_from_f32(x) != want && f.add()) {
      ADD_FAILURE() << std::hex << "reference disagrees with F16C at 0x" << bits_of(x);
    }
  }
  EXPECT_EQ(f.count(), 0);
}

TEST(Half, Bf16ToF32AllInputsMatchReference) {
  Failures f;
  for (uint32_t u = 0; u < 0x10000; ++u) {
    const uint16_t h = static_cast<uint16_t>(u);
    const float got = loom::simd::bf16_to_f32(h);
    const double want = bf16_reference(h);
    const bool ok = std::isnan(want) ? std::isnan(got)
                                     : (static_cast<double>(got) == want &&
                                        std::signbit(got) == std::signbit(want));
    if (!ok && f.add())
      ADD_FAILURE() << std::hex << "h=0x" << h << " got " << got << " want " << want;
  }
  EXPECT_EQ(f.count(), 0);
}

TEST(Half, F32ToBf16RoundTripsAndRoundsToNearestEven) {
  Failures f;
  for (uint32_t u = 0; u < 0x10000; ++u) {
    const uint16_t h = static_cast<uint16_t>(u);
    const uint16_t back = loom::simd::f32_to_bf16(loom::simd::bf16_to_f32(h));
    if (bf16_is_nan(h) ? !bf16_is_nan(back) : back != h) {
      if (f.add()) ADD_FAILURE() << std::hex << "round trip h=0x" << h << " back 0x" << back;
    }
    if ((h & 0x7fff) >= 0x7f80) continue;  // no midpoint above infinity or among NaNs
    // The fp32 midpoint between h and the next encoding, and one fp32 ulp either side of it.
    const uint32_t mid = static_cast<uint32_t>(h) << 16 | 0x8000u;
    const uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1) : h;
    const struct {
      uint32_t x;
      uint16_t want;
    } cases[] = {{mid, even}, {mid - 1, h}, {mid + 1, static_cast<uint16_t>(h + 1)}};
    for (const auto& c : cases) {
      const uint16_t got = loom::simd::f32_to_bf16(float_of(c.x));
      if (got != c.want && f.add()) {
        ADD_FAILURE() << std::hex << "x=0x" << c.x << " got 0x" << got << " want 0x" << c.want;
      }
    }
  }
  EXPECT_EQ(f.count(), 0);
  // NaNs whose payload lives only in the bits that truncation drops must not become infinity.
  for (const uint32_t nan : {0x7f800001u, 0xff800001u, 0x7fc00000u, 0x7f80ffffu}) {
    EXPECT_TRUE(bf16_is_nan(loom::simd::f32_to_bf16(float_of(nan)))) << std::hex << nan;
  }
}

TEST(Half, F32ToBf16MatchesReferenceOnSamples) {
  Failures f;
  for (const float x : conversion_samples()) {
    const uint16_t got = loom::simd::f32_to_bf16(x);
    const bool ok = std::isnan(x) ? bf16_is_nan(got) : got == bf16_reference_round(x);
    if (!ok && f.add()) {
      ADD_FAILURE() << std::hex << "x=0x" << bits_of(x) << " got 0x" << got << " want 0x"
                    << bf16_reference_round(x);
    }
  }
  EXPECT_EQ(f.count(), 0);
}

// ---------------------------------------------------------------------------------------------
// Kernel sets.

bool isa_runs_here(Isa isa) {
  return loom::simd::isa_supported(isa);
}

size_t element_size(DType t) {
  return t == DType::F32 ? 4 : 2;
}

// Matrix elements spread over many binades, a quarter of them small enough to be f16 subnormals,
// so that both the vector and the scalar-tail conversions see every class of input.
float random_element(std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_int_distribution<int> shrink(0, 3), e(1, 24);
  float v = u(rng);
  if (shrink(rng) == 0) v = std::ldexp(v, -e(rng));
  return v;
}

// A matrix stored in DTYPE, ROWS of K elements LD apart, in a buffer that ends right after the
// last element so ASan flags any read past it; padding between rows is NaN so a kernel that
// reads it shows up as a NaN result.
struct Matrix {
  DType dtype;
  int rows, k;
  size_t ld;
  std::vector<float> f32;
  std::vector<uint16_t> h16;
  std::vector<double> exact;  // [rows * k], the stored values

  const void* data() const {
    return dtype == DType::F32 ? static_cast<const void*>(f32.data()) : h16.data();
  }
  const void* row(int r) const {
    return static_cast<const char*>(data()) + r * ld * element_size(dtype);
  }
};

Matrix make_matrix(DType dtype, int rows, int k, size_t ld, std::mt19937& rng) {
  Matrix w{dtype, rows, k, ld, {}, {}, {}};
  const size_t n = (rows - 1) * ld + k;
  w.exact.resize(static_cast<size_t>(rows) * k);
  if (dtype == DType::F32) {
    w.f32.assign(n, kNaN);
  } else {
    w.h16.assign(n, dtype == DType::F16 ? 0x7e00 : 0x7fc0);
  }
  for (int r = 0; r < rows; ++r) {
    for (int i = 0; i < k; ++i) {
      const float v = random_element(rng);
      const size_t at = r * ld + i;
      double& exact = w.exact[static_cast<size_t>(r) * k + i];
      switch (dtype) {
        case DType::F32:
          w.f32[at] = v;
          exact = v;
          break;
        case DType::F16:
          w.h16[at] = loom::simd::f32_to_f16(v);
          exact = f16_reference(w.h16[at]);
          break;
        case DType::BF16:
          w.h16[at] = loom::simd::f32_to_bf16(v);
          exact = bf16_reference(w.h16[at]);
          break;
        case DType::Q8_0:
        case DType::Q4_0:
        case DType::Q4_K:
        case DType::Q5_0:
        case DType::Q5_1:
        case DType::Q5_K:
        case DType::Q6_K:
          ADD_FAILURE() << "block types are tested in test_quant";
          break;
      }
    }
  }
  return w;
}

// M activation rows of K, LD apart, NaN between rows, nothing after the last.
std::vector<float> make_activations(int m, int k, size_t ld, std::mt19937& rng) {
  std::vector<float> x((m - 1) * ld + k, kNaN);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int t = 0; t < m; ++t)
    for (int i = 0; i < k; ++i) x[t * ld + i] = u(rng);
  return x;
}

std::string param_name(Isa isa) {
  return isa == Isa::Scalar ? "Scalar" : isa == Isa::Avx2 ? "Avx2" : "Avx512";
}
std::string param_name(DType t) {
  return loom::dtype_name(t);
}

class KernelSet : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!isa_runs_here(GetParam()))
      GTEST_SKIP() << "CPU lacks " << loom::simd::isa_name(GetParam());
  }
  const Kernels& kern() const { return loom::simd::kernels(GetParam()); }
};

class KernelSetDType : public ::testing::TestWithParam<std::tuple<Isa, DType>> {
 protected:
  void SetUp() override {
    if (!isa_runs_here(isa())) GTEST_SKIP() << "CPU lacks " << loom::simd::isa_name(isa());
  }
  Isa isa() const { return std::get<0>(GetParam()); }
  DType dtype() const { return std::get<1>(GetParam()); }
  const Kernels& kern() const { return loom::simd::kernels(isa()); }
};

// Around the gemms' blocks of k (AVX2 1024, AVX-512 512), panels of rows (16, 32), packed blocks
// of rows (32, 64) and tiles of tokens (6, 12), gemv's tiles of 4 rows and gemv_rows' 8.
constexpr int kKs[] = {1, 7, 8, 9, 64, 172, 257, 520, 1030};
constexpr int kRowCounts[] = {1, 2, 3, 4, 5, 8, 9, 13, 16, 37, 70};
constexpr int kTokenCounts[] = {1, 2, 5, 6, 7, 12, 13, 64, 130};
constexpr int kMaxTokens = 130;

// For each shape: gemv of every token against the double reference, dot of every (row, token)
// equal to gemv bit for bit, and gemm of the first m tokens, for each m, equal bit for bit to one
// sum in k order (fused multiply-adds for AVX2) and close to the double reference (so a token's
// result depends neither on the batch it is in nor on its place in it).
TEST_P(KernelSetDType, GemvGemmDotAgreeAndMatchReference) {
  const Kernels& k = kern();
  const int ti = static_cast<int>(dtype());
  std::mt19937 rng(42 + ti);
  Failures f;
  for (const int K : kKs) {
    for (const int rows : kRowCounts) {
      SCOPED_TRACE(testing::Message() << "k=" << K << " rows=" << rows);
      // Padding varied per shape, so rows and tokens start at every alignment.
      const size_t ldw = K + 1 + (K + rows) % 5, ldx = K + 3, ldo = rows + 2;
      const Matrix w = make_matrix(dtype(), rows, K, ldw, rng);
      const std::vector<float> x = make_activations(kMaxTokens, K, ldx, rng);

      // Row by row, token by token: gemv[t * rows + r].
      std::vector<float> gemv(static_cast<size_t>(kMaxTokens) * rows);
      for (int t = 0; t < kMaxTokens; ++t) {
        std::vector<float> out(rows, kNaN);  // exact size: ASan sees writes past ROWS
        k.gemv[ti](w.data(), ldw, x.data() + t * ldx, K, out.data(), rows);
        std::copy(out.begin(), out.end(), gemv.begin() + t * rows);
      }

      // Several tokens at once (the set's gemv_rows, where it has one): each token gemv's bits,
      // in passes around the kernel's 4 tokens and groups of 8 rows; nothing written between the
      // rows of OUT's stride.
      for (const int m : {2, 3, 4, 5, 9}) {
        if (k.gemv_rows[ti] == nullptr) break;
        const float sentinel = -1234.5f;
        std::vector<float> out((m - 1) * ldo + rows, sentinel);
        k.gemv_rows[ti](w.data(), ldw, x.data(), ldx, m, K, out.data(), ldo, rows);
        EXPECT_EQ(loom::test::padding_writes(out, m, rows, ldo, sentinel), 0) << "m=" << m;
        for (int t = 0; t < m; ++t) {
          for (int r = 0; r < rows; ++r) {
            const float got = out[t * ldo + r], want = gemv[t * rows + r];
            if (bits_of(got) != bits_of(want) && f.add()) {
              ADD_FAILURE() << "gemv_rows m=" << m << " t=" << t << " r=" << r << ": " << got
                            << " vs gemv " << want;
            }
          }
        }
      }

      for (int t = 0; t < kMaxTokens; ++t) {
        const float* xt = x.data() + t * ldx;
        for (int r = 0; r < rows; ++r) {
          double sum = 0, mag = 0;
          for (int i = 0; i < K; ++i) {
            const double p = w.exact[static_cast<size_t>(r) * K + i] * xt[i];
            sum += p;
            mag += std::fabs(p);
          }
          const float got = gemv[t * rows + r];
          const double tol = 1e-5 * mag + 1e-6;
          if (!(std::fabs(got - sum) <= tol) && f.add()) {
            ADD_FAILURE() << "gemv t=" << t << " r=" << r << ": " << got << " vs " << sum;
          }
          if (dtype() != DType::F32) continue;
          // dot is gemv's sum for F32, whichever operand comes first (attention passes q first).
          const float* wr = static_cast<const float*>(w.row(r));
          const float d1 = k.dot(wr, xt, K), d2 = k.dot(xt, wr, K);
          if ((bits_of(d1) != bits_of(got) || bits_of(d2) != bits_of(got)) && f.add()) {
            ADD_FAILURE() << "dot t=" << t << " r=" << r << ": " << d1 << ", " << d2 << " vs gemv "
                          << got;
          }
        }
      }

      // The sum in k order gemm promises, and the double reference.
      std::vector<float> chain(static_cast<size_t>(kMaxTokens) * rows);
      std::vector<double> exact(chain.size()), mag(chain.size());
      for (int t = 0; t < kMaxTokens; ++t) {
        for (int r = 0; r < rows; ++r) {
          float c = 0.0f;
          double e = 0, a = 0;
          for (int i = 0; i < K; ++i) {
            const float wi = static_cast<float>(w.exact[static_cast<size_t>(r) * K + i]);
            const float xi = x[t * ldx + i];
            c = isa() != Isa::Scalar ? std::fma(wi, xi, c) : c + wi * xi;
            e += static_cast<double>(wi) * xi;
            a += std::fabs(static_cast<double>(wi) * xi);
          }
          chain[t * rows + r] = c;
          exact[t * rows + r] = e;
          mag[t * rows + r] = a;
        }
      }

      for (const int m : kTokenCounts) {
        const float sentinel = -1234.5f;
        std::vector<float> out((m - 1) * ldo + rows, sentinel);
        k.gemm[ti](w.data(), ldw, x.data(), ldx, m, K, out.data(), ldo, rows);
        EXPECT_EQ(loom::test::padding_writes(out, m, rows, ldo, sentinel), 0) << "gemm m=" << m;
        for (int t = 0; t < m; ++t) {
          for (size_t r = 0; r < static_cast<size_t>(rows); ++r) {
            const float got = out[t * ldo + r];
            const size_t at = t * rows + r;
            const bool close = std::fabs(got - exact[at]) <= 1e-5 * mag[at] + 1e-6;
            if ((bits_of(got) != bits_of(chain[at]) || !close) && f.add()) {
              ADD_FAILURE() << "gemm m=" << m << " t=" << t << " r=" << r << ": " << got
                            << " vs k-order sum " << chain[at] << ", exact " << exact[at];
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(f.count(), 0);
}

// Every 16-bit pattern (NaN, infinity, subnormals included), or random fp32 bit patterns for F32;
// whole, and from several start offsets with lengths around the vector width.
TEST_P(KernelSetDType, ToF32MatchesReference) {
  const Kernels& k = kern();
  const int ti = static_cast<int>(dtype());
  std::vector<float> f32;
  std::vector<uint16_t> h16;
  std::vector<double> want;
  if (dtype() == DType::F32) {
    std::mt19937 rng(7);
    for (int i = 0; i < 65536; ++i) {
      const float v = float_of(static_cast<uint32_t>(rng()));
      f32.push_back(v);
      want.push_back(v);
    }
  } else {
    for (uint32_t u = 0; u < 0x10000; ++u) {
      h16.push_back(static_cast<uint16_t>(u));
      want.push_back(dtype() == DType::F16 ? f16_reference(h16.back())
                                           : bf16_reference(h16.back()));
    }
  }
  const size_t esize = element_size(dtype());
  const char* src = dtype() == DType::F32 ? reinterpret_cast<const char*>(f32.data())
                                          : reinterpret_cast<const char*>(h16.data());
  Failures f;
  auto check = [&](size_t start, size_t n) {
    std::vector<float> out(n, -1.0f);
    k.to_f32[ti](src + start * esize, out.data(), n);
    for (size_t i = 0; i < n; ++i) {
      const double w = want[start + i];
      const bool ok = std::isnan(w) ? std::isnan(out[i])
                                    : (static_cast<double>(out[i]) == w &&
                                       std::signbit(out[i]) == std::signbit(w));
      if (!ok && f.add()) {
        ADD_FAILURE() << "start=" << start << " n=" << n << " i=" << i << ": " << out[i] << " vs "
                      << w;
      }
    }
  };
  check(0, want.size());
  for (size_t start = 0; start < 9; ++start)
    for (size_t n = 0; n <= 33; ++n) check(start * 1001, n);
  check(3, want.size() - 3);  // an unaligned start and a ragged tail
  EXPECT_EQ(f.count(), 0);
}

// dot against the double reference (gemv equality is checked above) and axpy: y + a*x rounded
// once (FMA) or twice (scalar), never off by more than an ulp of the larger term.
TEST_P(KernelSet, DotAndAxpyMatchReference) {
  const Kernels& k = kern();
  std::mt19937 rng(99);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  Failures f;
  for (const int n : {0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 64, 100, 257}) {
    std::vector<float> a(n), b(n), y(n);
    for (int i = 0; i < n; ++i) {
      a[i] = u(rng);
      b[i] = u(rng);
      y[i] = u(rng);
    }

    double sum = 0, mag = 0;
    for (int i = 0; i < n; ++i) {
      sum += static_cast<double>(a[i]) * b[i];
      mag += std::fabs(static_cast<double>(a[i]) * b[i]);
    }
    const float d = k.dot(a.data(), b.data(), n);
    if (!(std::fabs(d - sum) <= 1e-5 * mag + 1e-6) && f.add()) {
      ADD_FAILURE() << "dot n=" << n << ": " << d << " vs " << sum;
    }

    const float alpha = u(rng);
    std::vector<float> got = y;
    k.axpy(alpha, a.data(), got.data(), n);
    for (int i = 0; i < n; ++i) {
      const double prod = static_cast<double>(alpha) * a[i];
      const double want = y[i] + prod;
      const double tol = std::ldexp(std::fabs(y[i]) + std::fabs(prod), -23);
      if (!(std::fabs(got[i] - want) <= tol) && f.add()) {
        ADD_FAILURE() << "axpy n=" << n << " i=" << i << ": " << got[i] << " vs " << want;
      }
    }
  }
  EXPECT_EQ(f.count(), 0);
}

// gemm_bf16_acts (AVX-512 BF16) against a double-precision sum over the bf16 weights and the
// activations rounded to bf16 as half.h rounds them (to nearest even), for shapes across its
// panels of 32 rows, tiles of 12 tokens, blocks of 512 k and odd k (a half pair). The products of
// two bf16 are exact in fp32 (8-bit by 8-bit significands), so only the k additions into the fp32
// sum round, each by at most 2^-24 of a partial sum no larger than sum|terms|: |err| <= k 2^-24
// sum|terms|, held here with a factor 2 to spare (whatever order the hardware adds a pair's two
// products in). The hardware treats bf16 subnormals as zero and flushes subnormal results: under
// 2^-126 a term, far below the 2^-100 allowed for them.
TEST(Avx512Bf16, GemmBf16ActsMatchesRoundedActivationReference) {
  if (!isa_runs_here(Isa::Avx512)) {
    GTEST_SKIP() << "CPU lacks " << loom::simd::isa_name(Isa::Avx512);
  }
  const Kernels& k = loom::simd::kernels(Isa::Avx512);
  if (k.gemm_bf16_acts == nullptr) {
    GTEST_SKIP() << "CPU lacks AVX-512 BF16 (or BW, VL): the AVX-512 set has no gemm_bf16_acts";
  }
  constexpr int kRows[] = {1, 15, 16, 17, 31, 32, 33, 64, 65, 100};
  constexpr int kMs[] = {1, 5, 11, 12, 13, 25};
  constexpr int kK[] = {1, 2, 3, 31, 32, 33, 511, 512, 513, 1030};
  constexpr int kMaxM = 25;
  std::mt19937 rng(2024);
  Failures f;
  for (const int K : kK) {
    for (const int rows : kRows) {
      SCOPED_TRACE(testing::Message() << "k=" << K << " rows=" << rows);
      const size_t ldw = K + 1 + (K + rows) % 5, ldx = K + 3, ldo = rows + 2;
      const Matrix w = make_matrix(DType::BF16, rows, K, ldw, rng);
      const std::vector<float> x = make_activations(kMaxM, K, ldx, rng);

      // The references of every (token, row): rounded activations, and exact fp32 ones.
      std::vector<double> want(static_cast<size_t>(kMaxM) * rows), mag(want.size()),
          unrounded(want.size());
      for (int t = 0; t < kMaxM; ++t) {
        for (int r = 0; r < rows; ++r) {
          double s = 0, a = 0, u = 0;
          for (int i = 0; i < K; ++i) {
            const float xi = x[t * ldx + i];
            const double wi = w.exact[static_cast<size_t>(r) * K + i];
            const double p = wi * bf16_reference(loom::simd::f32_to_bf16(xi));
            s += p;
            a += std::fabs(p);
            u += wi * xi;
          }
          want[t * rows + r] = s;
          mag[t * rows + r] = a;
          unrounded[t * rows + r] = u;
        }
      }

      // The activations rounded by to_bf16, which must be half.h's rounding.
      std::vector<uint16_t> xb(x.size());
      k.to_bf16(x.data(), xb.data(), x.size());
      for (size_t i = 0; i < x.size(); ++i) {
        if (xb[i] != loom::simd::f32_to_bf16(x[i]) && f.add()) {
          ADD_FAILURE() << "to_bf16(" << x[i] << ") = " << xb[i] << ", want "
                        << loom::simd::f32_to_bf16(x[i]);
        }
      }
      for (const int m : kMs) {
        const float sentinel = -1234.5f;
        std::vector<float> out((m - 1) * ldo + rows, sentinel);  // exact size, for ASan
        // X ends at the last token's K-th activation, for ASan: no read past a row's end.
        const std::vector<uint16_t> xm(xb.begin(), xb.begin() + (m - 1) * ldx + K);
        k.gemm_bf16_acts(w.h16.data(), ldw, xm.data(), ldx, m, K, out.data(), ldo, rows);
        EXPECT_EQ(loom::test::padding_writes(out, m, rows, ldo, sentinel), 0) << "m=" << m;
        for (int t = 0; t < m; ++t) {
          for (size_t r = 0; r < static_cast<size_t>(rows); ++r) {
            const float got = out[t * ldo + r];
            const size_t at = t * rows + r;
            const double tol = K * std::ldexp(mag[at], -23) + std::ldexp(1.0, -100);
            if (!(std::fabs(got - want[at]) <= tol) && f.add()) {
              ADD_FAILURE() << "m=" << m << " t=" << t << " r=" << r << ": " << got
                            << " vs rounded-activation reference " << want[at] << " (tolerance "
                            << tol << ")";
            }
            // And from the fp32 activations' product by the rounding only: each activation
            // moves by at most 2^-8 of its rounded value.
            const double moved = std::ldexp(mag[at], -8) + tol;
            if (!(std::fabs(got - unrounded[at]) <= moved) && f.add()) {
              ADD_FAILURE() << "m=" << m << " t=" << t << " r=" << r << ": " << got
                            << " vs fp32-activation reference " << unrounded[at];
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(f.count(), 0);
}

INSTANTIATE_TEST_SUITE_P(Isas, KernelSet, ::testing::Values(Isa::Scalar, Isa::Avx2, Isa::Avx512),
                         [](const auto& info) { return param_name(info.param); });

INSTANTIATE_TEST_SUITE_P(IsasAndDTypes, KernelSetDType,
                         ::testing::Combine(::testing::Values(Isa::Scalar, Isa::Avx2, Isa::Avx512),
                                            ::testing::Values(DType::F32, DType::F16, DType::BF16)),
                         [](const auto& info) {
                           return param_name(std::get<0>(info.param)) + "_" +
                                  param_name(std::get<1>(info.param));
                         });

}  // namespace
