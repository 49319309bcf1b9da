// loom::Sampler draws from exactly the distribution each sampler defines. An independent reference
// computes, in double and straight from the definitions, the probability of every token; 100,000
// seeded draws must fit it (chi-square at a 1e-6 false-alarm rate), and deliberately wrong
// references ("mutants": top-p keeping a token too many or too few, top-k off by one, temperature
// in the other place) must be rejected by a wide margin. Also: edge cases, determinism, penalties,
// parameter validation, chain parsing and token_logprobs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "loom/error.h"
#include "loom/sampler.h"

namespace {

using loom::SamplerParams;
using loom::SamplerStage;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr double kInfD = std::numeric_limits<double>::infinity();
constexpr long kDraws = 100000;

// Sixteen varied logits in no particular order. Descending: 3.0 (id 5), 2.6 (2), 2.2 (12),
// 2.1 (8), 1.5 (10), 1.2 (0), 0.8 (14), 0.5 (3), 0.0 (6), -0.3 (1), ... -6.0 (15).
// At temperature 1 the cumulative probabilities in that order are .309 .516 .655 .781 .850 .901.
const std::vector<float> kRow = {1.2f, -0.3f, 2.6f, 0.5f,  -2.0f, 3.0f,  0.0f, -1.5f,
                                 2.1f, -4.5f, 1.5f, -0.9f, 2.2f,  -3.0f, 0.8f, -6.0f};

// Every truncation stage and penalty off: softmax(logits / temperature).
SamplerParams plain(float temperature = 1.0f,
                    std::vector<SamplerStage> chain = loom::llamacpp_order()) {
  SamplerParams p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.typical_p = 1.0f;
  p.seed = 20240601;
  p.chain = std::move(chain);
  return p;
}

// ------------------------------------------------------------------------------------------------
// The reference: each definition, in double. It never calls the code under test.

enum class Mutant {
  None,
  TopKPlusOne,
  TopKMinusOne,
  TopPOneMore,
  TopPOneFewer,
  TypicalOneMore,
  TypicalOneFewer,
};

// softmax over the alive entries of V; 0 for the others (all 0 when none is finite).
std::vector<double> softmax(const std::vector<double>& v, const std::vector<bool>& alive) {
  double mx = -kInfD;
  for (size_t i = 0; i < v.size(); ++i) {
    if (alive[i]) mx = std::max(mx, v[i]);
  }
  std::vector<double> p(v.size(), 0.0);
  if (mx == -kInfD) return p;
  double sum = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (alive[i]) sum += p[i] = std::exp(v[i] - mx);
  }
  for (double& x : p) x /= sum;
  return p;
}

// The alive ids in ascending order of KEY, ties broken by id.
std::vector<int> alive_sorted_by(const std::vector<double>& key, const std::vector<bool>& alive) {
  std::vector<int> ids;
  for (size_t i = 0; i < key.size(); ++i) {
    if (alive[i]) ids.push_back(static_cast<int>(i));
  }
  std::stable_sort(ids.begin(), ids.end(), [&](int a, int b) { return key[a] < key[b]; });
  return ids;
}

// Keeps the smallest head of ORDER whose probability reaches MASS (the token that crosses it
// included; at least one), moved by EXTRA tokens for a mutant.
void keep_head(const std::vector<int>& order, const std::vector<double>& probs, double mass,
               int extra, std::vector<bool>& alive, const char* stage) {
  double cum = 0;
  int k = 0;
  const int n = static_cast<int>(order.size());
  while (k < n) {
    cum += probs[order[k++]];
    if (cum >= mass) break;
  }
  // A partial sum this close to MASS would leave the case to rounding: the test must avoid it.
  double c = 0;
  for (int id : order) {
    c += probs[id];
    if (std::abs(c - mass) < 1e-5) {
      ADD_FAILURE() << stage << ": a cumulative probability lies within 1e-5 of " << mass;
    }
  }
  k = std::clamp(k + extra, 1, n);
  std::fill(alive.begin(), alive.end(), false);
  for (int i = 0; i < k; ++i) alive[order[i]] = true;
}

bool in_chain(const SamplerParams& p, SamplerStage s) {
  return std::find(p.chain.begin(), p.chain.end(), s) != p.chain.end();
}

// The penalties for HISTORY: tokens among the last repeat_last_n accepted (-1: all, 0: none) have
// a positive value divided by repeat_penalty and a negative one multiplied, then lose
// presence_penalty once and frequency_penalty per occurrence.
void penalize(std::vector<double>& v, const SamplerParams& p, const std::vector<int>& history) {
  if (p.repeat_last_n == 0) return;
  std::vector<int> count(v.size(), 0);
  const size_t n = history.size();
  const size_t from =
      p.repeat_last_n < 0 ? 0 : n - std::min(n, static_cast<size_t>(p.repeat_last_n));
  for (size_t i = from; i < n; ++i) ++count[history[i]];
  for (size_t i = 0; i < v.size(); ++i) {
    if (count[i] == 0) continue;
    v[i] = v[i] > 0 ? v[i] / p.repeat_penalty : v[i] * p.repeat_penalty;
    v[i] -= count[i] * static_cast<double>(p.frequency_penalty) + p.presence_penalty;
  }
}

