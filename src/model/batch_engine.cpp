#include <omp.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "loom/batch.h"
#include "loom/error.h"
#include "loom/session.h"
#include "model/kv_pool.h"
#include "model/llama.h"
#include "model/loaded_model.h"
#include "model/thread_team.h"

namespace loom {
static_assert(BatchEngine::kBlockTokens == model::KvPool::kBlockTokens);

namespace {
// A sequence's block entry given back to the pool: out of every layer's sliding window.
constexpr int kReleased = -1;

// One sequence: its tokens and the blocks holding their keys and values, in position order.
struct Sequence {
  std::vector<int> tokens;
  std::vector<int> blocks;  // kReleased for blocks before every layer's window
  // keys[i]: the registration key of the prefix through block i (KvPool::publish), for the
  // blocks whose positions are all written.
  std::vector<uint64_t> keys;
};
}  // namespace

struct BatchEngine::State {
  Model model;
  const detail::LoadedModel& m;
  BatchOptions o;
  model::KvPool pool;
  model::Workspace ws;
  std::vector<std::optional<Sequence>> seqs;
  std::vector<float> logits;
  // A pass's rows (model::PassRows) and views ([n_layers][sequences in the pass]).
  std::vector<int> ids, pos, seq, out;
  std::vector<int> local;  // the pass's sequences, in order of first row
  std::vector<int> index;  // [seqs]: a sequence's place in local, or -1
  std::vector<ops::KvView> views;
  ops::Pass prompt_pass;
  // With a sliding window in every layer, the most keys any layer's query sees: older blocks are
  // given back as a sequence grows (memory bounded at any length). 0: some layer sees all.
  int window = 0;
  // The most rows a pass sums as decode steps when not batch invariant (faster there than the
  // prompt kernels).
  int small_pass;

  State(const Model& mdl, const BatchOptions& opt, int blocks, int threads)
      : model(mdl),
        m(loom::detail::loaded(mdl)),
        o(opt),
        pool(m.config, blocks, opt.kv_type),
        ws(m, opt.batch_size, blocks * kBlockTokens, threads),
        prompt_pass(ops::prompt_pass(opt.bf16_prompts)),
        small_pass(ops::decode_pass_rows(m.weights.layers[0].wq.dtype, prompt_pass)) {
    for (int l = 0; l < m.config.n_layers; ++l) {
      const int w = m.config.window_of(l);
      window = l == 0 ? w : w == 0 || window == 0 ? 0 : std::max(window, w);
    }
  }

  // The first position the next query of S may attend to, in some layer.
  int first_needed(const Sequence& s) const {
    return window ? std::max(0, static_cast<int>(s.tokens.size()) - window + 1) : 0;
  }

  // Gives back S's blocks that lie wholly before every layer's window.
  void release_old(Sequence& s) {
    const int before = first_needed(s) / kBlockTokens;
    for (int i = 0; i < before; ++i) {
      if (s.blocks[i] != kReleased) pool.release(s.blocks[i]), s.blocks[i] = kReleased;
    }
  }

  Sequence& at(int id) {
    if (id < 0 || static_cast<size_t>(id) >= seqs.size() || !seqs[id]) {
      throw Error("no sequence " + std::to_string(id) + " in this batch engine");
    }
    return *seqs[id];
  }

  int add(Sequence s) {
    for (size_t i = 0; i < seqs.size(); ++i) {
      if (!seqs[i]) {
        seqs[i] = std::move(s);
        return static_cast<int>(i);
      }
    }
    seqs.push_back(std::move(s));
    return static_cast<int>(seqs.size() - 1);
  }

  // Blocks the rows need that the pool must supply: a new block for each position that starts
  // one, and a copy of each shared block a row writes into.
  int blocks_needed(std::span<const BatchRow> rows) {
    int need = 0;
    // Each sequence's positions from its length on, one per row.
    std::vector<int>& next = index;
    next.assign(seqs.size(), -1);
    for (const BatchRow& r : rows) {
      int& p = next[r.seq];
      if (p < 0) p = static_cast<int>(seqs[r.seq]->tokens.size());
      const int i = p / kBlockTokens;
      const Sequence& s = *seqs[r.seq];
      if (i >= static_cast<int>(s.blocks.size())) {
        if (p % kBlockTokens == 0) ++need;
      } else if (p == static_cast<int>(s.tokens.size()) || p % kBlockTokens == 0) {
        // The first write into an existing block: a copy if it is shared.
        if (pool.refs(s.blocks[i]) > 1) ++need;
      }
      ++p;
    }
    return need;
  }

