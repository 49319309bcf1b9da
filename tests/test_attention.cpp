// Attention over f32, f16 and bf16 KV caches against a plain double-precision attention, for many
// shapes; the results' independence of thread count and batching; the simd layer's pieces (the
// polynomial exp, the rounding stores) in every kernel set the CPU runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "ops/attention.h"
#include "simd/attention_kernels.h"
#include "simd/cpu.h"
#include "simd/half.h"
#include "support/float_checks.h"
#include "support/reference_attention.h"

namespace {

using loom::DType;
using loom::test::bits_of;
using loom::test::Failures;
using loom::test::kNaN;

std::vector<const loom::simd::AttentionKernels*> kernel_sets() {
  std::vector<const loom::simd::AttentionKernels*> sets{&loom::simd::scalar_attention_kernels()};
  const loom::simd::CpuFeatures& f = loom::simd::cpu_features();
  if (f.avx2 && f.fma && f.f16c) sets.push_back(&loom::simd::avx2_attention_kernels());
  if (loom::simd::isa_supported(loom::simd::Isa::Avx512)) {
    sets.push_back(&loom::simd::avx512_attention_kernels());
  }
  return sets;
}

const char* set_name(const loom::simd::AttentionKernels* k) {
  return k == &loom::simd::scalar_attention_kernels() ? "scalar"
         : k == &loom::simd::avx2_attention_kernels() ? "avx2"
                                                      : "avx512";
}

// ---------------------------------------------------------------------------------------------
// exp

// simd/exp_poly.h measures 8.3e-8 relative over [-87, 88]; a little room for other compilers'
// rounding of the polynomial, still under 1.3 ulp.
constexpr double kExpRelErr = 1.5e-7;

TEST(ExpPoly, MatchesStdExpOverItsRange) {
  std::vector<float> x;
  for (int i = 0; i <= 2'000'000; ++i) x.push_back(static_cast<float>(-87.0 + 175.0 * i / 2e6));
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> small(-1, 1);
  for (int i = 0; i < 100'000; ++i) x.push_back(small(rng));  // dense near 0: every r range
  for (const auto* k : kernel_sets()) {
    std::vector<float> y(x.size());
    k->exp(x.data(), y.data(), x.size());
    double worst = 0;
    float at = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = std::exp(static_cast<double>(x[i]));
      const double rel = std::abs(y[i] - want) / want;
      if (rel > worst) worst = rel, at = x[i];
    }
    std::printf("[ exp ] %s: max relative error %.3g at x = %.9g\n", set_name(k), worst, at);
    EXPECT_LE(worst, kExpRelErr) << set_name(k) << " at x = " << at;
  }
}

TEST(ExpPoly, EdgesAndTails) {
  const float inf = std::numeric_limits<float>::infinity();
  // Odd lengths: the vector sets' tails too.
  const std::vector<float> x = {0.0f, -inf, -87.4f, -100.0f, -1e30f, kNaN, 1.0f};
  for (const auto* k : kernel_sets()) {
    std::vector<float> y(x.size(), 42.0f);
    k->exp(x.data(), y.data(), x.size());
    EXPECT_EQ(y[0], 1.0f) << set_name(k);
    for (int i : {1, 2, 3, 4}) EXPECT_EQ(bits_of(y[i]), 0u) << set_name(k) << " x=" << x[i];
    EXPECT_TRUE(std::isnan(y[5])) << set_name(k);
    EXPECT_NEAR(y[6], std::exp(1.0), 3e-7) << set_name(k);
  }
}

// ---------------------------------------------------------------------------------------------
// stores: f32 -> cache type, rounded to nearest even

std::vector<float> awkward_floats() {
  std::vector<float> v = {0.0f,
                          -0.0f,
                          1.0f,
                          -1.0f,
                          65504.0f,
                          65519.0f,
                          65520.0f,
                          1e6f,
                          -1e6f,
                          std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity(),
                          6e-8f,
                          3e-8f,
                          2.98e-8f,
                          1e-5f,
                          -6.1e-5f,
                          1e-40f,
                          3.4e38f};
  // Exact ties of both formats: a halfway bit pattern with odd and even kept parts.
  for (uint32_t b : {0x3f808000u, 0x3f818000u, 0x3f801000u, 0x3f803000u, 0x7f7fffffu}) {
    v.push_back(std::bit_cast<float>(b));
  }
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(-3, 3);
  std::uniform_int_distribution<uint32_t> any;
  for (int i = 0; i < 5000; ++i) v.push_back(u(rng));
  for (int i = 0; i < 5000; ++i) {
    const float f = std::bit_cast<float>(any(rng));
    if (!std::isnan(f)) v.push_back(f);
  }
  return v;
}

TEST(KvStore, RoundsAsTheScalarConversions) {
  std::vector<float> src = awkward_floats();
  src.push_back(kNaN);
  src.push_back(-kNaN);
  src.push_back(std::bit_cast<float>(0x7f800001u));  // signalling NaN: must not become inf
  for (const auto* k : kernel_sets()) {
    for (size_t n : {src.size(), src.size() - 5}) {  // and a tail
      std::vector<uint16_t> f16(n), bf16(n);
      k->store[static_cast<int>(DType::F16)](src.data(), f16.data(), n);
      k->store[static_cast<int>(DType::BF16)](src.data(), bf16.data(), n);
      Failures f;
      for (size_t i = 0; i < n; ++i) {
        if (std::isnan(src[i])) {
          EXPECT_TRUE(std::isnan(loom::simd::f16_to_f32(f16[i]))) << i;
          EXPECT_TRUE(std::isnan(loom::simd::bf16_to_f32(bf16[i]))) << i;
          continue;
        }
        if ((f16[i] != loom::simd::f32_to_f16(src[i]) ||
             bf16[i] != loom::simd::f32_to_bf16(src[i])) &&
            f.add()) {
          ADD_FAILURE() << set_name(k) << ": " << src[i] << " -> f16 " << f16[i] << " bf16 "
                        << bf16[i];
        }
      }
      EXPECT_EQ(f.count(), 0) << set_name(k);
      std::vector<float> f32(n);
      k->store[static_cast<int>(DType::F32)](src.data(), f32.data(), n);
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(bits_of(f32[i]), bits_of(src[i]));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// attention against a double-precision reference

// A cache of one layer in TYPE: the stored bits, and the values they hold as floats.
struct Cache {
  DType type;
  std::vector<std::byte> k, v;
  std::vector<float> k_exact, v_exact;
};

size_t elem(DType t) {
  return t == DType::F32 ? 4 : 2;
}

// Positions from n_pos on, and before FIRST, hold NaN, so a read outside the filled part poisons
// the output.
Cache make_cache(DType t, int n_kv, int ctx, int hd, int n_pos, std::mt19937& rng, int first = 0) {
  const size_t n = static_cast<size_t>(n_kv) * ctx * hd;
  Cache c{t, std::vector<std::byte>(n * elem(t)), std::vector<std::byte>(n * elem(t)),
          std::vector<float>(n, kNaN), std::vector<float>(n, kNaN)};
  std::vector<float> nan(n, kNaN);
  loom::ops::kv_store(t, nan.data(), c.k.data(), n);
  loom::ops::kv_store(t, nan.data(), c.v.data(), n);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> row(hd);
  auto widen = [&](const std::byte* p, float* out) {
    for (int d = 0; d < hd; ++d) {
      uint16_t h;
      std::memcpy(&h, p + d * 2, 2);
      if (t == DType::F32) {
        std::memcpy(out + d, p + d * 4, 4);
      } else {
        out[d] = t == DType::F16 ? loom::simd::f16_to_f32(h) : loom::simd::bf16_to_f32(h);
      }
    }
  };
  for (int g = 0; g < n_kv; ++g) {
    for (int p = first; p < n_pos; ++p) {
      const size_t at = (static_cast<size_t>(g) * ctx + p) * hd;
      for (auto [bytes, exact] : {std::pair{&c.k, &c.k_exact}, std::pair{&c.v, &c.v_exact}}) {
        for (float& x : row) x = u(rng);
        loom::ops::kv_store(t, row.data(), bytes->data() + at * elem(t), hd);
        widen(bytes->data() + at * elem(t), exact->data() + at);
      }
    }
  }
  return c;
}

struct Case {
  int n_heads, n_kv_heads, head_dim, m, pos0;
  DType kv;
};

std::string case_name(const Case& c) {
  std::ostringstream s;
  s << "h" << c.n_heads << "kv" << c.n_kv_heads << "d" << c.head_dim << "m" << c.m << "pos"
    << c.pos0 << "_" << loom::dtype_name(c.kv);
  return s.str();
}

class Attention : public ::testing::TestWithParam<Case> {};

// The reference in double over the values the cache holds (so rounding to f16/bf16 is not an
// error here: test_golden measures that). Tolerance: the kernel's fp32 scores are off by a few
// ulp of the sum of |q_d k_d|, which moves each weight by that much relatively; 1e-5 of the
// weighted magnitude of V covers it for these magnitudes (|q| <= 3, |k|, |v| <= 1).
TEST_P(Attention, MatchesReferenceAndIsThreadAndBatchInvariant) {
  const Case c = GetParam();
  const int ctx = c.pos0 + c.m + 5;  // larger than used: the head stride is ctx, not pos0+m
  const loom::ops::AttentionShape shape{c.n_heads, c.n_kv_heads, c.head_dim, ctx, c.kv};
  const int hd = c.head_dim, q_dim = c.n_heads * hd, n_pos = c.pos0 + c.m;
  std::mt19937 rng(c.n_heads * 1000 + c.n_kv_heads * 100 + hd + c.m * 7 + c.pos0 +
                   static_cast<int>(c.kv));
  std::uniform_real_distribution<float> uq(-3, 3);
  std::vector<float> q(static_cast<size_t>(c.m) * q_dim);
  for (float& x : q) x = uq(rng);
  const Cache cache = make_cache(c.kv, c.n_kv_heads, ctx, hd, n_pos, rng);

  auto run = [&](const float* qs, int m, int pos0, int threads) {
    std::vector<float> out(static_cast<size_t>(m) * q_dim, kNaN);
    // Exactly the size attention asks for: ASan sees any write past it.
    std::vector<float> scratch(loom::ops::attention_scratch_floats(shape, threads));
    loom::ops::attention(qs, m, pos0, cache.k.data(), cache.v.data(), shape, out.data(),
                         scratch.data(), threads);
    return out;
  };
  const std::vector<float> out = run(q.data(), c.m, c.pos0, 1);

  const loom::test::AttentionReference want =
      loom::test::reference_attention(q.data(), cache.k_exact.data(), cache.v_exact.data(), c.m,
                                      c.pos0, c.n_heads, c.n_kv_heads, hd, ctx);
  Failures f;
  for (size_t e = 0; e < out.size(); ++e) {
    if (!(std::fabs(out[e] - want.out[e]) <= 1e-5 * want.mag[e] + 1e-6) && f.add()) {
      ADD_FAILURE() << "element " << e << " (query " << e / q_dim << "): " << out[e] << " vs "
                    << want.out[e];
    }
  }
  EXPECT_EQ(f.count(), 0);

  // 8 threads: more than the jobs of a decode step, so its spans run apart and are merged.
  for (const int threads : {2, 3, 8}) {
    const std::vector<float> other = run(q.data(), c.m, c.pos0, threads);
    size_t at = 0;
    while (at < out.size() && bits_of(out[at]) == bits_of(other[at])) ++at;
    EXPECT_EQ(at, out.size()) << "threads=" << threads << " differs at " << at;
  }
  // Each query decoded alone, as generation does, gives its row of the batch.
  for (int i = 0; i < c.m; ++i) {
    for (const int threads : {1, 8}) {
      const std::vector<float> one =
          run(q.data() + static_cast<size_t>(i) * q_dim, 1, c.pos0 + i, threads);
      for (int e = 0; e < q_dim; ++e) {
        ASSERT_EQ(bits_of(one[e]), bits_of(out[static_cast<size_t>(i) * q_dim + e]))
            << "query " << i << " alone, " << threads << " threads, element " << e;
      }
    }
  }
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (DType kv : {DType::F32, DType::F16, DType::BF16}) {
    for (int hd : {64, 128}) {
      // MHA, GQA groups of 4 and 8.
      for (auto [nh, nkv] : {std::pair{4, 4}, std::pair{8, 2}, std::pair{8, 1}}) {
        // One key; a block's edge; more than a span; prompts, across a span's edge too.
        for (auto [m, pos0] : {std::pair{1, 0}, std::pair{1, 64}, std::pair{1, 299},
                               std::pair{5, 0}, std::pair{3, 61}, std::pair{7, 250}}) {
          out.push_back({nh, nkv, hd, m, pos0, kv});
        }
      }
    }
    // The fixtures' shapes: head_dim 8 and 16, a group of 3 (an odd tail of heads).
    out.push_back({8, 4, 8, 6, 300, kv});
    out.push_back({6, 2, 16, 4, 255, kv});
    out.push_back({8, 2, 16, 1, 520, kv});
    // A head_dim that is not a multiple of 64 (AVX-512's value tiles end in a narrower one).
    out.push_back({8, 2, 96, 5, 250, kv});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Shapes, Attention, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return case_name(info.param); });

// ---------------------------------------------------------------------------------------------
// sliding window

struct WindowCase {
  int n_heads, n_kv_heads, head_dim, m, pos0, window;
  DType kv;
};

std::string window_case_name(const WindowCase& c) {
  std::ostringstream s;
  s << "h" << c.n_heads << "kv" << c.n_kv_heads << "d" << c.head_dim << "m" << c.m << "pos"
    << c.pos0 << "w" << c.window << "_" << loom::dtype_name(c.kv);
  return s.str();
}

class WindowAttention : public ::testing::TestWithParam<WindowCase> {};

// Each query sees the keys j with i - window < j <= i: against the double reference, with every
// position before the first query's window holding NaN (a read of one poisons the row), for any
// thread count and with each query alone as a decode step reads it.
TEST_P(WindowAttention, MatchesReferenceAndReadsOnlyTheWindow) {
  const WindowCase c = GetParam();
  const int ctx = c.pos0 + c.m + 3;
  const loom::ops::AttentionShape shape{c.n_heads, c.n_kv_heads, c.head_dim, ctx, c.kv, c.window};
  const int hd = c.head_dim, q_dim = c.n_heads * hd, n_pos = c.pos0 + c.m;
  std::mt19937 rng(c.n_heads * 1000 + c.window * 31 + hd + c.m * 7 + c.pos0);
  std::uniform_real_distribution<float> uq(-3, 3);
  std::vector<float> q(static_cast<size_t>(c.m) * q_dim);
  for (float& x : q) x = uq(rng);
  const int first = std::max(0, c.pos0 - c.window + 1);
  const Cache cache = make_cache(c.kv, c.n_kv_heads, ctx, hd, n_pos, rng, first);

  auto run = [&](const float* qs, int m, int pos0, int threads) {
    std::vector<float> out(static_cast<size_t>(m) * q_dim, kNaN);
    std::vector<float> scratch(loom::ops::attention_scratch_floats(shape, threads));
    loom::ops::attention(qs, m, pos0, cache.k.data(), cache.v.data(), shape, out.data(),
                         scratch.data(), threads);
    return out;
  };
  const std::vector<float> out = run(q.data(), c.m, c.pos0, 1);
  const loom::test::AttentionReference want =
      loom::test::reference_attention(q.data(), cache.k_exact.data(), cache.v_exact.data(), c.m,
                                      c.pos0, c.n_heads, c.n_kv_heads, hd, ctx, c.window);
  Failures f;
  for (size_t e = 0; e < out.size(); ++e) {
    if (!(std::fabs(out[e] - want.out[e]) <= 1e-5 * want.mag[e] + 1e-6) && f.add()) {
      ADD_FAILURE() << "element " << e << " (query " << e / q_dim << "): " << out[e] << " vs "
                    << want.out[e];
    }
  }
  EXPECT_EQ(f.count(), 0);
  for (const int threads : {3, 8}) {
    EXPECT_EQ(run(q.data(), c.m, c.pos0, threads), out) << threads << " threads";
  }
  for (int i = 0; i < c.m; ++i) {
    const std::vector<float> one = run(q.data() + static_cast<size_t>(i) * q_dim, 1, c.pos0 + i, 8);
    ASSERT_TRUE(std::equal(one.begin(), one.end(), out.begin() + static_cast<long>(i) * q_dim))
        << "query " << i << " alone";
  }
}

std::vector<WindowCase> window_cases() {
  std::vector<WindowCase> out;
  for (DType kv : {DType::F32, DType::F16, DType::BF16}) {
    // Windows of one key, a block, across a span's cut, longer than a span; queries before the
    // window fills, where it starts sliding, and far past it.
    for (auto [m, pos0, w] :
         {std::tuple{4, 0, 1}, std::tuple{3, 70, 1}, std::tuple{6, 60, 64}, std::tuple{5, 250, 100},
          std::tuple{1, 1000, 300}, std::tuple{7, 600, 300}, std::tuple{2, 200, 512}}) {
      out.push_back({8, 2, 64, m, pos0, w, kv});
      out.push_back({6, 2, 16, m, pos0, w, kv});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Shapes, WindowAttention, ::testing::ValuesIn(window_cases()),
                         [](const auto& info) { return window_case_name(info.param); });

// A window of one key: softmax over a single score is 1, so each query's output is exactly its
// own position's value row. Pins the inequality's ends: i itself is in, i - 1 is out.
TEST(WindowAttention, OfOneKeyIsTheOwnValue) {
  const int hd = 32, n_heads = 4, n_kv = 2, m = 5, pos0 = 40, ctx = pos0 + m;
  const loom::ops::AttentionShape shape{n_heads, n_kv, hd, ctx, DType::F32, 1};
  std::mt19937 rng(5);
  const Cache cache = make_cache(DType::F32, n_kv, ctx, hd, ctx, rng);
  std::vector<float> q(static_cast<size_t>(m) * n_heads * hd, 0.5f);
  std::vector<float> out(q.size());
  std::vector<float> scratch(loom::ops::attention_scratch_floats(shape, 2));
  loom::ops::attention(q.data(), m, pos0, cache.k.data(), cache.v.data(), shape, out.data(),
                       scratch.data(), 2);
  for (int i = 0; i < m; ++i) {
    for (int h = 0; h < n_heads; ++h) {
      const float* v = cache.v_exact.data() + (static_cast<size_t>(h / 2) * ctx + pos0 + i) * hd;
      const float* o = out.data() + (static_cast<size_t>(i) * n_heads + h) * hd;
      for (int d = 0; d < hd; ++d) ASSERT_EQ(bits_of(o[d]), bits_of(v[d])) << i << " " << h;
    }
  }
}

// The same window's keys in a ring of C slots (position p in slot p % C, C a multiple of the
// span) and in a whole cache give the same bits, wherever the ring wraps: the kernels see the
// same spans in the same order. The ring's other slots hold NaN.
TEST(WindowAttention, RingGivesTheWholeCachesBitsWhereverItWraps) {
  const int hd = 64, n_heads = 8, n_kv = 2, window = 300, m = 6;
  for (DType kv : {DType::F32, DType::BF16}) {
    for (const int slots : {512, 768}) {
      for (const int end : {700, 1024, 1030, 1300, 1536, 1800}) {  // positions written: < end
        SCOPED_TRACE(testing::Message()
                     << loom::dtype_name(kv) << " slots " << slots << " end " << end);
        ASSERT_GE(slots, window + m - 1);
        const int pos0 = end - m;
        std::mt19937 rng(end + slots);
        const Cache whole = make_cache(kv, n_kv, end, hd, end, rng);
        // The ring: every slot NaN, then the window's positions copied in from the whole cache.
        Cache ring = make_cache(kv, n_kv, slots, hd, 0, rng);
        const size_t row = hd * elem(kv);
        for (int g = 0; g < n_kv; ++g) {
          for (int p = std::max(0, pos0 - window + 1); p < end; ++p) {
            const size_t from = (static_cast<size_t>(g) * end + p) * row;
            const size_t to = (static_cast<size_t>(g) * slots + p % slots) * row;
            std::memcpy(ring.k.data() + to, whole.k.data() + from, row);
            std::memcpy(ring.v.data() + to, whole.v.data() + from, row);
          }
        }
        std::uniform_real_distribution<float> uq(-3, 3);
        std::vector<float> q(static_cast<size_t>(m) * n_heads * hd);
        for (float& x : q) x = uq(rng);
        auto run = [&](const Cache& c, int ctx, int threads, int first_query = 0) {
          const loom::ops::AttentionShape shape{n_heads, n_kv, hd, ctx, kv, window};
          const size_t q_dim = static_cast<size_t>(n_heads) * hd;
          std::vector<float> out((m - first_query) * q_dim, kNaN);
          std::vector<float> scratch(loom::ops::attention_scratch_floats(shape, threads));
          loom::ops::attention(q.data() + first_query * q_dim, m - first_query, pos0 + first_query,
                               c.k.data(), c.v.data(), shape, out.data(), scratch.data(), threads);
          return out;
        };
        const std::vector<float> want = run(whole, end, 1);
        for (float x : want) ASSERT_FALSE(std::isnan(x));
        for (const int threads : {1, 8}) EXPECT_EQ(run(ring, slots, threads), want) << threads;
        // The last query alone, its spans on several threads (a decode step).
        const std::vector<float> last = run(ring, slots, 8, m - 1);
        EXPECT_TRUE(std::equal(last.begin(), last.end(), want.end() - last.size()));
      }
    }
  }
}

}  // namespace
