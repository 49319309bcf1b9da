#include "loom/generate.h"

#include <algorithm>
#include <chrono>

#include "loom/error.h"

namespace loom {

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::Eos:
      return "eos";
    case StopReason::MaxTokens:
      return "max_tokens";
    case StopReason::ContextFull:
      return "context_full";
    case StopReason::Callback:
      return "callback";
  }
  return "?";
}

namespace {
int argmax(std::span<const float> logits) {
  // The first of equal maxima, as torch.argmax picks.
  return static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}
}  // namespace

GenerateResult generate(Session& session, std::span<const int> prompt,
                        const GenerateOptions& options, const TokenCallback& on_token) {
  if (options.max_tokens < 0) {
    throw Error("max_tokens must be >= 0, got " + std::to_string(options.max_tokens));
  }
  using clock = std::chrono::steady_clock;
  const std::vector<int>& eos = session.model().config().eos_token_ids;
  GenerateResult r;
  r.n_prompt = static_cast<int>(prompt.size());
  r.ids.reserve(options.max_tokens);

  auto t0 = clock::now();
  std::span<const float> logits = session.prefill(prompt);
  r.prefill_seconds = std::chrono::duration<double>(clock::now() - t0).count();

  t0 = clock::now();
  r.stop = StopReason::MaxTokens;
  for (int i = 0; i < options.max_tokens; ++i) {
    const int next = argmax(logits);
    if (options.stop_at_eos && std::find(eos.begin(), eos.end(), next) != eos.end()) {
      r.stop = StopReason::Eos;
      break;
    }
    r.ids.push_back(next);
    if (on_token && !on_token(next)) {
      r.stop = StopReason::Callback;
      break;
    }
    if (i + 1 == options.max_tokens) break;
    if (session.position() >= session.ctx_size()) {
      r.stop = StopReason::ContextFull;
      break;
    }
    logits = session.decode(next);
    ++r.n_decoded;
  }
  r.decode_seconds = std::chrono::duration<double>(clock::now() - t0).count();
  return r;
}

}  // namespace loom