// The probability of every token after HISTORY was accepted. Empty when no token can be drawn.
std::vector<double> reference(std::span<const float> logits, const SamplerParams& p,
                              const std::vector<int>& history = {}, Mutant mutant = Mutant::None) {
  const int vocab = static_cast<int>(logits.size());
  std::vector<double> v(logits.begin(), logits.end());
  for (const auto& [id, bias] : p.logit_bias) v[id] += bias;

  if (p.temperature == 0) {  // greedy: argmax after bias and penalties, the first of equals
    if (in_chain(p, SamplerStage::Penalties)) penalize(v, p, history);
    int best = 0;
    for (int i = 1; i < vocab; ++i) {
      if (v[i] > v[best]) best = i;
    }
    if (v[best] == -kInfD) return {};
    std::vector<double> out(vocab, 0.0);
    out[best] = 1;
    return out;
  }

  std::vector<bool> alive(vocab, true);
  for (SamplerStage stage : p.chain) {
    switch (stage) {
      case SamplerStage::Penalties:
        penalize(v, p, history);
        break;
      case SamplerStage::Temperature:
        for (double& x : v) x /= p.temperature;
        break;
      case SamplerStage::TopK: {
        int k = p.top_k;
        if (k == 0) break;
        if (mutant == Mutant::TopKPlusOne) ++k;
        if (mutant == Mutant::TopKMinusOne) k = std::max(1, k - 1);
        std::vector<double> vals;
        for (int i = 0; i < vocab; ++i) {
          if (alive[i]) vals.push_back(v[i]);
        }
        if (k >= static_cast<int>(vals.size())) break;
        std::sort(vals.begin(), vals.end(), std::greater<>());
        const double kth = vals[k - 1];
        for (int i = 0; i < vocab; ++i) alive[i] = alive[i] && v[i] >= kth;
        break;
      }
      case SamplerStage::TopP: {
        if (p.top_p >= 1) break;
        const std::vector<double> probs = softmax(v, alive);
        std::vector<double> key(vocab);
        for (int i = 0; i < vocab; ++i) key[i] = -probs[i];  // most probable first
        const int extra = mutant == Mutant::TopPOneMore    ? 1
                          : mutant == Mutant::TopPOneFewer ? -1
                                                           : 0;
        keep_head(alive_sorted_by(key, alive), probs, p.top_p, extra, alive, "top_p");
        break;
      }
      case SamplerStage::MinP: {
        if (p.min_p <= 0) break;
        const std::vector<double> probs = softmax(v, alive);
        const double max_prob = *std::max_element(probs.begin(), probs.end());
        for (int i = 0; i < vocab; ++i) {
          if (!alive[i]) continue;
          if (probs[i] > 0 && std::abs(probs[i] / max_prob - p.min_p) < 1e-5) {
            ADD_FAILURE() << "min_p: token " << i << " lies on the threshold";
          }
          alive[i] = probs[i] >= p.min_p * max_prob;
        }
        break;
      }
      case SamplerStage::Typical: {
        if (p.typical_p >= 1) break;
        const std::vector<double> probs = softmax(v, alive);
        double entropy = 0;
        for (int i = 0; i < vocab; ++i) {
          if (alive[i] && probs[i] > 0) entropy -= probs[i] * std::log(probs[i]);
        }
        std::vector<double> key(vocab, kInfD);
        for (int i = 0; i < vocab; ++i) {
          if (probs[i] > 0) key[i] = std::abs(-std::log(probs[i]) - entropy);
        }
        const std::vector<int> order = alive_sorted_by(key, alive);
        for (size_t i = 1; i < order.size(); ++i) {
          const double gap = key[order[i]] - key[order[i - 1]];
          if (gap > 0 && gap < 1e-5) ADD_FAILURE() << "typical: two tokens nearly equally typical";
        }
        const int extra = mutant == Mutant::TypicalOneMore    ? 1
                          : mutant == Mutant::TypicalOneFewer ? -1
                                                              : 0;
        keep_head(order, probs, p.typical_p, extra, alive, "typical_p");
        break;
      }
    }
  }
  std::vector<double> out = softmax(v, alive);
  if (std::all_of(out.begin(), out.end(), [](double x) { return x == 0; })) return {};
  return out;
}

int first_argmax(std::span<const float> row) {
  return static_cast<int>(std::max_element(row.begin(), row.end()) - row.begin());
}

// ------------------------------------------------------------------------------------------------
// Goodness of fit.

// The upper 1e-6 quantile of chi-square with DF degrees of freedom, by Wilson and Hilferty's cube
// approximation. It lies above the exact quantile, by 15% at 1 degree of freedom (27.5 against
// 23.9), 10% at 2 (30.3 against 27.6), 2% at 10 (48.0 against 46.9) and 0.2% at 93 (173.0 against
// 172.7): a correct sampler fails less often than one seed in a million.
double chi2_critical(int df) {
  if (df <= 0) return 0;
  const double z = 4.753424308822899;  // the standard normal's upper 1e-6 quantile
  const double a = 2.0 / (9.0 * df);
  return df * std::pow(1 - a + z * std::sqrt(a), 3);
}

struct Fit {
  double stat = 0;      // Pearson's chi-square over the tokens with an expected count
  int df = 0;           // cells - 1
  double critical = 0;  // chi2_critical(df)
  long impossible = 0;  // draws of tokens whose probability is 0
};

// Tokens expected fewer than 5 times are pooled into one cell (with the next smallest while the
// pool is still below 5) so that the statistic follows its chi-square law.
Fit chi_square(const std::vector<long>& observed, const std::vector<double>& probs) {
  const long n = std::accumulate(observed.begin(), observed.end(), 0L);
  Fit f;
  std::vector<std::pair<double, long>> cells;  // (expected, observed)
  for (size_t i = 0; i < probs.size(); ++i) {
    if (probs[i] > 0) {
      cells.push_back({static_cast<double>(n) * probs[i], observed[i]});
    } else {
      f.impossible += observed[i];
    }
  }
  std::sort(cells.begin(), cells.end());
  std::pair<double, long> pool{0, 0};
  size_t small = 0;
  while (small < cells.size() && (cells[small].first < 5 || (pool.first > 0 && pool.first < 5))) {
    pool.first += cells[small].first;
    pool.second += cells[small].second;
    ++small;
  }
  cells.erase(cells.begin(), cells.begin() + static_cast<long>(small));
  if (pool.first > 0) cells.push_back(pool);
  for (const auto& [expected, got] : cells) {
    const double d = static_cast<double>(got) - expected;
    f.stat += d * d / expected;
  }
  f.df = static_cast<int>(cells.size()) - 1;
  f.critical = chi2_critical(f.df);
  return f;
}

std::vector<long> draw_counts(std::span<const float> row, const SamplerParams& p,
                              const std::vector<int>& history = {}, long draws = kDraws) {
  loom::Sampler s(p, static_cast<int>(row.size()));
  for (int id : history) s.accept(id);
  std::vector<long> counts(row.size(), 0);
  for (long i = 0; i < draws; ++i) ++counts[s.sample(row)];
  return counts;
}

