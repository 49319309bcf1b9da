// Perplexity of a text under a model, the figure llama.cpp's llama-perplexity reports, measured
// the way scripts/reference_perplexity.py measures it with transformers, so the two compare.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "loom/session.h"

#pragma GCC visibility push(default)  // the public API: what libloom.so exports
namespace loom {

struct PerplexityChunk {
  int start = 0;        // offset of the chunk's first id in the text's ids
  int predictions = 0;  // ids of the chunk, each predicted once
  double nll = 0;       // sum of -log p(id | BOS and the ids before it in the chunk)
};

struct PerplexityResult {
  int predictions = 0;
  double nll = 0;             // total negative log-likelihood, natural log
  double perplexity = 0;      // exp(nll / predictions)
  double perplexity_err = 0;  // llama-perplexity's "+/-": the standard error of the mean NLL
                              // times the perplexity; 0 with a single prediction
  std::vector<PerplexityChunk> chunks;
};

// Called after each chunk with the totals so far (llama-perplexity prints the running estimate).
using PerplexityCallback = std::function<void(const PerplexityResult& so_far)>;

// IDS (the text's token ids, no BOS) cut into chunks of CTX - 1 ids; each chunk is evaluated from
// an empty context after the model's BOS, and every id of it is predicted (the first from BOS
// alone). Unlike llama-perplexity, which scores only the second half of each chunk of CTX and
// drops the text's tail, every id counts, so short texts and transformers' reference agree.
// Resets SESSION before each chunk: what it held is forgotten. CTX must be in [2,
// session.ctx_size()]. Throws loom::Error for invalid input, or a model without a BOS token.
PerplexityResult perplexity(Session& session, std::span<const int> ids, int ctx,
                            const PerplexityCallback& on_chunk = {});

// llama-perplexity's own scoring, for comparing with it on the same file and text: IDS are the
// text's ids with BOS first (as llama-perplexity tokenizes it), cut into whole chunks of CTX (the
// tail dropped); each chunk's first id is replaced by BOS, and only its second half is scored
// (positions CTX/2 .. CTX-2 predict the next id). CTX must be in [4, session.ctx_size()] and IDS
// hold at least two chunks, as llama-perplexity requires.
PerplexityResult perplexity_llama_cpp(Session& session, std::span<const int> ids, int ctx,
                                      const PerplexityCallback& on_chunk = {});

}  // namespace loom
#pragma GCC visibility pop
