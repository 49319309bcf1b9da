// Generation: prefill a prompt, then decode token by token until a stop condition.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "loom/session.h"

namespace loom {

enum class StopReason { Eos, MaxTokens, ContextFull, Callback };
const char* stop_reason_name(StopReason r);

struct GenerateOptions {
  int max_tokens = 128;     // tokens to generate at most
  bool stop_at_eos = true;  // stop at the model's EOS ids (not included in the result)
};

struct GenerateResult {
  std::vector<int> ids;  // generated tokens (without the prompt)
  StopReason stop = StopReason::MaxTokens;
  int n_prompt = 0;
  double prefill_seconds = 0;
  int n_decoded = 0;          // single-token forward passes made after the prefill
  double decode_seconds = 0;  // time those took
};

// Called with each generated token; returning false stops generation.
using TokenCallback = std::function<bool(int id)>;

// Greedy decoding of PROMPT (appended to whatever the session holds).
GenerateResult generate(Session& session, std::span<const int> prompt,
                        const GenerateOptions& options, const TokenCallback& on_token = {});

}  // namespace loom