std::vector<int> draw_sequence(loom::Sampler& s, int n, std::span<const float> row = kRow) {
  std::vector<int> out;
  for (int i = 0; i < n; ++i) out.push_back(s.sample(row));
  return out;
}

// "0.6" rather than std::to_string's "0.600000".
std::string num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

void print_fit(const std::string& what, const Fit& f) {
  std::printf("  %-52s chi2 %10.1f  df %2d  critical %5.1f  impossible draws %ld\n", what.c_str(),
              f.stat, f.df, f.critical, f.impossible);
}

// Draws kDraws tokens and checks they fit the reference; returns the counts.
std::vector<long> expect_fits(const std::string& what, std::span<const float> row,
                              const SamplerParams& p, const std::vector<int>& history = {},
                              long draws = kDraws) {
  SCOPED_TRACE(what);
  const std::vector<double> want = reference(row, p, history);
  EXPECT_FALSE(want.empty());
  const std::vector<long> counts = draw_counts(row, p, history, draws);
  if (want.empty()) return counts;
  const Fit f = chi_square(counts, want);
  print_fit(what, f);
  EXPECT_EQ(f.impossible, 0) << "drew a token the definition gives probability 0";
  EXPECT_LE(f.stat, f.critical) << "df " << f.df;
  return counts;
}

// A wrong reference must be rejected far beyond the threshold: many impossible draws, or a
// statistic FACTOR times the critical value.
void expect_rejects(const std::string& what, const std::vector<long>& counts,
                    const std::vector<double>& wrong, double factor = 10, long impossible = 1000) {
  SCOPED_TRACE(what);
  const Fit f = chi_square(counts, wrong);
  print_fit("mutant " + what, f);
  EXPECT_TRUE(f.impossible >= impossible || f.stat > factor * f.critical)
      << "chi2 " << f.stat << " critical " << f.critical << " impossible " << f.impossible;
}

int kept(const std::vector<double>& probs) {
  return static_cast<int>(
      std::count_if(probs.begin(), probs.end(), [](double x) { return x > 0; }));
}

// ------------------------------------------------------------------------------------------------
// 1. Statistical tests.

TEST(SamplerReference, CasesSitWhereTheMutantsDiffer) {
  // top-p 0.8 at temperature 1: .781 after four tokens, .850 after five: five kept.
  SamplerParams p = plain();
  p.top_p = 0.8f;
  EXPECT_EQ(kept(reference(kRow, p)), 5);
  EXPECT_EQ(kept(reference(kRow, p, {}, Mutant::TopPOneMore)), 6);
  EXPECT_EQ(kept(reference(kRow, p, {}, Mutant::TopPOneFewer)), 4);
  const std::vector<double> nucleus = reference(kRow, p);
  for (int id : {5, 2, 12, 8, 10}) EXPECT_GT(nucleus[id], 0) << id;
  // Temperature 0.6 applied first (transformers) narrows the same nucleus to three tokens.
  p.temperature = 0.6f;
  EXPECT_EQ(kept(reference(kRow, p)), 5);
  p.chain = loom::hf_order();
  EXPECT_EQ(kept(reference(kRow, p)), 3);

  SamplerParams k = plain();
  k.top_k = 4;
  EXPECT_EQ(kept(reference(kRow, k)), 4);
  EXPECT_EQ(kept(reference(kRow, k, {}, Mutant::TopKPlusOne)), 5);
  EXPECT_EQ(kept(reference(kRow, k, {}, Mutant::TopKMinusOne)), 3);

  // Typical 0.5: entropy 1.956; most typical first: 12, 8, 2, 10 (mass .541), then 5.
  SamplerParams t = plain();
  t.typical_p = 0.5f;
  const std::vector<double> typical = reference(kRow, t);
  EXPECT_EQ(kept(typical), 4);
  for (int id : {12, 8, 2, 10}) EXPECT_GT(typical[id], 0) << id;
  EXPECT_EQ(typical[5], 0);  // the most likely token is not among the most typical

  // The critical values: exact for 2 degrees of freedom is -2 ln 1e-6 = 27.63.
  EXPECT_GE(chi2_critical(2), -2 * std::log(1e-6));
  EXPECT_LT(chi2_critical(2), 1.1 * -2 * std::log(1e-6));
  EXPECT_GE(chi2_critical(1), 23.92);  // 4.8916^2, the two-sided normal 1e-6 quantile squared
}

TEST(SamplerDistribution, EachSamplerAlone) {
  for (float t : {1.0f, 0.6f, 2.0f}) {
    expect_fits("temperature " + num(t), kRow, plain(t));
  }
  for (int k : {1, 4, 7}) {
    SamplerParams p = plain(1.3f);
    p.top_k = k;
    expect_fits("top_k " + std::to_string(k) + ", temperature 1.3", kRow, p);
  }
  for (float top_p : {0.5f, 0.8f, 0.95f}) {
    SamplerParams p = plain();
    p.top_p = top_p;
    expect_fits("top_p " + num(top_p), kRow, p);
  }
  for (float min_p : {0.1f, 0.3f}) {
    SamplerParams p = plain();
    p.min_p = min_p;
    expect_fits("min_p " + num(min_p), kRow, p);
  }
  for (float typical : {0.5f, 0.9f}) {
    SamplerParams p = plain();
    p.typical_p = typical;
    expect_fits("typical_p " + num(typical), kRow, p);
  }
}