  // Makes position P of S writable: its block exists and is held by S alone.
  void prepare(Sequence& s, int p) {
    const size_t i = p / kBlockTokens;
    if (i == s.blocks.size()) {
      s.blocks.push_back(pool.take());
      return;
    }
    int& b = s.blocks[i];
    if (pool.refs(b) > 1) {
      const int copy = pool.copy(b);
      pool.release(b);
      b = copy;
    } else {
      pool.unpublish(b);
    }
    s.keys.resize(std::min(s.keys.size(), i));
  }

  // Registers the blocks of S that are full and not yet registered.
  void publish(Sequence& s) {
    const size_t full = s.tokens.size() / kBlockTokens;
    while (s.keys.size() < full) {
      const size_t i = s.keys.size();
      const uint64_t parent = i ? s.keys[i - 1] : 0;
      const std::span<const int> t(s.tokens.data() + i * kBlockTokens, kBlockTokens);
      s.keys.push_back(pool.publish(s.blocks[i], parent, t));
    }
  }

  void check(std::span<const BatchRow> rows) {
    if (rows.empty()) throw Error("no rows to evaluate");
    const int vocab = m.config.vocab_size;
    for (size_t i = 0; i < rows.size(); ++i) {
      at(rows[i].seq);
      if (rows[i].token < 0 || rows[i].token >= vocab) {
        throw Error("token id " + std::to_string(rows[i].token) + " in row " + std::to_string(i) +
                    " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
      }
    }
    const int need = blocks_needed(rows);
    if (need > pool.free_blocks()) {
      throw Error("the KV pool is full: these " + std::to_string(rows.size()) + " rows need " +
                  std::to_string(need) + " more blocks of " + std::to_string(kBlockTokens) +
                  " tokens, " + std::to_string(pool.free_blocks()) + " of " +
                  std::to_string(pool.blocks()) +
                  " are free (remove sequences, or raise pool_tokens)");
    }
  }

  // One pass over ROWS (at most ws.batch): logits of the wanted ones to OUT_LOGITS.
  void pass(std::span<const BatchRow> rows, float* out_logits) {
    const int n = static_cast<int>(rows.size());
    ids.resize(n), pos.resize(n), seq.resize(n), out.clear(), local.clear();
    index.assign(seqs.size(), -1);
    for (int i = 0; i < n; ++i) {
      const int id = rows[i].seq;
      if (index[id] < 0) index[id] = static_cast<int>(local.size()), local.push_back(id);
      Sequence& s = *seqs[id];
      const int p = static_cast<int>(s.tokens.size());
      prepare(s, p);
      s.tokens.push_back(rows[i].token);
      ids[i] = rows[i].token, pos[i] = p, seq[i] = index[id];
      if (rows[i].logits) out.push_back(i);
    }
    const int ns = static_cast<int>(local.size());
    views.resize(static_cast<size_t>(m.config.n_layers) * ns);
    for (int l = 0; l < m.config.n_layers; ++l) {
      for (int j = 0; j < ns; ++j) views[l * ns + j] = pool.view(l, seqs[local[j]]->blocks.data());
    }
    // Invariant: every row summed as a lone decode step is. Otherwise large passes take the
    // prompt kernels (faster per row there, rounding differently).
    const ops::Pass p = o.batch_invariant || n <= small_pass ? ops::Pass::Decode : prompt_pass;
    const model::PassRows pr{ids.data(), pos.data(), seq.data(),
                             n,          out.data(), static_cast<int>(out.size())};
    model::forward(m, ws, model::PassKv{views.data(), ns, pool.type()}, pr, out_logits, p);
    for (int id : local) publish(*seqs[id]), release_old(*seqs[id]);
  }
};

BatchEngine::BatchEngine(const Model& model, const BatchOptions& o) {
  const ModelConfig& c = model.config();
  if (o.pool_tokens < 0) {
    throw Error("pool_tokens must be >= 0 (0: the model's default context), got " +
                std::to_string(o.pool_tokens));
  }
  model::check_run_options(o.threads, o.batch_size, o.kv_type);
  if (c.rope.scaling == RopeScalingType::Dynamic) {
    // Its frequencies follow each sequence's length, so a block's keys would depend on when they
    // were computed: not shareable, and not one pass for sequences of different lengths.
    throw Error(
        "the batch engine does not run dynamic RoPE scaling (rope_scaling type "
        "'dynamic'); use a Session");
  }
  const int tokens = o.pool_tokens
                         ? o.pool_tokens
                         : std::min(c.max_position_embeddings, SessionOptions::kDefaultMaxContext);
  const int blocks = (tokens + kBlockTokens - 1) / kBlockTokens;
  const int threads = model::team_threads(o.team, o.threads);
  s_ = std::make_unique<State>(model, o, blocks, threads);
}

BatchEngine::BatchEngine(BatchEngine&&) noexcept = default;
BatchEngine& BatchEngine::operator=(BatchEngine&&) noexcept = default;
BatchEngine::~BatchEngine() = default;

int BatchEngine::add_sequence() {
  return s_->add(Sequence{});
}

int BatchEngine::fork(int parent) {
  Sequence s = s_->at(parent);
  for (int b : s.blocks) {
    if (b != kReleased) s_->pool.retain(b);
  }
  return s_->add(std::move(s));
}

void BatchEngine::remove(int seq) {
  Sequence& s = s_->at(seq);
  for (int b : s.blocks) {
    if (b != kReleased) s_->pool.release(b);
  }
  s_->seqs[seq].reset();
}

int BatchEngine::position(int seq) const {
  return static_cast<int>(s_->at(seq).tokens.size());
}

void BatchEngine::truncate(int seq, int n) {
  Sequence& s = s_->at(seq);
  if (n < 0 || n > static_cast<int>(s.tokens.size())) {
    throw Error("cannot truncate sequence " + std::to_string(seq) + " to " + std::to_string(n) +
                " tokens: it holds " + std::to_string(s.tokens.size()));
  }
  // Position N attends to keys from N - window + 1 on: they must not have been given back.
  const int need = s_->window ? std::max(0, n - s_->window + 1) : 0;
  if (need / kBlockTokens < static_cast<int>(s.blocks.size()) &&
      s.blocks[need / kBlockTokens] == kReleased) {
    throw Error("cannot truncate sequence " + std::to_string(seq) + " to " + std::to_string(n) +
                " tokens: position " + std::to_string(need) +
                ", which the next token attends to in its sliding window, is no longer held "
                "(it keeps positions " +
                std::to_string(s_->first_needed(s) / kBlockTokens * kBlockTokens) + " on)");
  }
  const size_t keep = (n + kBlockTokens - 1) / kBlockTokens;
  for (size_t i = keep; i < s.blocks.size(); ++i) {
    if (s.blocks[i] != kReleased) s_->pool.release(s.blocks[i]);
  }
  s.blocks.resize(keep);
  s.tokens.resize(n);
  s.keys.resize(std::min(s.keys.size(), static_cast<size_t>(n / kBlockTokens)));
}

int BatchEngine::reuse_prefix(int seq, std::span<const int> tokens) {
  Sequence& s = s_->at(seq);
  if (!s.tokens.empty()) {
    throw Error("reuse_prefix: sequence " + std::to_string(seq) + " already holds " +
                std::to_string(s.tokens.size()) + " tokens (it takes an empty one)");
  }
  const size_t whole = tokens.empty() ? 0 : (tokens.size() - 1) / kBlockTokens;
  uint64_t parent = 0;
  for (size_t i = 0; i < whole; ++i) {
    uint64_t key = 0;
    const std::span<const int> t = tokens.subspan(i * kBlockTokens, kBlockTokens);
    const int b = s_->pool.find(parent, t, &key);
    if (b < 0) break;
    s.blocks.push_back(b);
    s.keys.push_back(key);
    s.tokens.insert(s.tokens.end(), t.begin(), t.end());
    parent = key;
  }
  return static_cast<int>(s.tokens.size());
}

std::span<const float> BatchEngine::eval(std::span<const BatchRow> rows) {
  State& st = *s_;
  st.check(rows);
  const size_t vocab = st.m.config.vocab_size;
  size_t wanted = 0;
  for (const BatchRow& r : rows) wanted += r.logits;
  st.logits.resize(wanted * vocab);
  float* out = st.logits.data();
  const std::unique_lock<std::mutex> turn = model::team_turn(st.o.team);
  for (size_t done = 0; done < rows.size();) {
    const size_t n = std::min<size_t>(st.ws.batch, rows.size() - done);
    const std::span<const BatchRow> chunk = rows.subspan(done, n);
    st.pass(chunk, out);
    for (const BatchRow& r : chunk) out += r.logits ? vocab : 0;
    done += n;
  }
  return st.logits;
}

PoolUsage BatchEngine::usage() const {
  const model::KvPool& p = s_->pool;
  PoolUsage u;
  u.blocks = p.blocks();
  u.used_blocks = p.used_blocks();
  u.cached_blocks = p.cached_blocks();
  u.block_tokens = kBlockTokens;
  u.bytes = 2 * p.block_bytes() * p.blocks();
  u.used_bytes = 2 * p.block_bytes() * p.used_blocks();
  for (const auto& s : s_->seqs) u.sequence_tokens += s ? static_cast<long>(s->tokens.size()) : 0;
  return u;
}

bool BatchEngine::bf16_activations() const {
  return s_->prompt_pass == ops::Pass::PromptBf16Acts;
}

int BatchEngine::threads() const {
  return s_->ws.threads;
}

const Model& BatchEngine::model() const {
  return s_->model;
}

}  // namespace loom
