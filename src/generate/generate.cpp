#include "loom/generate.h"

#include <algorithm>
#include <chrono>

#include "generate/stop_strings.h"
#include "loom/error.h"

namespace loom {

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::Eos:
      return "eos";
    case StopReason::StopString:
      return "stop_string";
    case StopReason::MaxTokens:
      return "max_tokens";
    case StopReason::ContextFull:
      return "context_full";
    case StopReason::Callback:
      return "callback";
  }
  return "?";
}

SamplerParams sampler_defaults(const ModelConfig& config) {
  SamplerParams p;  // llama.cpp's defaults and order
  const GenerationConfig& g = config.generation;
  if (!g.has_sampling_keys) return p;
  // transformers: GenerationConfig's defaults, then the file's values.
  p.chain = hf_order();
  p.temperature = g.do_sample ? g.temperature.value_or(1.0f) : 0.0f;
  p.top_k = g.top_k.value_or(50);
  p.top_p = g.top_p.value_or(1.0f);
  p.min_p = g.min_p.value_or(0.0f);
  p.typical_p = g.typical_p.value_or(1.0f);
  p.repeat_penalty = g.repetition_penalty.value_or(1.0f);
  p.repeat_last_n = -1;  // transformers penalizes every token of the sequence
  return p;
}

GenerateResult generate(Session& session, std::span<const int> prompt,
                        const GenerateOptions& options, const TokenCallback& on_token) {
  if (options.max_tokens < 0) {
    throw Error("max_tokens must be >= 0, got " + std::to_string(options.max_tokens));
  }
  for (const std::string& s : options.stop) {
    if (s.empty()) throw Error("a stop string must not be empty");
  }
  const Model& model = session.model();
  const ModelConfig& config = model.config();
  const Tokenizer& tok = model.tokenizer();
  Sampler sampler(options.sampling, config.vocab_size);
  const std::vector<int>& eos = config.eos_token_ids;
  using clock = std::chrono::steady_clock;

  GenerateResult r;
  r.n_prompt = static_cast<int>(prompt.size());
  r.ids.reserve(options.max_tokens);
  r.text.reserve(static_cast<size_t>(options.max_tokens) * 8);
  const bool want_logprobs = options.top_logprobs >= 0;
  if (want_logprobs) r.logprobs.reserve(options.max_tokens);
  StepLogprobs step;
  step.top.reserve(std::max(options.top_logprobs, 0));

  // The continuation starts a text (and loses sentencepiece's leading space) only when nothing
  // before it has any text.
  bool has_text = session.position() > 0;
  for (int id : prompt) has_text |= !tok.token_bytes(id).empty();
  TextStream stream(tok, !has_text);
  StopStringFilter filter(options.stop);

  auto t0 = clock::now();
  std::span<const float> logits = session.prefill(prompt);
  r.prefill_seconds = std::chrono::duration<double>(clock::now() - t0).count();
  for (int id : options.history) sampler.accept(id);
  for (int id : prompt) sampler.accept(id);

  t0 = clock::now();
  r.stop = StopReason::MaxTokens;
  for (int i = 0; i < options.max_tokens; ++i) {
    const int next = sampler.sample(logits);
    if (!options.ignore_eos && std::find(eos.begin(), eos.end(), next) != eos.end()) {
      r.stop = StopReason::Eos;
      break;
    }
    sampler.accept(next);
    r.ids.push_back(next);
    if (want_logprobs) {
      step.logprob = token_logprobs(logits, next, options.top_logprobs, step.top);
      r.logprobs.push_back(step);
    }
    const std::string_view text = filter.push(stream.push(next));
    r.text.append(text);
    if (on_token && !on_token({next, text, want_logprobs ? &r.logprobs.back() : nullptr})) {
      r.stop = StopReason::Callback;
      break;
    }
    if (filter.stopped()) {
      r.stop = StopReason::StopString;
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

  // Whatever was held back (a possible start of a stop string, an unfinished character) is text
  // after all, unless a stop string ended it.
  if (r.stop != StopReason::StopString) {
    const std::string_view rest = filter.finish(stream.flush());
    r.text.append(rest);
    if (!rest.empty() && on_token) on_token({-1, rest, nullptr});
  }
  return r;
}

}  // namespace loom