TEST(SamplerDistribution, CombinationsInBothOrders) {
  struct Combo {
    const char* name;
    float temperature;
    int top_k;
    float top_p, min_p, typical_p;
  };
  const Combo combos[] = {
      {"T 0.6, top_p 0.8", 0.6f, 0, 0.8f, 0.0f, 1.0f},
      {"T 2, top_k 8, min_p 0.1", 2.0f, 8, 1.0f, 0.1f, 1.0f},
      {"T 1.5, top_k 10, top_p 0.9, min_p 0.02, typ 0.95", 1.5f, 10, 0.9f, 0.02f, 0.95f},
      {"T 0.7, top_k 12, typical 0.8, top_p 0.85", 0.7f, 12, 0.85f, 0.0f, 0.8f},
  };
  for (const Combo& c : combos) {
    for (bool hf : {false, true}) {
      SamplerParams p = plain(c.temperature, hf ? loom::hf_order() : loom::llamacpp_order());
      p.top_k = c.top_k;
      p.top_p = c.top_p;
      p.min_p = c.min_p;
      p.typical_p = c.typical_p;
      expect_fits(std::string(hf ? "hf " : "llamacpp ") + c.name, kRow, p);
    }
  }
  // A chain of one's own, and the default parameters with only temperature in the chain (the
  // stages left out do not run).
  SamplerParams p = plain(1.4f, loom::parse_sampler_chain("min_p;temperature;typical;top_k"));
  p.min_p = 0.05f;
  p.typical_p = 0.7f;
  p.top_k = 5;
  expect_fits("min_p;temperature;typical;top_k", kRow, p);
  SamplerParams only_temp;
  only_temp.chain = {SamplerStage::Temperature};
  expect_fits("defaults, chain = temperature", kRow, only_temp);
}

TEST(SamplerDistribution, PenaltiesAndLogitBias) {
  // The window holds the last six: 5, 5, 2, 0, 5, 15. Token 12 and the first 2 fell out of it.
  const std::vector<int> history = {12, 2, 12, 5, 5, 2, 0, 5, 15};
  SamplerParams p = plain();
  p.repeat_penalty = 1.3f;
  p.presence_penalty = 0.3f;
  p.frequency_penalty = 0.2f;
  p.repeat_last_n = 6;
  expect_fits("penalties 1.3/0.3/0.2 over the last 6", kRow, p, history);
  p.repeat_last_n = -1;
  p.top_p = 0.9f;
  p.temperature = 0.8f;
  expect_fits("penalties over all, top_p 0.9, T 0.8", kRow, p, history);

  SamplerParams b = plain();
  b.top_k = 6;
  b.logit_bias = {{5, -kInf}, {15, 8.5f}, {2, -1.0f}, {9, -kInf}};
  expect_fits("logit bias (-inf, +8.5, -1), top_k 6", kRow, b);
}

TEST(SamplerDistribution, MutantsAreRejected) {
  SamplerParams p = plain();
  p.top_p = 0.8f;
  std::vector<long> counts = expect_fits("top_p 0.8", kRow, p);
  expect_rejects("top_p keeps one token too many", counts,
                 reference(kRow, p, {}, Mutant::TopPOneMore));
  expect_rejects("top_p keeps one token too few", counts,
                 reference(kRow, p, {}, Mutant::TopPOneFewer));

  SamplerParams k = plain(1.3f);
  k.top_k = 4;
  counts = expect_fits("top_k 4, temperature 1.3", kRow, k);
  expect_rejects("top_k + 1", counts, reference(kRow, k, {}, Mutant::TopKPlusOne));
  expect_rejects("top_k - 1", counts, reference(kRow, k, {}, Mutant::TopKMinusOne));

  SamplerParams t = plain();
  t.typical_p = 0.5f;
  counts = expect_fits("typical_p 0.5", kRow, t);
  expect_rejects("typical keeps one token too many", counts,
                 reference(kRow, t, {}, Mutant::TypicalOneMore));
  expect_rejects("typical keeps one token too few", counts,
                 reference(kRow, t, {}, Mutant::TypicalOneFewer));

  // Temperature in the other place: the same parameters in the other order.
  for (bool hf : {false, true}) {
    SamplerParams o = plain(0.6f, hf ? loom::hf_order() : loom::llamacpp_order());
    o.top_p = 0.8f;
    SamplerParams other = o;
    other.chain = hf ? loom::llamacpp_order() : loom::hf_order();
    const std::string name = std::string(hf ? "hf" : "llamacpp") + " T 0.6, top_p 0.8";
    counts = expect_fits(name, kRow, o);
    expect_rejects(name + " as if the other order", counts, reference(kRow, other));
  }
  SamplerParams m = plain(2.0f, loom::hf_order());
  m.top_k = 8;
  m.min_p = 0.1f;
  SamplerParams other = m;
  other.chain = loom::llamacpp_order();
  counts = expect_fits("hf T 2, top_k 8, min_p 0.1", kRow, m);
  expect_rejects("hf T 2, top_k 8, min_p 0.1 as if llamacpp", counts, reference(kRow, other));
}

// 200 tokens, so that top-p's sorted head (64 first, then grown) and top-k's selection see more
// than a handful: the nucleus at 0.9 holds 81 to 105 tokens, at 0.5 about 37. Fewer draws (each
// costs more here), still enough for the mutants.
TEST(SamplerDistribution, LargerVocabulary) {
  std::vector<float> row(200);
  for (size_t i = 0; i < row.size(); ++i) {
    row[i] = static_cast<float>(2 * std::sin(0.37 * static_cast<double>(i * i) + 1.1 * i));
  }
  SamplerParams p = plain(1.2f);
  p.top_p = 0.9f;
  EXPECT_GT(kept(reference(row, p)), 64);
  const std::vector<long> counts = expect_fits("200 tokens: top_p 0.9, T 1.2", row, p, {}, 60000);
  // A token of about 0.3% more or less: fewer draws at stake than above, still plainly rejected.
  expect_rejects("200 tokens: top_p 0.9 one token too many", counts,
                 reference(row, p, {}, Mutant::TopPOneMore), 1.25, 0);
  expect_rejects("200 tokens: top_p 0.9 one token too few", counts,
                 reference(row, p, {}, Mutant::TopPOneFewer), 1.25, 100);
  p.top_p = 0.5f;
  EXPECT_LT(kept(reference(row, p)), 64);
  expect_fits("200 tokens: top_p 0.5, T 1.2", row, p, {}, 30000);

  SamplerParams hf = plain(0.8f, loom::hf_order());
  hf.top_k = 150;
  hf.top_p = 0.9f;
  hf.min_p = 0.05f;
  hf.typical_p = 0.95f;
  expect_fits("200 tokens: hf T 0.8, top_k 150, top_p .9, min_p .05, typ .95", row, hf, {}, 30000);
  SamplerParams ll = plain(1.5f);
  ll.top_k = 70;
  ll.typical_p = 0.8f;
  ll.top_p = 0.7f;
  expect_fits("200 tokens: llamacpp T 1.5, top_k 70, typical .8, top_p .7", row, ll, {}, 30000);
}

