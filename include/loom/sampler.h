// Choosing the next token from a row of logits: penalties, logit bias, the truncation samplers
// (top-k, typical, top-p, min-p), temperature and a seeded draw, in an order the caller picks.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#pragma GCC visibility push(default)  // the public API: what libloom.so exports
namespace loom {

// One step of a sampler chain.
enum class SamplerStage : uint8_t { Penalties, TopK, Typical, TopP, MinP, Temperature };

// The two orders users know.
//  - llama.cpp: penalties, top-k, typical, top-p, min-p, temperature last. Truncation sees the
//    model's own distribution, so temperature only reshapes what survives.
//  - transformers: penalties, temperature first, then top-k, top-p, min-p, typical. Truncation
//    sees the tempered distribution, so a high temperature widens the nucleus.
std::vector<SamplerStage> llamacpp_order();
std::vector<SamplerStage> hf_order();
// Parses "hf", "llamacpp", or a chain of stage names separated by ';' or ',' (llama.cpp's
// --samplers names: penalties, top_k, typ_p / typical, top_p, min_p, temperature / temp).
std::vector<SamplerStage> parse_sampler_chain(const std::string& spec);
std::string sampler_chain_name(const std::vector<SamplerStage>& chain);

struct SamplerParams {
  float temperature = 0.8f;        // 0: greedy (argmax after penalties and bias)
  int top_k = 40;                  // 0: off. Tokens tied with the k-th are kept.
  float top_p = 0.95f;             // (0, 1]; 1: off
  float min_p = 0.05f;             // [0, 1]; 0: off
  float typical_p = 1.0f;          // (0, 1]; 1: off
  float repeat_penalty = 1.0f;     // > 0; 1: off. Divides positive logits, multiplies negative.
  int repeat_last_n = 64;          // tokens the penalties look back over; -1: all, 0: none
  float presence_penalty = 0.0f;   // subtracted once from every token seen in the window
  float frequency_penalty = 0.0f;  // subtracted per occurrence in the window
  std::vector<std::pair<int, float>> logit_bias;  // added to a token's logit (-inf bans it)
  uint64_t seed = 0;
  std::vector<SamplerStage> chain = llamacpp_order();

  // Argmax after logit bias and penalties (which are off here).
  static SamplerParams greedy() {
    SamplerParams p;
    p.temperature = 0.0f;
    return p;
  }

  // Throws loom::Error naming the parameter and its allowed range.
  void validate(int vocab_size) const;
};

// A chain of samplers over rows of VOCAB logits. Holds its buffers (allocated once) and the
// token history the penalties use; one per sequence, used by one thread at a time.
class Sampler {
 public:
  Sampler(const SamplerParams& params, int vocab_size);
  Sampler(Sampler&&) noexcept;
  Sampler& operator=(Sampler&&) noexcept;
  ~Sampler();

  // Picks a token for LOGITS (vocab_size floats; not modified). Does not record it: call accept.
  int sample(std::span<const float> logits);
  // Adds a token to the history the penalties look back over (prompt tokens too).
  void accept(int id);
  // Forgets the history and restarts the random stream from the seed.
  void reset();

  const SamplerParams& params() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct TokenLogprob {
  int id = 0;
  float logprob = 0;
};

// The log-probability of ID under the model's distribution softmax(LOGITS), and the N most likely
// tokens with theirs (into TOP, most likely first). No full sort: a partial selection.
float token_logprobs(std::span<const float> logits, int id, int n, std::vector<TokenLogprob>& top);

}  // namespace loom
#pragma GCC visibility pop
