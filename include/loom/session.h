// One sequence being evaluated against a Model: its KV cache, position and scratch buffers.
// A Session is used by one thread at a time; several Sessions may share one Model.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "loom/model.h"
#include "loom/threads.h"

#pragma GCC visibility push(default)  // the public API: what libloom.so exports
namespace loom {

struct SessionOptions {
  // Positions a session can reach; 0: the model's max_position_embeddings, capped at
  // kDefaultMaxContext. The KV cache holds all of them, except in layers with a sliding window,
  // whose cache is a ring of about window + batch_size positions at any context size.
  int ctx_size = 0;
  int threads = 0;  // 0: all cores OpenMP reports (or the team's size)
  // A team shared with other sessions and engines: passes take turns on it (loom/threads.h), and
  // threads (if not 0) must equal its size. Null: a team of its own.
  std::shared_ptr<ThreadTeam> team;
  int batch_size = 512;  // prompt tokens evaluated per matrix-matrix pass
  // Element type of the KV cache: F32, F16 or BF16. The 16-bit types halve its memory and the
  // bytes attention reads at depth; keys and values are rounded to them (to nearest even) as they
  // are written, which moves the logits (docs/performance.md has the figures per model).
  DType kv_type = DType::F32;
  // Prompts' products with bf16-stored weights: fp32 activations (Exact) or rounded to bf16
  // (loom::Bf16Prompts); by default whichever is faster on this CPU. Decode steps are never
  // affected. The bf16 error against transformers is bounded in tests/test_golden.cpp.
  Bf16Prompts bf16_prompts = Bf16Prompts::Auto;

  static constexpr int kDefaultMaxContext = 4096;
};

class Session {
 public:
  explicit Session(const Model& model, const SessionOptions& options = {});
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  // Evaluates IDS at the next positions (the whole prompt at once) and returns the logits of the
  // last one (vocab_size floats, valid until the next call).
  std::span<const float> prefill(std::span<const int> ids);
  // As prefill, but returns the logits of every position: ids.size() rows of vocab_size.
  std::vector<float> prefill_all_logits(std::span<const int> ids);
  // Evaluates one token at the next position; returns its logits.
  std::span<const float> decode(int id);

  int position() const;  // tokens in the cache
  int ctx_size() const;
  int threads() const;
  DType kv_type() const;
  // Whether prompts' products with bf16 weights round the activations to bf16 (bf16_prompts as
  // resolved on this CPU).
  bool bf16_activations() const;
  // Keys and values together, as allocated: the whole context, windowed layers' rings bounded.
  size_t kv_cache_bytes() const;
  // Forgets all tokens: the next call starts at position 0 (and dynamic RoPE at its original
  // frequencies, as a freshly loaded transformers model).
  void reset();
  // Keeps the first N tokens (N <= position()) and forgets the rest, so a shared prefix (a
  // system prompt, a document) is evaluated once and reused. With a sliding window the cache keeps
  // only the latest positions: a truncation to N whose window (N - window + 1 on) has been
  // overwritten throws loom::Error (reset and evaluate again instead).
  void truncate(int n);

  const Model& model() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace loom
#pragma GCC visibility pop