// ------------------------------------------------------------------------------------------------
// 2. Edge cases.

TEST(SamplerEdge, TopKKeepsEveryTokenTiedAtTheBoundary) {
  // Descending: 2.0 (id 0), 1.5 (8), then 1.0 three times (ids 1, 3, 5).
  const std::vector<float> row = {2.0f, 1.0f, 0.3f, 1.0f, -0.5f, 1.0f, 0.0f, -1.0f, 1.5f, -2.0f};
  for (int k : {3, 4, 5}) {
    SamplerParams p = plain();
    p.top_k = k;
    const std::vector<double> want = reference(row, p);
    EXPECT_EQ(kept(want), 5);
    EXPECT_EQ(want[1], want[3]);
    EXPECT_EQ(want[1], want[5]);
    const std::vector<long> counts =
        expect_fits("top_k " + std::to_string(k) + " with three tied at the boundary", row, p);
    for (int id : {1, 3, 5}) EXPECT_GT(counts[id], 10000) << id;
  }
  SamplerParams two = plain();
  two.top_k = 2;
  EXPECT_EQ(kept(reference(row, two)), 2);
  const std::vector<long> counts = draw_counts(row, two, {}, 2000);
  EXPECT_EQ(counts[0] + counts[8], 2000);
}

TEST(SamplerEdge, OffValuesAreNoOps) {
  // top_k 0 (or >= the vocabulary), top_p 1, min_p 0, typical 1: plain temperature sampling.
  const std::vector<double> want = reference(kRow, plain(0.7f, {SamplerStage::Temperature}));
  for (int k : {0, 16, 100}) {
    for (bool hf : {false, true}) {
      SamplerParams p = plain(0.7f, hf ? loom::hf_order() : loom::llamacpp_order());
      p.top_k = k;
      EXPECT_EQ(reference(kRow, p), want);
      if (k == 100 || hf) continue;
      expect_fits(std::string("all off, T 0.7") + (hf ? ", hf" : ""), kRow, p);
    }
  }
  SamplerParams p = plain(0.7f, loom::hf_order());
  p.top_k = 100;
  expect_fits("all off, top_k 100, T 0.7, hf", kRow, p);

  // They are also literally no-ops: the same seed gives the same draws as temperature alone.
  loom::Sampler alone(plain(0.7f, {SamplerStage::Temperature}), 16);
  loom::Sampler all_off(plain(0.7f), 16);
  EXPECT_EQ(draw_sequence(all_off, 2000), draw_sequence(alone, 2000));
}

TEST(SamplerEdge, TinyTemperatureIsGreedy) {
  std::mt19937 gen(11);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  for (int trial = 0; trial < 40; ++trial) {
    std::vector<float> row = kRow;
    if (trial > 0) {
      row.resize(2 + gen() % 200);
      for (float& x : row) x = normal(gen);
    }
    std::vector<float> sorted = row;
    std::sort(sorted.begin(), sorted.end(), std::greater<>());
    if (sorted[0] - sorted[1] < 0.01f) continue;  // 0.01 / 1e-4 = 100 nats: a certain argmax
    for (bool hf : {false, true}) {
      SamplerParams p;  // the defaults: top_k 40, top_p 0.95, min_p 0.05
      p.temperature = 1e-4f;
      p.seed = trial;
      if (hf) p.chain = loom::hf_order();
      const std::vector<long> counts = draw_counts(row, p, {}, trial == 0 ? 1000 : 50);
      EXPECT_EQ(counts[first_argmax(row)], trial == 0 ? 1000 : 50) << "trial " << trial;
    }
  }
}

TEST(SamplerEdge, OnlyFiniteLogitIsAlwaysChosen) {
  std::vector<float> row(16, -kInf);
  row[11] = -3.0f;
  std::vector<SamplerParams> configs = {SamplerParams{}, SamplerParams::greedy(), plain(2.0f)};
  SamplerParams hf;
  hf.chain = loom::hf_order();
  configs.push_back(hf);
  SamplerParams strict = plain(0.5f);
  strict.top_k = 3;
  strict.top_p = 0.1f;
  strict.min_p = 0.9f;
  strict.typical_p = 0.2f;
  configs.push_back(strict);
  SamplerParams penalized = strict;
  penalized.repeat_penalty = 2.0f;
  penalized.presence_penalty = 1.0f;
  configs.push_back(penalized);
  for (size_t c = 0; c < configs.size(); ++c) {
    EXPECT_EQ(reference(row, configs[c], {11})[11], 1.0) << c;
    const std::vector<long> counts = draw_counts(row, configs[c], {11}, 500);
    EXPECT_EQ(counts[11], 500) << "config " << c;
  }
  // The same through logit bias.
  SamplerParams banned;
  for (int i = 0; i < 16; ++i) {
    if (i != 4) banned.logit_bias.push_back({i, -kInf});
  }
  EXPECT_EQ(draw_counts(kRow, banned, {}, 500)[4], 500);
}

TEST(SamplerEdge, EveryTokenBannedThrows) {
  for (int chain = 0; chain < 3; ++chain) {
    SamplerParams p = chain == 2 ? SamplerParams::greedy() : SamplerParams{};
    if (chain == 1) p.chain = loom::hf_order();
    for (int i = 0; i < 16; ++i) p.logit_bias.push_back({i, -kInf});
    EXPECT_TRUE(reference(kRow, p).empty());
    loom::Sampler s(p, 16);
    EXPECT_THROW(s.sample(kRow), loom::Error) << "chain " << chain;
    const std::vector<float> none(16, -kInf);
    loom::Sampler plain_bias(chain == 2 ? SamplerParams::greedy() : SamplerParams{}, 16);
    EXPECT_THROW(plain_bias.sample(none), loom::Error) << "chain " << chain;
  }
}

