#include "loom/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <numeric>
#include <random>

#include "loom/error.h"

namespace loom {

std::vector<SamplerStage> llamacpp_order() {
  using S = SamplerStage;
  return {S::Penalties, S::TopK, S::Typical, S::TopP, S::MinP, S::Temperature};
}

std::vector<SamplerStage> hf_order() {
  using S = SamplerStage;
  return {S::Penalties, S::Temperature, S::TopK, S::TopP, S::MinP, S::Typical};
}

namespace {

struct StageName {
  const char* name;
  SamplerStage stage;
};
constexpr StageName kStageNames[] = {
    {"penalties", SamplerStage::Penalties},
    {"top_k", SamplerStage::TopK},
    {"typ_p", SamplerStage::Typical},
    {"typical", SamplerStage::Typical},
    {"top_p", SamplerStage::TopP},
    {"min_p", SamplerStage::MinP},
    {"temperature", SamplerStage::Temperature},
    {"temp", SamplerStage::Temperature},
};

}  // namespace

std::vector<SamplerStage> parse_sampler_chain(const std::string& spec) {
  if (spec == "hf" || spec == "transformers") return hf_order();
  if (spec == "llamacpp" || spec == "llama.cpp") return llamacpp_order();
  std::vector<SamplerStage> chain;
  size_t i = 0;
  while (i <= spec.size()) {
    size_t j = spec.find_first_of(";,", i);
    if (j == std::string::npos) j = spec.size();
    const std::string name = spec.substr(i, j - i);
    i = j + 1;
    if (name.empty()) continue;
    const StageName* found = nullptr;
    for (const StageName& s : kStageNames) {
      if (name == s.name) found = &s;
    }
    if (!found) {
      throw Error("sampler chain: unknown stage '" + name +
                  "' (known: penalties, top_k, typ_p, top_p, min_p, temperature; or the presets "
                  "hf and llamacpp)");
    }
    if (std::find(chain.begin(), chain.end(), found->stage) != chain.end()) {
      throw Error("sampler chain: stage '" + name + "' appears twice");
    }
    chain.push_back(found->stage);
  }
  return chain;
}

std::string sampler_chain_name(const std::vector<SamplerStage>& chain) {
  if (chain == hf_order()) return "hf";
  if (chain == llamacpp_order()) return "llamacpp";
  std::string out;
  for (SamplerStage st : chain) {
    for (const StageName& s : kStageNames) {
      if (s.stage == st) {
        if (!out.empty()) out += ';';
        out += s.name;
        break;
      }
    }
  }
  return out;
}

void SamplerParams::validate(int vocab_size) const {
  auto fail = [](const char* name, const char* flag, const char* range, double v) {
    char value[32];
    std::snprintf(value, sizeof value, "%g", v);
    throw Error(std::string("invalid ") + name + " (" + flag + ") " + value + ": must be " + range);
  };
  if (!(temperature >= 0) || !std::isfinite(temperature)) {
    fail("temperature", "--temperature", "finite and >= 0 (0: greedy)", temperature);
  }
  if (top_k < 0) fail("top_k", "--top-k", ">= 0 (0: off)", top_k);
  if (!(top_p > 0 && top_p <= 1)) fail("top_p", "--top-p", "in (0, 1] (1: off)", top_p);
  if (!(min_p >= 0 && min_p <= 1)) fail("min_p", "--min-p", "in [0, 1] (0: off)", min_p);
  if (!(typical_p > 0 && typical_p <= 1)) {
    fail("typical_p", "--typical", "in (0, 1] (1: off)", typical_p);
  }
  if (!(repeat_penalty > 0) || !std::isfinite(repeat_penalty)) {
    fail("repeat_penalty", "--repeat-penalty", "finite and > 0 (1: off)", repeat_penalty);
  }
  if (repeat_last_n < -1) {
    fail("repeat_last_n", "--repeat-last-n", ">= -1 (-1: the whole sequence, 0: off)",
         repeat_last_n);
  }
  if (!std::isfinite(presence_penalty)) {
    fail("presence_penalty", "--presence-penalty", "finite", presence_penalty);
  }
  if (!std::isfinite(frequency_penalty)) {
    fail("frequency_penalty", "--frequency-penalty", "finite", frequency_penalty);
  }
  if (chain.empty()) throw Error("invalid sampler chain (--samplers): it is empty");
  for (const auto& [id, bias] : logit_bias) {
    if (id < 0 || id >= vocab_size) {
      throw Error("invalid logit bias: token id " + std::to_string(id) +
                  " is outside the vocabulary [0, " + std::to_string(vocab_size) + ")");
    }
    if (std::isnan(bias) || bias == std::numeric_limits<float>::infinity()) {
      throw Error("invalid logit bias for token " + std::to_string(id) +
                  ": must be a finite number or -inf");
    }
  }
}

struct Sampler::Impl {
  SamplerParams p;
  int vocab;
  std::mt19937_64 rng;
  // Candidates: the first n entries of ids/vals are alive; `sorted` when they are in descending
  // order of vals. Sized once to the vocabulary.
  std::vector<int> ids;
  std::vector<float> vals;
  std::vector<float> probs;
  std::vector<std::pair<float, int>> pairs;  // (val, index or id) for sorting
  std::vector<int> scratch_ids;              // copies while reordering
  std::vector<float> scratch_vals, scratch_probs;
  int n = 0;
  bool sorted = false;
  // Penalty window: a ring of the last repeat_last_n tokens and each token's count in it.
  std::vector<int> ring;
  size_t ring_pos = 0, ring_fill = 0;
  std::vector<int> counts;

