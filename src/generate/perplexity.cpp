#include "loom/perplexity.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "loom/error.h"

namespace loom {
namespace {

// Positions evaluated per prefill call: the logits of a whole chunk at once would take ctx x vocab
// floats (4096 x 32000: 500 MiB). Prompt results do not depend on how a prompt is split, so
// slices give the same logits.
constexpr size_t kSlice = 512;

// -log softmax(row)[target], in double: the NLL sums hundreds of terms, and a float log-sum-exp
// would put rounding of 1e-7 relative into each.
double token_nll(const float* row, int vocab, int target) {
  const double max = *std::max_element(row, row + vocab);
  double sum = 0;
  for (int v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(row[v]) - max);
  return max + std::log(sum) - static_cast<double>(row[target]);
}

// Adds CHUNK to R's totals (NLL_SQ: the sum of squared per-token NLLs so far) and tells ON_CHUNK.
void add_chunk(PerplexityResult& r, const PerplexityChunk& chunk, double nll_sq,
               const PerplexityCallback& on_chunk) {
  r.chunks.push_back(chunk);
  r.predictions += chunk.predictions;
  r.nll += chunk.nll;
  const double mean = r.nll / r.predictions;
  r.perplexity = std::exp(mean);
  // As llama-perplexity: the NLLs' variance over count - 1, as a standard error of the mean.
  const double var = nll_sq / r.predictions - mean * mean;
  r.perplexity_err =
      r.predictions > 1 && var > 0 ? std::sqrt(var / (r.predictions - 1)) * r.perplexity : 0;
  if (on_chunk) on_chunk(r);
}

}  // namespace

PerplexityResult perplexity(Session& session, std::span<const int> ids, int ctx,
                            const PerplexityCallback& on_chunk) {
  const ModelConfig& config = session.model().config();
  const int vocab = config.vocab_size;
  if (ctx < 2) {
    throw Error("perplexity: ctx must be at least 2 (a BOS and one id to predict), got " +
                std::to_string(ctx));
  }
  if (ctx > session.ctx_size()) {
    throw Error("perplexity: ctx " + std::to_string(ctx) + " exceeds the session's context of " +
                std::to_string(session.ctx_size()) + " tokens");
  }
  if (ids.empty()) throw Error("perplexity: no token ids (an empty text?)");
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab) {
      throw Error("perplexity: token id " + std::to_string(ids[i]) + " at position " +
                  std::to_string(i) + " of the text is outside the vocabulary [0, " +
                  std::to_string(vocab) + ")");
    }
  }
  if (config.bos_token_id < 0 || config.bos_token_id >= vocab) {
    throw Error(
        "perplexity: the model has no BOS token (config.json's bos_token_id) to start "
        "each chunk with");
  }

  PerplexityResult r;
  double nll_sq = 0;  // sum of squared per-token NLLs, for the standard error
  const size_t step = static_cast<size_t>(ctx) - 1;
  std::vector<int> input;
  for (size_t start = 0; start < ids.size(); start += step) {
    const size_t n = std::min(step, ids.size() - start);
    input.assign(1, config.bos_token_id);
    input.insert(input.end(), ids.begin() + start, ids.begin() + start + n);
    session.reset();
    PerplexityChunk chunk{.start = static_cast<int>(start), .predictions = static_cast<int>(n)};
    // Row p of the logits predicts input[p + 1]: the chunk's last id is predicted, never fed.
    for (size_t s = 0; s < n; s += kSlice) {
      const size_t len = std::min(kSlice, n - s);
      const std::vector<float> logits =
          session.prefill_all_logits(std::span<const int>(input).subspan(s, len));
      for (size_t p = 0; p < len; ++p) {
        const double t = token_nll(logits.data() + p * vocab, vocab, input[s + p + 1]);
        chunk.nll += t;
        nll_sq += t * t;
      }
    }
    add_chunk(r, chunk, nll_sq, on_chunk);
  }
  return r;
}

PerplexityResult perplexity_llama_cpp(Session& session, std::span<const int> ids, int ctx,
                                      const PerplexityCallback& on_chunk) {
  const ModelConfig& config = session.model().config();
  const int vocab = config.vocab_size;
  if (ctx < 4 || ctx > session.ctx_size()) {
    throw Error("perplexity: ctx " + std::to_string(ctx) + " must be in [4, " +
                std::to_string(session.ctx_size()) + "]");
  }
  if (ids.size() < 2 * static_cast<size_t>(ctx)) {
    throw Error("perplexity: " + std::to_string(ids.size()) + " tokens; llama-perplexity's " +
                "scoring needs at least 2 * ctx = " + std::to_string(2 * ctx));
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab) {
      throw Error("perplexity: token id " + std::to_string(ids[i]) + " at position " +
                  std::to_string(i) + " is outside the vocabulary");
    }
  }
  PerplexityResult r;
  double nll_sq = 0;
  const int first = ctx / 2;
  std::vector<int> input;
  for (size_t start = 0; start + ctx <= ids.size(); start += ctx) {
    input.assign(ids.begin() + start, ids.begin() + start + ctx);
    if (config.bos_token_id >= 0) input[0] = config.bos_token_id;
    session.reset();
    PerplexityChunk chunk{.start = static_cast<int>(start), .predictions = ctx - 1 - first};
    for (int s = 0; s < ctx; s += static_cast<int>(kSlice)) {
      const int len = std::min(static_cast<int>(kSlice), ctx - s);
      const std::vector<float> logits =
          session.prefill_all_logits(std::span<const int>(input).subspan(s, len));
      for (int p = std::max(first, s); p < s + len && p < ctx - 1; ++p) {
        // Scored against the text's next id (the chunk's own, not the BOS put in its place).
        const double t = token_nll(logits.data() + static_cast<size_t>(p - s) * vocab, vocab,
                                   ids[start + p + 1]);
        chunk.nll += t;
        nll_sq += t * t;
      }
    }
    add_chunk(r, chunk, nll_sq, on_chunk);
  }
  return r;
}

}  // namespace loom