TEST(SamplerEdge, TopKOneIsGreedy) {
  std::mt19937 gen(3);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<float> row(2 + gen() % 700);
    for (float& x : row) x = normal(gen);
    const int want = first_argmax(row);
    SamplerParams p;
    p.top_k = 1;
    p.temperature = trial % 2 ? 1.7f : 0.3f;
    p.typical_p = trial % 3 ? 1.0f : 0.5f;
    p.seed = trial;
    if (trial % 4 == 0) p.chain = loom::hf_order();
    loom::Sampler top1(p, static_cast<int>(row.size()));
    loom::Sampler greedy(SamplerParams::greedy(), static_cast<int>(row.size()));
    for (int i = 0; i < 3; ++i) EXPECT_EQ(top1.sample(row), want) << "trial " << trial;
    EXPECT_EQ(greedy.sample(row), want) << "trial " << trial;
  }
}

TEST(SamplerEdge, GreedyTakesTheFirstOfEqualMaxima) {
  const std::vector<float> row = {1.0f, 3.0f, 0.0f, 3.0f, 2.0f};
  loom::Sampler s(SamplerParams::greedy(), 5);
  EXPECT_EQ(s.sample(row), 1);
  SamplerParams biased = SamplerParams::greedy();
  biased.logit_bias = {{4, 1.5f}};
  EXPECT_EQ(loom::Sampler(biased, 5).sample(row), 4);
  biased.logit_bias = {{1, -0.5f}};
  EXPECT_EQ(loom::Sampler(biased, 5).sample(row), 3);
}

// ------------------------------------------------------------------------------------------------
// 3. Determinism.

TEST(SamplerDeterminism, SameSeedSameDrawsResetRestartsOtherSeedsDiffer) {
  SamplerParams p;
  p.temperature = 1.5f;
  p.seed = 42;
  loom::Sampler a(p, 16), b(p, 16);
  const std::vector<int> first = draw_sequence(a, 1000);
  EXPECT_EQ(draw_sequence(b, 1000), first);
  EXPECT_GT(std::set<int>(first.begin(), first.end()).size(), 5u);  // not a constant stream
  EXPECT_NE(draw_sequence(a, 1000), first);                         // the stream goes on
  a.reset();
  EXPECT_EQ(draw_sequence(a, 1000), first);
  for (uint64_t seed : {0ull, 1ull, 43ull, 1ull << 40}) {
    SamplerParams q = p;
    q.seed = seed;
    loom::Sampler c(q, 16);
    EXPECT_NE(draw_sequence(c, 1000), first) << "seed " << seed;
  }
  // A moved sampler carries its stream along.
  loom::Sampler d(p, 16);
  const std::vector<int> head = draw_sequence(d, 10);
  loom::Sampler e = std::move(d);
  std::vector<int> joined = head;
  for (int id : draw_sequence(e, 990)) joined.push_back(id);
  EXPECT_EQ(joined, first);
}

TEST(SamplerDeterminism, ResetForgetsTheHistory) {
  SamplerParams p = plain(1.0f);
  p.repeat_penalty = 3.0f;
  p.presence_penalty = 2.0f;
  p.seed = 5;
  loom::Sampler fresh(p, 16), used(p, 16);
  for (int id : {5, 5, 2, 12}) used.accept(id);
  EXPECT_NE(draw_sequence(used, 200), draw_sequence(fresh, 200));
  used.reset();
  fresh.reset();
  EXPECT_EQ(draw_sequence(used, 1000), draw_sequence(fresh, 1000));
}

// ------------------------------------------------------------------------------------------------
// 4. Penalties.

int greedy_after(const std::vector<float>& row, SamplerParams p, const std::vector<int>& history) {
  p.temperature = 0.0f;
  loom::Sampler s(p, static_cast<int>(row.size()));
  for (int id : history) s.accept(id);
  return s.sample(row);
}

TEST(SamplerPenalties, RepeatPenaltyDividesPositiveAndMultipliesNegative) {
  const std::vector<float> pos = {2.0f, 1.8f, 0.0f, -1.0f};
  SamplerParams p;
  p.repeat_penalty = 1.2f;  // 2 / 1.2 = 1.67 < 1.8
  EXPECT_EQ(greedy_after(pos, p, {}), 0);
  EXPECT_EQ(greedy_after(pos, p, {0}), 1);
  EXPECT_EQ(greedy_after(pos, p, {0, 0, 0}), 1);
  p.repeat_penalty = 1.1f;  // 1.82 > 1.8; applied once however often the token occurs
  EXPECT_EQ(greedy_after(pos, p, {0}), 0);
  EXPECT_EQ(greedy_after(pos, p, {0, 0, 0, 0}), 0);

  const std::vector<float> neg = {-5.0f, -1.0f, -1.1f, -3.0f};
  p.repeat_penalty = 1.2f;  // -1 * 1.2 = -1.2 < -1.1 (dividing would give -0.83)
  EXPECT_EQ(greedy_after(neg, p, {}), 1);
  EXPECT_EQ(greedy_after(neg, p, {1}), 2);
  p.repeat_penalty = 1.05f;  // -1.05 > -1.1
  EXPECT_EQ(greedy_after(neg, p, {1}), 1);
  p.repeat_penalty = 0.5f;  // below 1 it rewards: 1.8 / 0.5 = 3.6 > 2
  EXPECT_EQ(greedy_after(pos, p, {1}), 1);
}

TEST(SamplerPenalties, PresenceOnceFrequencyPerOccurrence) {
  const std::vector<float> row = {2.0f, 1.8f, 0.0f, -1.0f};
  SamplerParams presence;
  presence.presence_penalty = 0.3f;
  EXPECT_EQ(greedy_after(row, presence, {0}), 1);
  presence.presence_penalty = 0.1f;
  EXPECT_EQ(greedy_after(row, presence, {0}), 0);
  EXPECT_EQ(greedy_after(row, presence, {0, 0, 0, 0}), 0);  // once, not per occurrence

  SamplerParams frequency;
  frequency.frequency_penalty = 0.15f;
  EXPECT_EQ(greedy_after(row, frequency, {0}), 0);        // 1.85
  EXPECT_EQ(greedy_after(row, frequency, {0, 3, 0}), 1);  // 1.70
  frequency.frequency_penalty = -0.5f;                    // negative: encourages repeats
  EXPECT_EQ(greedy_after(row, frequency, {3, 3, 3, 3, 3, 3, 3, 3}), 3);

  SamplerParams both;
  both.presence_penalty = 0.1f;
  both.frequency_penalty = 0.06f;
  EXPECT_EQ(greedy_after(row, both, {0}), 0);     // 2 - 0.16
  EXPECT_EQ(greedy_after(row, both, {0, 0}), 1);  // 2 - 0.22
}

