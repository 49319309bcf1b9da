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

struct Generator::State {
  const Tokenizer& tok;
  std::vector<int> eos;
  GenerateOptions options;
  Sampler sampler;
  TextStream stream;
  StopStringFilter filter;
  GenerateResult r;
  StepLogprobs step;
  std::vector<float> processed;  // the logits a processor changes, when there is one
  bool done = false, finished = false;

  State(const Model& model, const GenerateOptions& o, bool has_text)
      : tok(model.tokenizer()),
        eos(model.config().eos_token_ids),
        options(o),
        sampler(o.sampling, model.config().vocab_size),
        stream(tok, !has_text),
        filter(o.stop) {}
};

Generator::Generator(const Model& model, const GenerateOptions& options,
                     std::span<const int> prompt, bool has_text) {
  if (options.max_tokens < 0) {
    throw Error("max_tokens must be >= 0, got " + std::to_string(options.max_tokens));
  }
  for (const std::string& s : options.stop) {
    if (s.empty()) throw Error("a stop string must not be empty");
  }
  s_ = std::make_unique<State>(model, options, has_text);
  State& st = *s_;
  st.r.n_prompt = static_cast<int>(prompt.size());
  st.r.ids.reserve(options.max_tokens);
  st.r.text.reserve(static_cast<size_t>(options.max_tokens) * 8);
  if (options.top_logprobs >= 0) st.r.logprobs.reserve(options.max_tokens);
  st.step.top.reserve(std::max(options.top_logprobs, 0));
  for (int id : options.history) st.sampler.accept(id);
  for (int id : prompt) st.sampler.accept(id);
  st.r.stop = StopReason::MaxTokens;
  st.done = options.max_tokens == 0;
  st.options.history = {};  // (a view of the caller's: not kept past the constructor)
}

Generator::Generator(Generator&&) noexcept = default;
Generator& Generator::operator=(Generator&&) noexcept = default;
Generator::~Generator() = default;

TokenEvent Generator::step(std::span<const float> logits) {
  State& st = *s_;
  if (st.done) throw Error("Generator::step after generation ended");
  if (st.options.logits_processor) {
    st.processed.assign(logits.begin(), logits.end());
    st.options.logits_processor(st.processed, st.r.ids);
    logits = st.processed;
  }
  const int next = st.sampler.sample(logits);
  if (!st.options.ignore_eos && std::find(st.eos.begin(), st.eos.end(), next) != st.eos.end()) {
    st.r.stop = StopReason::Eos;
    st.done = true;
    return {-1, {}, nullptr};
  }
  st.sampler.accept(next);
  st.r.ids.push_back(next);
  const bool want_logprobs = st.options.top_logprobs >= 0;
  if (want_logprobs) {
    st.step.logprob = token_logprobs(logits, next, st.options.top_logprobs, st.step.top);
    st.r.logprobs.push_back(st.step);
  }
  const std::string_view text = st.filter.push(st.stream.push(next));
  st.r.text.append(text);
  if (st.filter.stopped()) {
    st.r.stop = StopReason::StopString;
    st.done = true;
  } else if (static_cast<int>(st.r.ids.size()) == st.options.max_tokens) {
    st.done = true;  // (MaxTokens)
  }
  return {next, text, want_logprobs ? &st.r.logprobs.back() : nullptr};
}

bool Generator::done() const {
  return s_->done;
}

int Generator::last_token() const {
  return s_->r.ids.empty() ? -1 : s_->r.ids.back();
}

void Generator::end(StopReason why) {
  s_->r.stop = why;
  s_->done = true;
}

std::string_view Generator::finish() {
  State& st = *s_;
  if (!st.done) throw Error("Generator::finish before generation ended");
  if (st.finished || st.filter.stopped()) return {};
  st.finished = true;
  const std::string_view rest = st.filter.finish(st.stream.flush());
  st.r.text.append(rest);
  return rest;
}

const GenerateResult& Generator::result() const {
  return s_->r;
}

