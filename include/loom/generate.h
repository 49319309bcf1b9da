// Generation: prefill a prompt, then sample token by token until a stop condition, streaming
// text as it becomes final.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "loom/sampler.h"
#include "loom/session.h"

namespace loom {

enum class StopReason { Eos, StopString, MaxTokens, ContextFull, Callback };
const char* stop_reason_name(StopReason r);

// The sampling defaults for a model, in this order of precedence:
//  - generation_config.json with sampling keys: as transformers applies it (do_sample false or
//    absent: greedy; sampling: temperature 1, top_k 50, top_p 1 unless the file says otherwise;
//    repetition_penalty over the whole sequence) with transformers' sampler order;
//  - otherwise llama.cpp's defaults: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, in
//    llama.cpp's order.
// The seed is left at 0: callers choose one (loom-generate draws a random seed and reports it).
SamplerParams sampler_defaults(const ModelConfig& config);

struct GenerateOptions {
  int max_tokens = 128;           // tokens to generate at most
  bool ignore_eos = false;        // keep going past the model's EOS ids
  std::vector<std::string> stop;  // stop strings: generation ends when the text contains one;
                                  // the stop string and what follows are not part of the text
  SamplerParams sampling;         // temperature 0: greedy
  int top_logprobs = -1;          // -1: no logprobs; N >= 0: the chosen token's logprob and the
                                  // N most likely alternatives at each step
  // Tokens that come before the prompt in the sequence (those the session already holds, such as
  // a conversation's earlier turns): the sampler's penalty history starts with them, then the
  // prompt, as transformers penalizes every token of its input. Not evaluated. Empty: the
  // history starts with the prompt. The span must outlive the call.
  std::span<const int> history;
};

struct StepLogprobs {
  float logprob = 0;              // of the chosen token, under the model's distribution
  std::vector<TokenLogprob> top;  // the most likely tokens, best first
};

// What the callback sees for each generated token.
struct TokenEvent {
  int id = 0;             // the token; -1 for a last event carrying text held back to the end
  std::string_view text;  // text that became final with this token: complete UTF-8 characters,
                          // never part of a stop string; may be empty (held back)
  const StepLogprobs* logprobs = nullptr;  // when requested
};
// Returning false stops generation (StopReason::Callback).
using TokenCallback = std::function<bool(const TokenEvent&)>;

struct GenerateResult {
  std::vector<int> ids;  // generated tokens (an EOS that ended generation is not included)
  std::string text;      // their text, as streamed (stop string excluded)
  std::vector<StepLogprobs> logprobs;  // one per id, when requested
  StopReason stop = StopReason::MaxTokens;
  int n_prompt = 0;
  double prefill_seconds = 0;
  int n_decoded = 0;          // single-token forward passes made after the prefill
  double decode_seconds = 0;  // time those took, sampling included
};

// Appends PROMPT to what the session holds, then generates. The sampler's penalty history
// starts with options.history, then the prompt. Throws loom::Error for invalid options.
GenerateResult generate(Session& session, std::span<const int> prompt,
                        const GenerateOptions& options, const TokenCallback& on_token = {});

}  // namespace loom