TEST(SamplerPenalties, WindowForgetsOldTokens) {
  const std::vector<float> row = {2.0f, 1.8f, 0.0f, -1.0f, 0.5f};
  SamplerParams p;
  p.repeat_penalty = 1.5f;
  p.repeat_last_n = 3;
  EXPECT_EQ(greedy_after(row, p, {0, 2, 3}), 1);     // 0 is the oldest of three
  EXPECT_EQ(greedy_after(row, p, {0, 2, 3, 4}), 0);  // and now gone
  // Around the ring many times over: only the last three count.
  std::vector<int> long_history;
  for (int i = 0; i < 100; ++i) long_history.push_back(i % 2 ? 2 : 0);
  long_history.insert(long_history.end(), {3, 4, 3});
  EXPECT_EQ(greedy_after(row, p, long_history), 0);
  long_history.push_back(0);
  EXPECT_EQ(greedy_after(row, p, long_history), 1);

  p.repeat_last_n = -1;  // the whole history
  std::vector<int> old = {0};
  for (int i = 0; i < 500; ++i) old.push_back(2 + i % 3);
  EXPECT_EQ(greedy_after(row, p, old), 1);
  p.repeat_last_n = 0;  // none
  EXPECT_EQ(greedy_after(row, p, {0, 0, 0}), 0);
  p.repeat_last_n = 64;
  p.chain = {SamplerStage::Temperature};  // penalties left out of the chain
  EXPECT_EQ(greedy_after(row, p, {0, 0, 0}), 0);
}

TEST(SamplerPenalties, RandomHistoriesMatchTheReference) {
  std::mt19937 gen(99);
  std::normal_distribution<float> normal(0.0f, 1.5f);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  const int windows[] = {-1, 0, 1, 2, 3, 7, 16, 64};
  int checked = 0;
  for (int trial = 0; trial < 1500; ++trial) {
    const int vocab = 2 + static_cast<int>(gen() % 30);
    std::vector<float> row(vocab);
    for (float& x : row) x = normal(gen);
    std::vector<int> history(gen() % 80);
    for (int& id : history) id = static_cast<int>(gen() % vocab);
    SamplerParams p = SamplerParams::greedy();
    p.repeat_last_n = windows[gen() % 8];
    p.repeat_penalty = 0.7f + unit(gen);
    p.presence_penalty = unit(gen) - 0.3f;
    p.frequency_penalty = 0.5f * unit(gen) - 0.1f;
    // The reference's argmax, unless the top two are so close that float and double could
    // order them differently.
    std::vector<double> v(row.begin(), row.end());
    penalize(v, p, history);
    std::vector<int> order(vocab);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return v[a] > v[b]; });
    if (v[order[0]] - v[order[1]] < 1e-4) continue;
    ++checked;
    EXPECT_EQ(greedy_after(row, p, history), order[0]) << "trial " << trial;
    EXPECT_EQ(reference(row, p, history)[order[0]], 1.0);
  }
  EXPECT_GT(checked, 1400);
}

// ------------------------------------------------------------------------------------------------
// 5. Validation.

void expect_rejected(const SamplerParams& p, std::vector<std::string> words, const char* what) {
  SCOPED_TRACE(what);
  for (int via = 0; via < 2; ++via) {
    try {
      if (via == 0) {
        p.validate(16);
      } else {
        loom::Sampler s(p, 16);
      }
      ADD_FAILURE() << (via == 0 ? "validate" : "the constructor") << " accepted it";
    } catch (const loom::Error& e) {
      const std::string msg = e.what();
      for (const std::string& w : words) EXPECT_NE(msg.find(w), std::string::npos) << msg;
    }
  }
}

TEST(SamplerValidation, BadParametersNameThemselvesAndTheirRange) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto with = [](auto change) {
    SamplerParams p;
    change(p);
    return p;
  };
  expect_rejected(with([](SamplerParams& p) { p.temperature = -0.5f; }),
                  {"temperature", ">= 0", "-0.5"}, "temperature -0.5");
  expect_rejected(with([&](SamplerParams& p) { p.temperature = nan; }), {"temperature", ">= 0"},
                  "temperature nan");
  expect_rejected(with([](SamplerParams& p) { p.temperature = kInf; }), {"temperature", "finite"},
                  "temperature inf");
  for (float v : {0.0f, 1.5f, -0.2f, nan}) {
    expect_rejected(with([&](SamplerParams& p) { p.top_p = v; }), {"top_p", "(0, 1]"}, "top_p");
  }
  expect_rejected(with([](SamplerParams& p) { p.top_k = -1; }), {"top_k", ">= 0"}, "top_k -1");
  for (float v : {-0.1f, 1.1f, nan}) {
    expect_rejected(with([&](SamplerParams& p) { p.min_p = v; }), {"min_p", "[0, 1]"}, "min_p");
  }
  for (float v : {0.0f, 1.5f, nan}) {
    expect_rejected(with([&](SamplerParams& p) { p.typical_p = v; }), {"typical_p", "(0, 1]"},
                    "typical_p");
  }
  for (float v : {0.0f, -1.0f, nan, kInf}) {
    expect_rejected(with([&](SamplerParams& p) { p.repeat_penalty = v; }),
                    {"repeat_penalty", "> 0"}, "repeat_penalty");
  }
  expect_rejected(with([](SamplerParams& p) { p.repeat_last_n = -2; }), {"repeat_last_n", ">= -1"},
                  "repeat_last_n -2");
  for (float v : {nan, kInf, -kInf}) {
    expect_rejected(with([&](SamplerParams& p) { p.presence_penalty = v; }),
                    {"presence_penalty", "finite"}, "presence_penalty");
    expect_rejected(with([&](SamplerParams& p) { p.frequency_penalty = v; }),
                    {"frequency_penalty", "finite"}, "frequency_penalty");
  }
  for (int id : {-1, 16, 1000}) {
    expect_rejected(with([&](SamplerParams& p) {
                      p.logit_bias = {{3, 1.0f}, {id, 1.0f}};
                    }),
                    {"logit bias", std::to_string(id), "[0, 16)"}, "logit bias id");
  }
  for (float v : {nan, kInf}) {
    expect_rejected(with([&](SamplerParams& p) {
                      p.logit_bias = {{3, v}};
                    }),
                    {"logit bias", "token 3", "-inf"}, "logit bias value");
  }
  expect_rejected(with([](SamplerParams& p) { p.chain.clear(); }), {"chain", "empty"}, "chain");

  // The ends of every range are allowed.
  SamplerParams edge;
  edge.temperature = 0.0f;
  edge.top_p = 1.0f;
  edge.top_k = 0;
  edge.min_p = 1.0f;
  edge.typical_p = 1.0f;
  edge.repeat_last_n = -1;
  edge.logit_bias = {{0, -kInf}, {15, -3.0f}};
  EXPECT_NO_THROW(edge.validate(16));
  edge.min_p = 0.0f;
  EXPECT_NO_THROW(loom::Sampler(edge, 16));
  EXPECT_NO_THROW(SamplerParams{}.validate(16));

  EXPECT_THROW(loom::Sampler(SamplerParams{}, 0), loom::Error);
  loom::Sampler s(SamplerParams{}, 16);
  EXPECT_THROW(s.sample(std::span(kRow).first(15)), loom::Error);
  EXPECT_THROW(s.accept(16), loom::Error);
  EXPECT_THROW(s.accept(-1), loom::Error);
}