GenerateResult generate(Session& session, std::span<const int> prompt,
                        const GenerateOptions& options, const TokenCallback& on_token) {
  const Model& model = session.model();
  const Tokenizer& tok = model.tokenizer();
  // The continuation starts a text (and loses sentencepiece's leading space) only when nothing
  // before it has any text.
  bool has_text = session.position() > 0;
  for (int id : prompt) has_text |= !tok.token_bytes(id).empty();
  Generator gen(model, options, prompt, has_text);
  using clock = std::chrono::steady_clock;

  auto t0 = clock::now();
  std::span<const float> logits = session.prefill(prompt);
  const double prefill_seconds = std::chrono::duration<double>(clock::now() - t0).count();

  t0 = clock::now();
  int decoded = 0;
  while (!gen.done()) {
    const TokenEvent e = gen.step(logits);
    if (e.id >= 0 && on_token && !on_token(e)) gen.end(StopReason::Callback);
    if (gen.done()) break;
    if (session.position() >= session.ctx_size()) {
      gen.end(StopReason::ContextFull);
      break;
    }
    logits = session.decode(gen.last_token());
    ++decoded;
  }
  const double decode_seconds = std::chrono::duration<double>(clock::now() - t0).count();
  // Whatever was held back is text after all, unless a stop string ended it.
  const std::string_view rest = gen.finish();
  if (!rest.empty() && on_token) on_token({-1, rest, nullptr});

  GenerateResult r = gen.result();
  r.prefill_seconds = prefill_seconds;
  r.n_decoded = decoded;
  r.decode_seconds = decode_seconds;
  return r;
}

std::vector<GenerateResult> generate_samples(BatchEngine& engine, std::span<const int> prompt,
                                             int n, const GenerateOptions& options) {
  if (n < 1) throw Error("generate_samples: n must be >= 1, got " + std::to_string(n));
  if (prompt.empty()) throw Error("generate_samples: the prompt is empty");
  const Model& model = engine.model();
  const int vocab = model.config().vocab_size;
  bool has_text = false;
  for (int id : prompt) has_text |= !model.tokenizer().token_bytes(id).empty();
  std::vector<Generator> gens;
  for (int i = 0; i < n; ++i) {
    GenerateOptions o = options;
    o.sampling.seed = options.sampling.seed + i;
    gens.emplace_back(model, o, prompt, has_text);
  }
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  std::vector<int> seqs{engine.add_sequence()};
  std::vector<BatchRow> rows;
  std::vector<float> first;
  try {
    const int reused = engine.reuse_prefix(seqs[0], prompt);
    for (size_t i = reused; i < prompt.size(); ++i) {
      rows.push_back({seqs[0], prompt[i], i + 1 == prompt.size()});
    }
    const std::span<const float> l = engine.eval(rows);
    first.assign(l.begin(), l.end());
    for (int i = 1; i < n; ++i) seqs.push_back(engine.fork(seqs[0]));
  } catch (...) {
    for (int s : seqs) engine.remove(s);
    throw;
  }
  const double prefill_seconds = std::chrono::duration<double>(clock::now() - t0).count();

  t0 = clock::now();
  std::vector<int> live;  // samples whose token is to be evaluated, in order
  for (int i = 0; i < n; ++i) {
    if (!gens[i].done()) gens[i].step(first);
    if (!gens[i].done()) live.push_back(i);
  }
  std::vector<int> evaluated(n, 0);  // each sample's tokens evaluated after the prompt
  while (!live.empty()) {
    rows.clear();
    for (int i : live) rows.push_back({seqs[i], gens[i].last_token(), true});
    std::span<const float> l;
    try {
      l = engine.eval(rows);
    } catch (const Error&) {
      // The pool ran out: the samples still going end as a context would.
      for (int i : live) gens[i].end(StopReason::ContextFull);
      break;
    }
    std::vector<int> still;
    for (size_t j = 0; j < live.size(); ++j) {
      ++evaluated[live[j]];
      Generator& g = gens[live[j]];
      g.step(l.subspan(j * vocab, vocab));
      if (!g.done()) still.push_back(live[j]);
    }
    live.swap(still);
  }
  const double decode_seconds = std::chrono::duration<double>(clock::now() - t0).count();
  std::vector<GenerateResult> out;
  for (int i = 0; i < n; ++i) {
    gens[i].finish();
    out.push_back(gens[i].result());
    out.back().prefill_seconds = prefill_seconds;
    out.back().decode_seconds = decode_seconds;
    out.back().n_decoded = evaluated[i];
    engine.remove(seqs[i]);
  }
  return out;
}

}  // namespace loom
