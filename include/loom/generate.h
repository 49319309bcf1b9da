// Generation: prefill a prompt, then sample token by token until a stop condition, streaming
// text as it becomes final.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "loom/batch.h"
#include "loom/sampler.h"
#include "loom/session.h"

#pragma GCC visibility push(default)  // the public API: what libloom.so exports
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
  // Called on each step's logits (a copy, vocab_size floats) before sampling, with the tokens
  // generated so far: it may change them (ban tokens, bias, mask to a grammar's choices). Empty:
  // the model's logits are sampled as they are.
  std::function<void(std::span<float> logits, std::span<const int> generated)> logits_processor;
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

// Generation of one sequence as an object advanced one token at a time, so that a scheduler can
// interleave many (each evaluated where it likes: Session::decode, a row of a BatchEngine pass).
// The caller evaluates the prompt, hands its last logits to step(), evaluates the token step()
// returns, hands those logits to step(), and so on until done(); then finish() releases the text
// held back. generate() is that loop over a Session.
class Generator {
 public:
  // MODEL's tokenizer and EOS ids; PROMPT: the tokens evaluated before the first step (for the
  // penalties' history, after options.history). HAS_TEXT: whether what precedes the generated
  // text has any (else the first token's leading space is dropped, as sentencepiece decodes a
  // text's start). Throws loom::Error for invalid options.
  Generator(const Model& model, const GenerateOptions& options, std::span<const int> prompt,
            bool has_text);
  Generator(Generator&&) noexcept;
  Generator& operator=(Generator&&) noexcept;
  ~Generator();

  // Samples the next token from LOGITS (the last evaluated position's), then checks the stops.
  // Returns its event (id -1 when an EOS ended generation: nothing to evaluate); valid until the
  // next call. Calling it when done() throws loom::Error.
  TokenEvent step(std::span<const float> logits);
  // Whether generation has ended; if not, evaluate last_token() and call step() again.
  bool done() const;
  int last_token() const;
  // Ends generation for a reason of the caller's (Callback, ContextFull), which becomes the stop
  // reason even if the last step ended it too (a callback that refuses the last token).
  void end(StopReason why);
  // Once done: the text held back (a possible start of a stop string, an unfinished character),
  // unless a stop string ended generation; empty on later calls.
  std::string_view finish();
  // What was generated so far (ids, text, logprobs, stop); timing fields are the caller's.
  const GenerateResult& result() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// Appends PROMPT to what the session holds, then generates. The sampler's penalty history
// starts with options.history, then the prompt. Throws loom::Error for invalid options.
GenerateResult generate(Session& session, std::span<const int> prompt,
                        const GenerateOptions& options, const TokenCallback& on_token = {});

// N samples of one prompt, decoded together on ENGINE: the prompt is evaluated once, and the
// other N - 1 sequences fork it (sharing its keys and values); each step evaluates every
// unfinished sample in one pass. Sample i samples with seed options.sampling.seed + i, so with
// batch invariance it is the sample a lone request with that seed gets. The sequences are removed
// at the end (their whole blocks stay cached as a prefix). Throws loom::Error for invalid options
// or a pool too small (nothing generated).
std::vector<GenerateResult> generate_samples(BatchEngine& engine, std::span<const int> prompt,
                                             int n, const GenerateOptions& options);

}  // namespace loom
#pragma GCC visibility pop
