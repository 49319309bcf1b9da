// The ops layer and the RoPE frequencies against plain double-precision loops, and the
// invariances generation relies on: results independent of thread count and of batching.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <numbers>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "model/rope_freq.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/matmul.h"
#include "ops/norm.h"
#include "ops/rope.h"
#include "ops/team.h"
#include "simd/half.h"
#include "support/error_of.h"
#include "support/float_checks.h"
#include "support/reference_attention.h"

namespace {

using loom::DType;

using loom::test::bits_of;
using loom::test::Failures;
using loom::test::kNaN;
constexpr double kEps = std::numeric_limits<float>::epsilon();

// True when A and B hold the same bits (so -0 and +0 differ, and equal NaNs compare equal).
bool same_bits(const std::vector<float>& a, const std::vector<float>& b, size_t* first = nullptr) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (bits_of(a[i]) != bits_of(b[i])) {
      if (first) *first = i;
      return false;
    }
  }
  return true;
}

std::vector<float> random_vector(size_t n, float lo, float hi, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// A weight matrix in DTYPE with its stored values widened to double.
struct Weights {
  DType dtype;
  int rows, cols;
  std::vector<float> f32;
  std::vector<uint16_t> h16;
  std::vector<double> exact;

  loom::ops::MatRef ref() const {
    return {dtype, rows, cols,
            dtype == DType::F32 ? static_cast<const void*>(f32.data()) : h16.data()};
  }
};

Weights make_weights(DType dtype, int rows, int cols, std::mt19937& rng) {
  Weights w{dtype, rows, cols, {}, {}, {}};
  for (const float v : random_vector(static_cast<size_t>(rows) * cols, -1, 1, rng)) {
    switch (dtype) {
      case DType::F32:
        w.f32.push_back(v);
        w.exact.push_back(v);
        break;
      case DType::F16:
        w.h16.push_back(loom::simd::f32_to_f16(v));
        w.exact.push_back(loom::simd::f16_to_f32(w.h16.back()));  // exact: tested in test_kernels
        break;
      case DType::BF16:
        w.h16.push_back(loom::simd::f32_to_bf16(v));
        w.exact.push_back(loom::simd::bf16_to_f32(w.h16.back()));
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
  return w;
}

// ---------------------------------------------------------------------------------------------
// matmul and gather_rows

class OpsByDType : public ::testing::TestWithParam<DType> {};

// Against the reference, then bit for bit: every thread count, and each token computed alone
// (m = 1 takes the gemv path) against the same token inside the batch.
TEST_P(OpsByDType, MatmulMatchesReferenceAndIsThreadAndBatchInvariant) {
  const DType dtype = GetParam();
  std::mt19937 rng(5 + static_cast<int>(dtype));
  Failures f;
  // Rows around matmul's 12-row blocks (100 rows: 9 blocks, enough for 8 threads).
  for (const int rows : {1, 5, 13, 37, 100}) {
    for (const int cols : {1, 9, 64, 257}) {
      for (const int m : {1, 2, 5, 67}) {
        SCOPED_TRACE(testing::Message() << "rows=" << rows << " cols=" << cols << " m=" << m);
        const Weights w = make_weights(dtype, rows, cols, rng);
        const std::vector<float> x = random_vector(static_cast<size_t>(m) * cols, -1, 1, rng);
        std::vector<float> y(static_cast<size_t>(m) * rows, kNaN);
        loom::ops::matmul(x.data(), m, w.ref(), y.data(), 1);

        for (int t = 0; t < m; ++t) {
          for (int r = 0; r < rows; ++r) {
            double sum = 0, mag = 0;
            for (int i = 0; i < cols; ++i) {
              const double p = w.exact[static_cast<size_t>(r) * cols + i] * x[t * cols + i];
              sum += p;
              mag += std::fabs(p);
            }
            const float got = y[t * rows + r];
            if (!(std::fabs(got - sum) <= 1e-5 * mag + 1e-6) && f.add()) {
              ADD_FAILURE() << "t=" << t << " r=" << r << ": " << got << " vs " << sum;
            }
          }
        }

        // A single 12-row block leaves nothing to split between threads.
        for (const int threads : {2, 3, 8}) {
          if (rows <= 12) break;
          std::vector<float> yt(y.size(), kNaN);
          loom::ops::matmul(x.data(), m, w.ref(), yt.data(), threads);
          size_t at = 0;
          if (!same_bits(y, yt, &at) && f.add()) {
            ADD_FAILURE() << "threads=" << threads << " differs at " << at << ": " << yt[at]
                          << " vs " << y[at];
          }
        }
        for (int t = 0; t < m && m > 1; ++t) {
          std::vector<float> one(rows, kNaN);
          loom::ops::matmul(x.data() + t * cols, 1, w.ref(), one.data(), 1);
          const std::vector<float> in_batch(y.begin() + t * rows, y.begin() + (t + 1) * rows);
          size_t at = 0;
          if (!same_bits(one, in_batch, &at) && f.add()) {
            ADD_FAILURE() << "token " << t << " alone differs at row " << at << ": " << one[at]
                          << " vs " << in_batch[at];
          }
        }
      }
    }
  }
  EXPECT_EQ(f.count(), 0);
}

// A group (q, k and v at once) gives each product's bits as matmul computes it alone, on both
// paths and any thread count, the rows of all matrices shared out in chunks together.
TEST_P(OpsByDType, MatmulGroupIsEachProductAlone) {
  const DType dtype = GetParam();
  std::mt19937 rng(23);
  const int cols = 96;
  const std::vector<Weights> ws = {make_weights(dtype, 261, cols, rng),
                                   make_weights(dtype, 37, cols, rng),
                                   make_weights(dtype, 64, cols, rng)};
  for (const loom::ops::Pass pass : {loom::ops::Pass::Prompt, loom::ops::Pass::Decode}) {
    for (const int m : {1, 9}) {
      if (pass == loom::ops::Pass::Decode && m > 1) continue;
      const std::vector<float> x = random_vector(static_cast<size_t>(m) * cols, -1, 1, rng);
      std::vector<std::vector<float>> alone;
      for (const Weights& w : ws) {
        alone.emplace_back(static_cast<size_t>(m) * w.rows, kNaN);
        loom::ops::matmul(x.data(), m, w.ref(), alone.back().data(), 1, pass);
      }
      for (const int threads : {1, 2, 3, 8, 40}) {
        SCOPED_TRACE(testing::Message() << "decode=" << (pass == loom::ops::Pass::Decode)
                                        << " m=" << m << " threads=" << threads);
        std::vector<std::vector<float>> got;
        std::vector<loom::ops::Product> group;
        for (const Weights& w : ws) got.emplace_back(static_cast<size_t>(m) * w.rows, kNaN);
        for (size_t i = 0; i < ws.size(); ++i) group.push_back({ws[i].ref(), got[i].data()});
        loom::ops::matmul_group(x.data(), m, group, threads, pass);
        for (size_t i = 0; i < ws.size(); ++i) {
          size_t at = 0;
          EXPECT_TRUE(same_bits(alone[i], got[i], &at))
              << "product " << i << " differs at " << at << ": " << got[i][at] << " vs "
              << alone[i][at];
        }
      }
    }
  }
  // Matrices of different widths cannot share one input.
  const Weights narrow = make_weights(dtype, 4, cols - 1, rng);
  std::vector<float> x(cols, 1.0f), y0(261), y1(4);
  const loom::ops::Product bad[] = {{ws[0].ref(), y0.data()}, {narrow.ref(), y1.data()}};
  EXPECT_THROW(loom::ops::matmul_group(x.data(), 1, bad, 2, loom::ops::Pass::Decode),
               std::exception);
}

// A product's bias (a Linear layer's) is added to every row of its output: each output is the
// product's, rounded, plus the bias, rounded once, on both paths and any thread count.
TEST_P(OpsByDType, MatmulAddsEachProductsBias) {
  const DType dtype = GetParam();
  std::mt19937 rng(29);
  const int cols = 64;
  const std::vector<Weights> ws = {make_weights(dtype, 70, cols, rng),
                                   make_weights(dtype, 33, cols, rng)};
  std::vector<std::vector<float>> biases;
  for (const Weights& w : ws) biases.push_back(random_vector(w.rows, -2, 2, rng));
  for (const loom::ops::Pass pass : {loom::ops::Pass::Prompt, loom::ops::Pass::Decode}) {
    for (const int m : {1, 5}) {
      if (pass == loom::ops::Pass::Decode && m > 1) continue;
      const std::vector<float> x = random_vector(static_cast<size_t>(m) * cols, -1, 1, rng);
      for (const int threads : {1, 2, 3}) {
        SCOPED_TRACE(testing::Message() << "decode=" << (pass == loom::ops::Pass::Decode)
                                        << " m=" << m << " threads=" << threads);
        std::vector<std::vector<float>> plain, biased, alone;
        std::vector<loom::ops::Product> group;
        for (size_t i = 0; i < ws.size(); ++i) {
          plain.emplace_back(static_cast<size_t>(m) * ws[i].rows, kNaN);
          biased.emplace_back(plain.back().size(), kNaN);
          alone.emplace_back(plain.back().size(), kNaN);
          loom::ops::matmul(x.data(), m, ws[i].ref(), plain[i].data(), threads, pass);
          loom::ops::matmul(x.data(), m, ws[i].ref(), alone[i].data(), threads, pass, {},
                            biases[i].data());
        }
        for (size_t i = 0; i < ws.size(); ++i) {
          group.push_back({ws[i].ref(), biased[i].data(), biases[i].data()});
        }
        loom::ops::matmul_group(x.data(), m, group, threads, pass);
        for (size_t i = 0; i < ws.size(); ++i) {
          for (int t = 0; t < m; ++t) {
            for (int r = 0; r < ws[i].rows; ++r) {
              const size_t at = static_cast<size_t>(t) * ws[i].rows + r;
              const float want = plain[i][at] + biases[i][r];
              ASSERT_EQ(bits_of(biased[i][at]), bits_of(want))
                  << "product " << i << " token " << t << " row " << r;
              ASSERT_EQ(bits_of(alone[i][at]), bits_of(want))
                  << "matmul alone, product " << i << " token " << t << " row " << r;
            }
          }
        }
      }
    }
  }
}

TEST_P(OpsByDType, GatherRowsConvertsExactly) {
  const DType dtype = GetParam();
  std::mt19937 rng(11);
  const int rows = 11, cols = 37;  // odd width: the vector loop and its tail
  const Weights table = make_weights(dtype, rows, cols, rng);
  const std::vector<int> ids = {3, 0, 10, 3, 7, 10};  // repeats and out of order
  std::vector<float> out(ids.size() * cols, kNaN);
  loom::ops::gather_rows(table.ref(), ids.data(), static_cast<int>(ids.size()), out.data());
  for (size_t i = 0; i < ids.size(); ++i) {
    for (int c = 0; c < cols; ++c) {
      ASSERT_EQ(static_cast<double>(out[i * cols + c]), table.exact[ids[i] * cols + c])
          << "i=" << i << " c=" << c;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(DTypes, OpsByDType, ::testing::Values(DType::F32, DType::F16, DType::BF16),
                         [](const auto& info) {
                           return std::string(loom::dtype_name(info.param));
                         });

// ---------------------------------------------------------------------------------------------
// Element-wise ops

// An op's loom::Error inside a pass's region comes back to the caller (the process goes on): a
// product given too little scratch, on every thread of the team alike.
TEST(Ops, ErrorsInsideARegionReachTheCaller) {
  EXPECT_EQ(loom::test::error_of([] { loom::ops::region(3, [] { throw loom::Error("inside"); }); }),
            "inside");
  std::vector<uint8_t> w(64 * 64 * 34 / 32);
  const loom::ops::MatRef q{loom::DType::Q8_0, 64, 64, w.data()};
  std::vector<float> x(4 * 64, 1.0f), y(4 * 64);
  std::vector<loom::quant::ActSpace> scratch(2);  // 4 rows need 8 blocks
  const std::string e = loom::test::error_of([&] {
    loom::ops::region(2, [&] {
      loom::ops::matmul(x.data(), 4, q, y.data(), 2, loom::ops::Pass::Prompt, scratch);
    });
  });
  EXPECT_NE(e.find("matmul: 2 blocks of scratch for 4 rows of 64 activations"), std::string::npos)
      << e;
}

TEST(Ops, RmsnormMatchesReference) {
  std::mt19937 rng(3);
  Failures f;
  for (const int n : {1, 7, 64, 257, 2048}) {
    for (const float eps : {1e-5f, 1e-6f}) {
      const int m = 3;
      std::vector<float> x = random_vector(static_cast<size_t>(m) * n, -3, 3, rng);
      std::fill(x.begin() + n, x.begin() + 2 * n, 0.0f);  // all-zero row: eps keeps it finite
      for (int i = 0; i < n; ++i) x[2 * n + i] *= 1000;   // large row: the scale divides out
      const std::vector<float> w = random_vector(n, -2, 2, rng);
      std::vector<float> out(x.size(), kNaN);
      loom::ops::rmsnorm(x.data(), w.data(), out.data(), m, n, eps);
      std::vector<float> in_place = x;
      loom::ops::rmsnorm(in_place.data(), w.data(), in_place.data(), m, n, eps);
      EXPECT_TRUE(same_bits(out, in_place)) << "n=" << n;

      for (int r = 0; r < m; ++r) {
        double ss = 0;
        for (int i = 0; i < n; ++i) ss += static_cast<double>(x[r * n + i]) * x[r * n + i];
        const double inv = 1 / std::sqrt(ss / n + eps);
        for (int i = 0; i < n; ++i) {
          const double want = w[i] * (x[r * n + i] * inv);
          const float got = out[r * n + i];
          if (!(std::fabs(got - want) <= 4 * kEps * std::fabs(want)) && f.add()) {
            ADD_FAILURE() << "n=" << n << " r=" << r << " i=" << i << ": " << got << " vs " << want;
          }
        }
      }
    }
  }
  EXPECT_EQ(f.count(), 0);
}

// Qwen3's q/k norm: rmsnorm over rows of head_dim, each head of each token a row of its own (one
// head far larger than its neighbours must not shrink them), with the head_dim weight shared.
TEST(Ops, RmsnormPerHeadNormsEachHeadAlone) {
  std::mt19937 rng(5);
  const int tokens = 3, heads = 4, hd = 16;
  const float eps = 1e-6f;
  std::vector<float> x = random_vector(static_cast<size_t>(tokens) * heads * hd, -1, 1, rng);
  for (int t = 0; t < tokens; ++t) {
    for (int i = 0; i < hd; ++i) x[(t * heads + 1) * hd + i] *= 1000;   // a large head
    for (int i = 0; i < hd; ++i) x[(t * heads + 2) * hd + i] *= 1e-3f;  // a small one
  }
  const std::vector<float> w = random_vector(hd, 0.5f, 2, rng);
  for (const int threads : {1, 2, 3}) {
    std::vector<float> out = x;  // in place, as the forward pass does
    loom::ops::rmsnorm(out.data(), w.data(), out.data(), tokens * heads, hd, eps, threads);
    for (int t = 0; t < tokens; ++t) {
      for (int h = 0; h < heads; ++h) {
        const float* xh = x.data() + (t * heads + h) * hd;
        double ss = 0;
        for (int i = 0; i < hd; ++i) ss += static_cast<double>(xh[i]) * xh[i];
        const double inv = 1 / std::sqrt(ss / hd + eps);
        for (int i = 0; i < hd; ++i) {
          const double want = w[i] * (xh[i] * inv);
          const float got = out[(t * heads + h) * hd + i];
          ASSERT_LE(std::fabs(got - want), 4 * kEps * std::fabs(want))
              << "threads " << threads << " token " << t << " head " << h << " i " << i;
        }
      }
    }
  }
}

TEST(Ops, RopeRotatePairsElementWithOneHalfAHeadAway) {
  // One head of 4: element 0 pairs with element 2, element 1 with 3.
  std::vector<float> x = {1, 0, 0, 0};
  const float c[] = {0.6f, 1.0f}, s[] = {0.8f, 0.0f};
  loom::ops::rope_rotate(x.data(), 1, 4, c, s);
  EXPECT_FLOAT_EQ(x[0], 0.6f);
  EXPECT_FLOAT_EQ(x[1], 0.0f);
  EXPECT_FLOAT_EQ(x[2], 0.8f);
  EXPECT_FLOAT_EQ(x[3], 0.0f);
}

TEST(Ops, RopeRotateMatchesReference) {
  std::mt19937 rng(8);
  std::uniform_real_distribution<double> angle(-10, 10);
  Failures f;
  for (const int head_dim : {2, 8, 64, 128}) {
    const int n_heads = 3, half = head_dim / 2;
    std::vector<float> cos(half), sin(half);
    for (int i = 0; i < half; ++i) {
      const double a = angle(rng);
      cos[i] = static_cast<float>(std::cos(a));
      sin[i] = static_cast<float>(std::sin(a));
    }
    const std::vector<float> x = random_vector(static_cast<size_t>(n_heads) * head_dim, -4, 4, rng);
    std::vector<float> got = x;
    loom::ops::rope_rotate(got.data(), n_heads, head_dim, cos.data(), sin.data());
    for (int h = 0; h < n_heads; ++h) {
      for (int i = 0; i < head_dim; ++i) {
        // Rotate half: out = x * cos + rotate_half(x) * sin, rotate_half(x) = [-x2, x1].
        const int j = i < half ? i + half : i - half;
        const double partner = i < half ? -x[h * head_dim + j] : x[h * head_dim + j];
        const double a = static_cast<double>(x[h * head_dim + i]) * cos[i % half];
        const double b = partner * sin[i % half];
        const double tol = 2 * kEps * (std::fabs(a) + std::fabs(b));
        if (!(std::fabs(got[h * head_dim + i] - (a + b)) <= tol) && f.add()) {
          ADD_FAILURE() << "head_dim=" << head_dim << " h=" << h << " i=" << i << ": "
                        << got[h * head_dim + i] << " vs " << a + b;
        }
      }
    }
  }
  EXPECT_EQ(f.count(), 0);
}

// Elementwise ops and RMSNorm split across threads past their size threshold: the same bits as
// one thread, and the residual add equal to the plain sum.
TEST(Ops, ElementwiseOpsDoNotDependOnThreads) {
  std::mt19937 rng(5);
  const long n = 100003;  // past the parallel threshold, not a multiple of any thread count
  const std::vector<float> gate = random_vector(n, -20, 20, rng), up = random_vector(n, -3, 3, rng);
  std::vector<float> one(n, kNaN), many(n, kNaN);
  loom::ops::swiglu(gate.data(), up.data(), one.data(), n, 1);
  loom::ops::swiglu(gate.data(), up.data(), many.data(), n, 3);
  EXPECT_TRUE(same_bits(one, many));

  std::vector<float> x = gate;
  loom::ops::add_to(x.data(), up.data(), n, 3);
  for (long i = 0; i < n; ++i) ASSERT_EQ(x[i], gate[i] + up[i]) << i;

  const int m = 37, cols = 2731;
  const std::vector<float> rows = random_vector(static_cast<size_t>(m) * cols, -3, 3, rng);
  const std::vector<float> w = random_vector(cols, -2, 2, rng);
  std::vector<float> n1(rows.size(), kNaN), n3(rows.size(), kNaN);
  loom::ops::rmsnorm(rows.data(), w.data(), n1.data(), m, cols, 1e-5f, 1);
  loom::ops::rmsnorm(rows.data(), w.data(), n3.data(), m, cols, 1e-5f, 3);
  EXPECT_TRUE(same_bits(n1, n3));
}

TEST(Ops, SwigluMatchesReference) {
  std::mt19937 rng(4);
  std::vector<float> gate = random_vector(1000, -20, 20, rng);
  // exp(-gate) overflowing fp32 (gate < -88.7) must give a zero, not a NaN.
  for (const float g : {-100.0f, -89.0f, -88.0f, 0.0f, 88.0f, 100.0f}) gate.push_back(g);
  const std::vector<float> up = random_vector(gate.size(), -3, 3, rng);
  const long n = static_cast<long>(gate.size());
  std::vector<float> out(gate.size(), kNaN);
  loom::ops::swiglu(gate.data(), up.data(), out.data(), n);
  std::vector<float> in_place = gate;
  loom::ops::swiglu(in_place.data(), up.data(), in_place.data(), n);
  EXPECT_TRUE(same_bits(out, in_place));
  Failures f;
  for (long i = 0; i < n; ++i) {
    const double g = gate[i];
    const double want = g / (1 + std::exp(-g)) * up[i];
    if (!(std::fabs(out[i] - want) <= 8 * kEps * std::fabs(want) + 1e-30) && f.add()) {
      ADD_FAILURE() << "gate=" << gate[i] << " up=" << up[i] << ": " << out[i] << " vs " << want;
    }
  }
  EXPECT_EQ(f.count(), 0);
}

// ---------------------------------------------------------------------------------------------
// attention

struct AttentionCase {
  int n_heads, n_kv_heads, head_dim, m, pos0;
};

class Attention : public ::testing::TestWithParam<AttentionCase> {};

// Reference in double, softmax included. Cache positions from pos0+m on hold NaN, so a read past
// the filled part poisons the output; one past pos0+i within it (a causality leak from a later
// query of the batch) shows as a mismatch with the reference.
TEST_P(Attention, MatchesReferenceAndIsThreadAndBatchInvariant) {
  const AttentionCase c = GetParam();
  const int ctx = c.pos0 + c.m + 5;  // larger than used: the head stride is ctx, not pos0+m
  const loom::ops::AttentionShape shape{c.n_heads, c.n_kv_heads, c.head_dim, ctx};
  const int hd = c.head_dim, q_dim = c.n_heads * hd, n_pos = c.pos0 + c.m;
  std::mt19937 rng(c.n_heads * 1000 + c.n_kv_heads * 100 + hd + c.m * 7 + c.pos0);

  // Larger queries than keys give peaked softmaxes, not near-uniform ones.
  const std::vector<float> q = random_vector(static_cast<size_t>(c.m) * q_dim, -3, 3, rng);
  std::vector<float> k(static_cast<size_t>(c.n_kv_heads) * ctx * hd, kNaN), v = k;
  for (int kh = 0; kh < c.n_kv_heads; ++kh) {
    for (int p = 0; p < n_pos; ++p) {
      const size_t at = (static_cast<size_t>(kh) * ctx + p) * hd;
      const std::vector<float> kr = random_vector(hd, -1, 1, rng),
                               vr = random_vector(hd, -1, 1, rng);
      std::copy(kr.begin(), kr.end(), k.begin() + at);
      std::copy(vr.begin(), vr.end(), v.begin() + at);
    }
  }

  auto run = [&](const float* qs, int m, int pos0, int threads) {
    std::vector<float> out(static_cast<size_t>(m) * q_dim, kNaN);
    // Exactly the size attention asks for: ASan sees any write past it.
    std::vector<float> scratch(loom::ops::attention_scratch_floats(shape, threads));
    loom::ops::attention(qs, m, pos0, k.data(), v.data(), shape, out.data(), scratch.data(),
                         threads);
    return out;
  };
  const std::vector<float> out = run(q.data(), c.m, c.pos0, 1);

  const loom::test::AttentionReference want = loom::test::reference_attention(
      q.data(), k.data(), v.data(), c.m, c.pos0, c.n_heads, c.n_kv_heads, hd, ctx);
  Failures f;
  for (size_t e = 0; e < out.size(); ++e) {
    if (!(std::fabs(out[e] - want.out[e]) <= 1e-5 * want.mag[e] + 1e-6) && f.add()) {
      ADD_FAILURE() << "element " << e << " (query " << e / q_dim << "): " << out[e] << " vs "
                    << want.out[e];
    }
  }
  EXPECT_EQ(f.count(), 0);

  for (const int threads : {2, 3}) {
    size_t at = 0;
    const std::vector<float> other = run(q.data(), c.m, c.pos0, threads);
    EXPECT_TRUE(same_bits(out, other, &at))
        << "threads=" << threads << " differs at " << at << ": " << other[at] << " vs " << out[at];
  }
  // Each query decoded alone, as generation does, gives its row of the batch.
  for (int i = 0; i < c.m; ++i) {
    const std::vector<float> one = run(q.data() + static_cast<size_t>(i) * q_dim, 1, c.pos0 + i, 2);
    const std::vector<float> in_batch(out.begin() + static_cast<size_t>(i) * q_dim,
                                      out.begin() + static_cast<size_t>(i + 1) * q_dim);
    EXPECT_TRUE(same_bits(one, in_batch)) << "query " << i << " alone";
  }
}

// GQA (a prompt chunk after a prefix, a first prompt, one decode step), then MQA, then MHA.
INSTANTIATE_TEST_SUITE_P(
    Shapes, Attention,
    ::testing::Values(AttentionCase{8, 2, 16, 5, 7}, AttentionCase{8, 2, 64, 4, 0},
                      AttentionCase{8, 2, 64, 1, 20}, AttentionCase{8, 1, 16, 3, 4},
                      AttentionCase{8, 1, 64, 6, 9}, AttentionCase{4, 4, 16, 7, 2},
                      AttentionCase{4, 4, 64, 3, 11}),
    [](const auto& info) {
      const AttentionCase& c = info.param;
      std::ostringstream name;
      name << "h" << c.n_heads << "kv" << c.n_kv_heads << "d" << c.head_dim << "m" << c.m << "pos"
           << c.pos0;
      return name.str();
    });

// ---------------------------------------------------------------------------------------------
// RoPE inverse frequencies

std::vector<double> inv_freq_reference(double theta, int head_dim) {
  std::vector<double> f(head_dim / 2);
  for (int i = 0; i < head_dim / 2; ++i) f[i] = 1 / std::pow(theta, 2.0 * i / head_dim);
  return f;
}

// fp32 rounding of the exponent 2i/head_dim, amplified by log(theta), bounds the error.
constexpr double kFreqTol = 2e-6;

void expect_close(const std::vector<float>& got, const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], kFreqTol * want[i]) << "i=" << i;
  }
}

TEST(RopeInvFreq, Default) {
  for (const auto& [theta, head_dim] :
       {std::pair{10000.0f, 64}, {10000.0f, 80}, {500000.0f, 128}}) {
    SCOPED_TRACE(testing::Message() << "theta=" << theta << " head_dim=" << head_dim);
    loom::RopeConfig rope;
    rope.theta = theta;
    expect_close(loom::model::rope_inv_freq(rope, head_dim), inv_freq_reference(theta, head_dim));
  }
}

TEST(RopeInvFreq, Linear) {
  loom::RopeConfig rope;
  rope.theta = 10000.0f;
  rope.scaling = loom::RopeScalingType::Linear;
  rope.factor = 4.0f;
  std::vector<double> want = inv_freq_reference(rope.theta, 64);
  for (double& f : want) f /= rope.factor;
  expect_close(loom::model::rope_inv_freq(rope, 64), want);
}

// _compute_llama3_parameters in Hugging Face transformers, in double.
TEST(RopeInvFreq, Llama3) {
  struct Case {
    float theta, factor, low, high;
    int original_ctx, head_dim;
  };
  // Llama 3.1 8B, Llama 3.2 1B, and a small model with a short original context.
  for (const Case& c : {Case{500000, 8, 1, 4, 8192, 128}, Case{500000, 32, 1, 4, 8192, 64},
                        Case{10000, 4, 1, 4, 256, 32}}) {
    SCOPED_TRACE(testing::Message() << "theta=" << c.theta << " factor=" << c.factor
                                    << " original_ctx=" << c.original_ctx);
    loom::RopeConfig rope;
    rope.theta = c.theta;
    rope.scaling = loom::RopeScalingType::Llama3;
    rope.factor = c.factor;
    rope.low_freq_factor = c.low;
    rope.high_freq_factor = c.high;
    rope.original_max_position = c.original_ctx;

    const double low_freq_wavelen = c.original_ctx / c.low;
    const double high_freq_wavelen = c.original_ctx / c.high;
    std::vector<double> want = inv_freq_reference(c.theta, c.head_dim);
    int n_low = 0, n_mid = 0, n_high = 0;
    for (double& f : want) {
      const double wavelen = 2 * std::numbers::pi / f;
      // The fp32 and double computations could classify a wavelength differently only within
      // rounding of a boundary; the cases are chosen to stay clear of that.
      ASSERT_GT(std::fabs(wavelen / low_freq_wavelen - 1), 1e-4);
      ASSERT_GT(std::fabs(wavelen / high_freq_wavelen - 1), 1e-4);
      if (wavelen > low_freq_wavelen) {
        f /= c.factor;
        ++n_low;
      } else if (wavelen < high_freq_wavelen) {
        ++n_high;
      } else {
        const double s = (c.original_ctx / wavelen - c.low) / (c.high - c.low);
        f = (1 - s) * f / c.factor + s * f;
        ++n_mid;
      }
    }
    EXPECT_GT(n_low, 0);
    EXPECT_GT(n_mid, 0);
    EXPECT_GT(n_high, 0);
    expect_close(loom::model::rope_inv_freq(rope, c.head_dim), want);
  }
}

TEST(RopeTables, AreCosAndSinOfPositionTimesFrequency) {
  loom::RopeConfig rope;
  const std::vector<float> inv = loom::model::rope_inv_freq(rope, 64);
  const int ctx = 300;
  std::vector<float> cos, sin;
  loom::model::rope_tables(inv, ctx, cos, sin);
  ASSERT_EQ(cos.size(), static_cast<size_t>(ctx) * inv.size());
  ASSERT_EQ(sin.size(), cos.size());
  for (int p = 0; p < ctx; ++p) {
    for (size_t i = 0; i < inv.size(); ++i) {
      // The angle's own fp32 rounding (half an ulp of p * inv) is the only error allowed.
      const double angle = static_cast<double>(p) * inv[i];
      const double tol = 0.5 * kEps * angle + 1e-7;
      ASSERT_NEAR(cos[p * inv.size() + i], std::cos(angle), tol) << "p=" << p << " i=" << i;
      ASSERT_NEAR(sin[p * inv.size() + i], std::sin(angle), tol) << "p=" << p << " i=" << i;
    }
  }
}

}  // namespace