TEST(SamplerValidation, ParseSamplerChain) {
  using S = SamplerStage;
  EXPECT_EQ(loom::parse_sampler_chain("hf"), loom::hf_order());
  EXPECT_EQ(loom::parse_sampler_chain("llamacpp"), loom::llamacpp_order());
  EXPECT_EQ(loom::parse_sampler_chain("top_k;temperature"),
            (std::vector<S>{S::TopK, S::Temperature}));
  EXPECT_EQ(loom::parse_sampler_chain("penalties,typ_p;top_p,min_p;temp"),
            (std::vector<S>{S::Penalties, S::Typical, S::TopP, S::MinP, S::Temperature}));
  EXPECT_EQ(loom::parse_sampler_chain("typical"), (std::vector<S>{S::Typical}));
  EXPECT_EQ(loom::hf_order(),
            (std::vector<S>{S::Penalties, S::Temperature, S::TopK, S::TopP, S::MinP, S::Typical}));
  EXPECT_EQ(loom::llamacpp_order(),
            (std::vector<S>{S::Penalties, S::TopK, S::Typical, S::TopP, S::MinP, S::Temperature}));

  for (const char* bad : {"top_z", "top_k;nucleus", "greedy", "TOP_K"}) {
    try {
      loom::parse_sampler_chain(bad);
      ADD_FAILURE() << bad << " accepted";
    } catch (const loom::Error& e) {
      EXPECT_NE(std::string(e.what()).find("unknown"), std::string::npos) << e.what();
    }
  }
  for (const char* twice :
       {"top_k;top_k", "temp;temperature", "typ_p,typical", "min_p;top_p;min_p"}) {
    try {
      loom::parse_sampler_chain(twice);
      ADD_FAILURE() << twice << " accepted";
    } catch (const loom::Error& e) {
      EXPECT_NE(std::string(e.what()).find("twice"), std::string::npos) << e.what();
    }
  }
  for (const char* spec : {"hf", "llamacpp", "top_k;temperature", "min_p;typ_p"}) {
    const auto chain = loom::parse_sampler_chain(spec);
    EXPECT_EQ(loom::parse_sampler_chain(loom::sampler_chain_name(chain)), chain) << spec;
  }
}

// ------------------------------------------------------------------------------------------------
// 6. token_logprobs.

TEST(TokenLogprobs, MatchLogSoftmaxInDouble) {
  std::mt19937 gen(17);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> row(1 + gen() % 300);
    const float offset = trial % 5 == 0 ? 300.0f : 0.0f;  // large logits stay stable
    for (float& x : row) x = normal(gen) + offset;
    const int vocab = static_cast<int>(row.size());
    double mx = -kInfD;
    for (float x : row) mx = std::max(mx, static_cast<double>(x));
    double sum = 0;
    for (float x : row) sum += std::exp(x - mx);
    const double lse = mx + std::log(sum);
    std::vector<int> order(vocab);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return row[a] > row[b]; });

    for (int n : {0, 1, 5, vocab, vocab + 3}) {
      const int id = static_cast<int>(gen() % vocab);
      std::vector<loom::TokenLogprob> top(2, {7, 7.0f});  // stale contents are replaced
      const float lp = loom::token_logprobs(row, id, n, top);
      const double want = row[id] - lse;
      EXPECT_NEAR(lp, want, 1e-5 * std::max(1.0, std::abs(want))) << "trial " << trial;
      ASSERT_EQ(static_cast<int>(top.size()), std::min(n, vocab));
      for (size_t j = 0; j < top.size(); ++j) {
        EXPECT_EQ(top[j].id, order[j]) << "trial " << trial << " rank " << j;
        const double w = row[order[j]] - lse;
        EXPECT_NEAR(top[j].logprob, w, 1e-5 * std::max(1.0, std::abs(w)));
        if (j > 0) {
          EXPECT_GE(top[j - 1].logprob, top[j].logprob);
        }
      }
    }
  }
  // Ties: the N largest values, whichever of the tied ids.
  const std::vector<float> row = {1.0f, 3.0f, 3.0f, 2.0f, 3.0f};
  std::vector<loom::TokenLogprob> top;
  const float lp = loom::token_logprobs(row, 3, 2, top);
  const double lse = 3 + std::log(3 + std::exp(-1.0) + std::exp(-2.0));
  EXPECT_NEAR(lp, 2 - lse, 1e-6);
  ASSERT_EQ(top.size(), 2u);
  for (const auto& t : top) {
    EXPECT_TRUE(t.id == 1 || t.id == 2 || t.id == 4) << t.id;
    EXPECT_NEAR(t.logprob, 3 - lse, 1e-6);
  }
  EXPECT_NE(top[0].id, top[1].id);
}

}  // namespace
