#include "loom/session.h"
#include "model/loaded_model.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <string>

#include "loom/error.h"
#include "model/kv_cache.h"
#include "model/llama.h"
#include "model/rope_freq.h"
#include "model/thread_team.h"

namespace loom {

struct Session::State {
  Model model;  // keeps the weights alive
  const detail::LoadedModel& m;
  int ctx;
  int pos = 0;
  // Windowed layers' rings hold positions from held_from on (every written one below pos from
  // there); a truncation below what they still need cannot be undone (see truncate).
  int held_from = 0;
  int ring_slots, window = 0;  // the windowed layers' slots and window (ctx and 0: none)
  model::KvCache cache;
  model::Workspace ws;
  std::optional<model::DynamicRope> dynamic_rope;
  std::vector<float> logits;  // [vocab], the last evaluated row
  ops::Pass prompt_pass = ops::Pass::Prompt;
  std::shared_ptr<ThreadTeam> team;            // whose turn each pass takes, if shared
  std::vector<ops::KvView> views;              // [n_layers]: each layer's whole cache
  std::vector<int> row_pos, row_seq, row_out;  // [batch] each: a pass's rows (model::PassRows)

  State(const Model& mdl, int ctx_size, int batch, int threads, DType kv_type,
        std::vector<int> slots)
      : model(mdl),
        m(loom::detail::loaded(mdl)),
        ctx(ctx_size),
        ring_slots(ctx_size),
        cache(m.config.n_kv_heads, ctx_size, m.config.head_dim, kv_type, std::move(slots)),
        ws(m, batch, cache.max_slots(), threads),
        logits(m.config.vocab_size),
        row_pos(batch),
        row_seq(batch, 0),
        row_out(batch) {
    const ModelConfig& c = m.config;
    for (int l = 0; l < c.n_layers; ++l) {
      if (c.window_of(l) > 0) window = c.window_of(l), ring_slots = cache.slots[l];
      const ops::AttentionShape shape{c.n_heads, c.n_kv_heads, c.head_dim, cache.slots[l],
                                      cache.type};
      views.push_back(ops::dense_kv_view(cache.k.get() + cache.layer_offset[l],
                                         cache.v.get() + cache.layer_offset[l], shape));
    }
    if (m.config.rope.scaling == RopeScalingType::Dynamic) {
      dynamic_rope.emplace(m.config.rope, m.config.head_dim);
    }
  }

  void check(std::span<const int> ids) const {
    if (ids.empty()) throw Error("no tokens to evaluate");
    const int vocab = m.config.vocab_size;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] >= vocab) {
        throw Error("token id " + std::to_string(ids[i]) + " at input position " +
                    std::to_string(i) + " is outside the vocabulary [0, " + std::to_string(vocab) +
                    ")");
      }
    }
    if (static_cast<size_t>(pos) + ids.size() > static_cast<size_t>(ctx)) {
      throw Error("cannot evaluate " + std::to_string(ids.size()) + " token(s) at position " +
                  std::to_string(pos) + ": they do not fit the context of " + std::to_string(ctx) +
                  " tokens (raise the context size, --ctx-size)");
    }
  }

  // Runs IDS in batches; ALL (if given) receives every row's logits.
  void eval(std::span<const int> ids, float* all) { eval(ids, all, prompt_pass); }
  void eval(std::span<const int> ids, float* all, ops::Pass pass) {
    check(ids);
    const int vocab = m.config.vocab_size;
    // Dynamic RoPE: one call's frequencies for all its batches, as transformers' one forward.
    const std::unique_lock<std::mutex> turn = model::team_turn(team);
    if (dynamic_rope && dynamic_rope->update(pos + static_cast<long>(ids.size()))) {
      ws.inv_freq = dynamic_rope->inv_freq();
    }
    for (size_t done = 0; done < ids.size();) {
      const int n = static_cast<int>(std::min<size_t>(ws.batch, ids.size() - done));
      float* out = all ? all + done * vocab : logits.data();
      for (int i = 0; i < n; ++i) row_pos[i] = pos + i, row_out[i] = i;
      const model::PassRows rows{ids.data() + done,
                                 row_pos.data(),
                                 row_seq.data(),
                                 n,
                                 all ? row_out.data() : row_out.data() + n - 1,
                                 all ? n : 1};
      model::forward(m, ws, model::PassKv{views.data(), 1, cache.type}, rows, out, pass);
      pos += n;
      done += n;
      held_from = std::max(held_from, pos - ring_slots);
    }
    if (all) std::copy_n(all + (ids.size() - 1) * vocab, vocab, logits.begin());
  }
};