  Impl(const SamplerParams& params, int vocab_size)
      : p(params),
        vocab(vocab_size),
        rng(params.seed),
        ids(vocab_size),
        vals(vocab_size),
        probs(vocab_size),
        pairs(vocab_size),
        ring(params.repeat_last_n > 0 ? params.repeat_last_n : 0),
        counts(vocab_size, 0) {}

  double uniform() { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

  bool penalties_active() const {
    return p.repeat_last_n != 0 &&
           (p.repeat_penalty != 1.0f || p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f);
  }

  void apply_penalties() {
    if (!penalties_active()) return;
    for (int i = 0; i < n; ++i) {
      const int c = counts[ids[i]];
      if (c == 0) continue;
      float& v = vals[i];
      v = v > 0 ? v / p.repeat_penalty : v * p.repeat_penalty;
      v -= static_cast<float>(c) * p.frequency_penalty + p.presence_penalty;
    }
    sorted = false;
  }

  void sort_desc() {
    if (!sorted) sort_prefix(n);
  }

  // Puts the M largest candidates first, in descending order (ties by id, for determinism).
  void sort_prefix(int m) {
    auto cmp = [](const std::pair<float, int>& a, const std::pair<float, int>& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    for (int i = 0; i < n; ++i) pairs[i] = {vals[i], ids[i]};
    if (m < n) {
      std::partial_sort(pairs.begin(), pairs.begin() + m, pairs.begin() + n, cmp);
    } else {
      std::sort(pairs.begin(), pairs.begin() + n, cmp);
    }
    for (int i = 0; i < n; ++i) {
      vals[i] = pairs[i].first;
      ids[i] = pairs[i].second;
    }
    if (m >= n) sorted = true;
  }

  // probs[i] = softmax(vals)[i] over the alive candidates; returns the max val.
  float softmax() {
    float mx = -std::numeric_limits<float>::infinity();
    for (int i = 0; i < n; ++i) mx = std::max(mx, vals[i]);
    if (mx == -std::numeric_limits<float>::infinity()) {
      throw Error("every token has a logit of -inf (logit bias bans them all?)");
    }
    double sum = 0;
    for (int i = 0; i < n; ++i) {
      probs[i] = std::exp(vals[i] - mx);
      sum += probs[i];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int i = 0; i < n; ++i) probs[i] *= inv;
    return mx;
  }

  // The K-th largest of the candidates' values (K < n). For the usual small K, a min-heap of the
  // K largest seen so far, in `probs`: most values cost a single comparison with its top.
  float kth_largest(int k) {
    float* h = probs.data();
    std::copy_n(vals.begin(), k, h);
    if (k > 256) {
      std::copy(vals.begin() + k, vals.begin() + n, h + k);
      std::nth_element(h, h + (k - 1), h + n, std::greater<float>());
      return h[k - 1];
    }
    std::make_heap(h, h + k, std::greater<float>());
    for (int i = k; i < n; ++i) {
      if (vals[i] > h[0]) {
        std::pop_heap(h, h + k, std::greater<float>());
        h[k - 1] = vals[i];
        std::push_heap(h, h + k, std::greater<float>());
      }
    }
    return h[0];
  }

  void top_k() {
    const int k = p.top_k;
    if (k <= 0 || k >= n) return;
    // The k-th largest value; keep every candidate at least that large (ties survive, as in
    // transformers' TopKLogitsWarper), then order them.
    const float kth = kth_largest(k);
    int m = 0;
    for (int i = 0; i < n; ++i) {
      if (vals[i] >= kth) {
        vals[m] = vals[i];
        ids[m] = ids[i];
        ++m;
      }
    }
    n = m;
    sorted = false;
    sort_desc();
  }

  // Keeps the smallest head of the current order whose probability mass reaches MASS (the
  // token that crosses it included); needs probs in the current order.
  void keep_mass(double mass) {
    double cum = 0;
    int m = 0;
    while (m < n) {
      cum += probs[m++];
      if (cum >= mass) break;
    }
    n = std::max(m, 1);
  }

  void top_p() {
    if (p.top_p >= 1.0f) return;
    if (sorted) {
      softmax();
    } else {
      // Sort only as far as the nucleus reaches: grow a sorted head until its mass covers top_p.
      for (int m = std::min(n, 64);; m = std::min(n, m * 4)) {
        sort_prefix(m);
        softmax();
        double cum = 0;
        for (int i = 0; i < m; ++i) cum += probs[i];
        if (cum >= p.top_p || m == n) break;
      }
    }
    keep_mass(p.top_p);
    sorted = true;  // what survives lies inside the sorted head
  }

  void min_p() {
    if (p.min_p <= 0.0f || n <= 1) return;
    // p_i >= min_p * p_max  <=>  val_i >= val_max + log(min_p)
    float mx = -std::numeric_limits<float>::infinity();
    for (int i = 0; i < n; ++i) mx = std::max(mx, vals[i]);
    const float threshold = mx + std::log(p.min_p);
    int m = 0;
    for (int i = 0; i < n; ++i) {
      if (vals[i] >= threshold) {
        vals[m] = vals[i];
        ids[m] = ids[i];
        ++m;
      }
    }
    n = m;  // order preserved, so `sorted` stays as it was
  }

  void typical() {
    if (p.typical_p >= 1.0f || n <= 1) return;
    softmax();
    double entropy = 0;
    for (int i = 0; i < n; ++i) {
      if (probs[i] > 0) entropy -= probs[i] * std::log(static_cast<double>(probs[i]));
    }
    // Order by how far each token's surprise is from the entropy, most typical first.
    for (int i = 0; i < n; ++i) {
      const double surprise = probs[i] > 0 ? -std::log(static_cast<double>(probs[i])) : INFINITY;
      pairs[i] = {static_cast<float>(std::abs(surprise - entropy)), i};
    }
    std::sort(pairs.begin(), pairs.begin() + n, [](const auto& a, const auto& b) {
      return a.first < b.first || (a.first == b.first && a.second < b.second);
    });
    // Reorder candidates (and their probs) into that order, from copies.
    scratch_ids.assign(ids.begin(), ids.begin() + n);
    scratch_vals.assign(vals.begin(), vals.begin() + n);
    scratch_probs.assign(probs.begin(), probs.begin() + n);
    for (int i = 0; i < n; ++i) {
      const int src = pairs[i].second;
      ids[i] = scratch_ids[src];
      vals[i] = scratch_vals[src];
      probs[i] = scratch_probs[src];
    }
    sorted = false;
    keep_mass(p.typical_p);
  }

  void temperature() {
    const float t = p.temperature;
    if (t == 1.0f) return;
    for (int i = 0; i < n; ++i) vals[i] /= t;
  }

  int draw() {
    softmax();
    const double u = uniform();
    double cum = 0;
    for (int i = 0; i < n; ++i) {
      cum += probs[i];
      if (u < cum) return ids[i];
    }
    // Rounding left the total a hair below 1: the last candidate with any mass.
    for (int i = n - 1; i >= 0; --i) {
      if (probs[i] > 0) return ids[i];
    }
    return ids[0];
  }

  // The first of equal maxima, as torch.argmax picks.
  int argmax(const float* v) const {
    const int best = static_cast<int>(std::max_element(v, v + vocab) - v);
    if (v[best] == -std::numeric_limits<float>::infinity()) {
      throw Error("every token has a logit of -inf (logit bias bans them all?)");
    }
    return best;
  }

  int sample(std::span<const float> logits) {
    if (static_cast<int>(logits.size()) != vocab) {
      throw Error("sampler: logits row has " + std::to_string(logits.size()) +
                  " entries, the vocabulary " + std::to_string(vocab));
    }
    const bool greedy = p.temperature == 0.0f;
    const bool penalize = penalties_active() && std::find(p.chain.begin(), p.chain.end(),
                                                          SamplerStage::Penalties) != p.chain.end();
    if (greedy && !penalize && p.logit_bias.empty()) return argmax(logits.data());

    n = vocab;
    sorted = false;
    std::copy(logits.begin(), logits.end(), vals.begin());
    std::iota(ids.begin(), ids.end(), 0);
    for (const auto& [id, bias] : p.logit_bias) vals[id] += bias;
    if (greedy) {
      // Only the stages that move logits matter for the argmax.
      if (penalize) apply_penalties();
      return argmax(vals.data());
    }
    for (SamplerStage st : p.chain) {
      switch (st) {
        case SamplerStage::Penalties:
          apply_penalties();
          break;
        case SamplerStage::TopK:
          top_k();
          break;
        case SamplerStage::Typical:
          typical();
          break;
        case SamplerStage::TopP:
          top_p();
          break;
        case SamplerStage::MinP:
          min_p();
          break;
        case SamplerStage::Temperature:
          temperature();
          break;
      }
    }
    return draw();
  }

  void accept(int id) {
    if (id < 0 || id >= vocab) {
      throw Error("sampler: token id " + std::to_string(id) + " is outside the vocabulary");
    }
    if (p.repeat_last_n == 0) return;
    if (p.repeat_last_n < 0) {
      ++counts[id];
      return;
    }
    if (ring_fill == ring.size()) {
      --counts[ring[ring_pos]];
    } else {
      ++ring_fill;
    }
    ring[ring_pos] = id;
    ++counts[id];
    ring_pos = (ring_pos + 1) % ring.size();
  }

  void reset() {
    std::fill(counts.begin(), counts.end(), 0);
    ring_pos = ring_fill = 0;
    rng.seed(p.seed);
  }
};

Sampler::Sampler(const SamplerParams& params, int vocab_size) {
  if (vocab_size <= 0) throw Error("sampler: vocabulary size must be positive");
  params.validate(vocab_size);
  impl_ = std::make_unique<Impl>(params, vocab_size);
  impl_->scratch_ids.reserve(vocab_size);
  impl_->scratch_vals.reserve(vocab_size);
  impl_->scratch_probs.reserve(vocab_size);
}
Sampler::Sampler(Sampler&&) noexcept = default;
Sampler& Sampler::operator=(Sampler&&) noexcept = default;
Sampler::~Sampler() = default;

int Sampler::sample(std::span<const float> logits) {
  return impl_->sample(logits);
}
void Sampler::accept(int id) {
  impl_->accept(id);
}
void Sampler::reset() {
  impl_->reset();
}
const SamplerParams& Sampler::params() const {
  return impl_->p;
}

float token_logprobs(std::span<const float> logits, int id, int n, std::vector<TokenLogprob>& top) {
  float mx = -std::numeric_limits<float>::infinity();
  for (float v : logits) mx = std::max(mx, v);
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v - mx));
  const double lse = mx + std::log(sum);

  // The N largest through a small min-heap kept in TOP: O(vocab log N), no allocation once TOP
  // has capacity N.
  top.clear();
  auto worse = [](const TokenLogprob& a, const TokenLogprob& b) {
    return a.logprob > b.logprob || (a.logprob == b.logprob && a.id < b.id);
  };
  if (n > 0) {
    for (int i = 0; i < static_cast<int>(logits.size()); ++i) {
      const TokenLogprob c{i, logits[i]};
      if (static_cast<int>(top.size()) < n) {
        top.push_back(c);
        std::push_heap(top.begin(), top.end(), worse);
      } else if (worse(c, top.front())) {
        std::pop_heap(top.begin(), top.end(), worse);
        top.back() = c;
        std::push_heap(top.begin(), top.end(), worse);
      }
    }
    std::sort_heap(top.begin(), top.end(), worse);
    for (TokenLogprob& t : top) t.logprob = static_cast<float>(t.logprob - lse);
  }
  return static_cast<float>(logits[id] - lse);
}

}  // namespace loom
