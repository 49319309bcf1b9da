// Many sequences evaluated together: one forward pass over rows of several sequences (decode
// steps of many, prompt chunks mixed with them), their keys and values in one shared pool.
//
// Decode reads every weight once per step; a pass over B sequences' steps reads them once for B
// tokens, as matrix-matrix products. Each row attends only to its own sequence's keys.
//
// Batch invariance (BatchOptions::batch_invariant): a row's logits depend only on its sequence's
// tokens. Not on the other rows of the pass, their number or sequences, the chunks its prompt was
// evaluated in, nor the thread count: every row's products are summed as a lone decode step sums
// them (Session::decode's bits), W read once for all rows of a pass. Tested bit for bit
// (tests/test_batch.cpp). Not yet the default: the decode kernels redo each weight block's
// unpacking for every row, so prompts evaluate 1.5-7x slower that way (docs/performance.md).
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include "loom/model.h"
#include "loom/threads.h"

#pragma GCC visibility push(default)  // the public API: what libloom.so exports
namespace loom {

struct BatchOptions {
  // Positions the pool holds over all sequences together (rounded up to whole blocks of
  // BatchEngine::kBlockTokens); 0: the model's default context (SessionOptions::kDefaultMaxContext
  // capped by max_position_embeddings).
  int pool_tokens = 0;
  DType kv_type = DType::F32;        // F32, F16 or BF16, as SessionOptions::kv_type
  int threads = 0;                   // 0: all cores OpenMP reports (or the team's size)
  std::shared_ptr<ThreadTeam> team;  // as SessionOptions::team
  int batch_size = 512;              // rows per forward pass: more are evaluated in several passes
  // True: every row is summed as a decode step is, so a sequence gets the same bits alone or
  // beside others, however its prompt is chunked. False (the default, for speed): small passes
  // take the decode kernels and larger ones the prompt kernels, as Session::prefill does, whose
  // rows round differently (the crossover depends on the weights' type and the CPU's kernels:
  // 16 rows for quantized weights, 4 to 16 for float ones where AVX-512 has a few-rows kernel,
  // else 2).
  bool batch_invariant = false;
  Bf16Prompts bf16_prompts = Bf16Prompts::Auto;  // for passes that take the prompt kernels
};

// One row of a pass: the next token of sequence SEQ (at its next position). LOGITS: whether the
// row's logits are wanted (a decode step's, a prompt's last token's).
struct BatchRow {
  int seq = 0;
  int token = 0;
  bool logits = false;
};

// The pool's state, in blocks of kBlockTokens positions (all layers, K and V).
struct PoolUsage {
  int blocks = 0;         // in the pool
  int used_blocks = 0;    // held by sequences (a block shared by several counts once)
  int cached_blocks = 0;  // held by none, kept as a reusable prefix until needed
  int block_tokens = 0;
  size_t bytes = 0;  // the pool's memory, K and V
  size_t used_bytes = 0;
  long sequence_tokens = 0;  // positions held, summed over the sequences (shared ones each time)
};

class BatchEngine {
 public:
  static constexpr int kBlockTokens = 256;

  explicit BatchEngine(const Model& model, const BatchOptions& options = {});
  BatchEngine(BatchEngine&&) noexcept;
  BatchEngine& operator=(BatchEngine&&) noexcept;
  ~BatchEngine();

  // A new, empty sequence; its id stays valid until remove().
  int add_sequence();
  // A new sequence holding PARENT's tokens, sharing their keys and values (no copy: a block is
  // copied only when one of them writes into it).
  int fork(int parent);
  // Gives the sequence's blocks back; whole blocks stay cached as reusable prefixes.
  void remove(int seq);
  // Tokens the sequence holds (its next position).
  int position(int seq) const;
  // Keeps the first N tokens of the sequence (N <= position()).
  void truncate(int seq, int n);
  // For an empty sequence about to evaluate TOKENS: takes the keys and values of its longest
  // prefix already in the pool, in whole blocks (computed by any sequence, live or removed), up to
  // TOKENS.size() - 1 tokens, so that the last one is evaluated for its logits. Returns how many
  // tokens it took: evaluate TOKENS from there on.
  int reuse_prefix(int seq, std::span<const int> tokens);

  // Evaluates ROWS (in order: a sequence's rows at its next positions) in one pass, or several
  // of batch_size rows. Returns the logits of the rows that want them, in order: [rows, vocab],
  // valid until the next call. Bad input (an unknown sequence, a token outside the vocabulary, a
  // full pool) throws loom::Error before anything is evaluated or changed.
  std::span<const float> eval(std::span<const BatchRow> rows);

  PoolUsage usage() const;
  int threads() const;
  bool bf16_activations() const;  // as Session::bf16_activations
  const Model& model() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace loom
#pragma GCC visibility pop