Session::Session(const Model& model, const SessionOptions& o) {
  const ModelConfig& c = model.config();
  if (o.ctx_size < 0) {
    throw Error("ctx_size must be >= 0 (0: the model's default), got " +
                std::to_string(o.ctx_size));
  }
  model::check_run_options(o.threads, o.batch_size, o.kv_type);
  const int ctx = o.ctx_size
                      ? o.ctx_size
                      : std::min(c.max_position_embeddings, SessionOptions::kDefaultMaxContext);
  const int threads = model::team_threads(o.team, o.threads);
  const int batch = std::min(o.batch_size, ctx);
  // Windowed layers hold a bounded ring (model/kv_cache.h), whatever the context.
  std::vector<int> slots = model::KvCache::layer_slots(c, ctx, batch);
  // Refuse up front what the machine cannot hold, rather than fail (or swap) mid-generation.
  const double kv_bytes =
      2.0 * static_cast<double>(model::KvCache::bytes(slots, c.n_kv_heads, c.head_dim, o.kv_type));
  const double ram = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
  auto gib = [](double b) { return std::to_string(b / (1u << 30)).substr(0, 6) + " GiB"; };
  if (kv_bytes > ram) {
    throw Error("ctx_size " + std::to_string(ctx) + " needs a KV cache of " + gib(kv_bytes) + " (" +
                dtype_name(o.kv_type) + "), more than this machine's " + gib(ram) +
                " of memory: use a smaller context" +
                (o.kv_type == DType::F32 ? " or a 16-bit KV cache (kv_type f16 or bf16)" : ""));
  }
  try {
    s_ = std::make_unique<State>(model, ctx, batch, threads, o.kv_type, std::move(slots));
    s_->prompt_pass = ops::prompt_pass(o.bf16_prompts);
    s_->team = o.team;
  } catch (const std::bad_alloc&) {
    throw Error("cannot allocate a session with ctx_size " + std::to_string(ctx) + " (its " +
                dtype_name(o.kv_type) + " KV cache alone needs " + gib(kv_bytes) +
                "): use a smaller context");
  }
}

Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

std::span<const float> Session::prefill(std::span<const int> ids) {
  s_->eval(ids, nullptr);
  return s_->logits;
}

std::vector<float> Session::prefill_all_logits(std::span<const int> ids) {
  s_->check(ids);
  std::vector<float> all(ids.size() * static_cast<size_t>(s_->m.config.vocab_size));
  s_->eval(ids, all.data());
  return all;
}

std::span<const float> Session::decode(int id) {
  s_->eval(std::span<const int>(&id, 1), nullptr, ops::Pass::Decode);
  return s_->logits;
}

int Session::position() const {
  return s_->pos;
}
int Session::ctx_size() const {
  return s_->ctx;
}
int Session::threads() const {
  return s_->ws.threads;
}
DType Session::kv_type() const {
  return s_->cache.type;
}
bool Session::bf16_activations() const {
  return s_->prompt_pass == ops::Pass::PromptBf16Acts;
}
size_t Session::kv_cache_bytes() const {
  return 2 * s_->cache.bytes();
}
void Session::reset() {
  s_->pos = 0;
  s_->held_from = 0;
  if (s_->dynamic_rope) {
    s_->dynamic_rope->reset();
    s_->ws.inv_freq = s_->dynamic_rope->inv_freq();
  }
}
void Session::truncate(int n) {
  if (n < 0 || n > s_->pos) {
    throw Error("cannot truncate to " + std::to_string(n) + " tokens: the session holds " +
                std::to_string(s_->pos));
  }
  // The next position, n, attends to keys from n - window + 1 on: the rings must still hold
  // them. They hold the last ring_slots positions written, so a truncation further back than
  // about ring_slots - window tokens fails rather than re-evaluating the prefix silently.
  const int need = std::max(0, n - s_->window + 1);
  if (s_->window > 0 && need < s_->held_from) {
    throw Error("cannot truncate to " + std::to_string(n) +
                " tokens: the sliding-window KV cache (window " + std::to_string(s_->window) +
                ", " + std::to_string(s_->ring_slots) + " slots) no longer holds position " +
                std::to_string(need) + ", which position " + std::to_string(n) +
                " attends to (it keeps positions " + std::to_string(s_->held_from) + " to " +
                std::to_string(s_->pos - 1) + "); reset() and evaluate the first " +
                std::to_string(n) + " tokens again");
  }
  s_->pos = n;
}
const Model& Session::model() const {
  return s_->model;
}

}  // namespace loom
