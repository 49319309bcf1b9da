#include "server/scheduler.h"

#include <algorithm>
#include <utility>

#include "loom/error.h"

namespace loom::server {

// A task being evaluated: its prompt's sequence (forked into the choices once the prompt's last
// row is evaluated) and a generator a choice.
struct Scheduler::Active {
  std::shared_ptr<Task> task;
  std::vector<int> seqs;  // [0]: the prompt's; after the prompt, one a choice
  std::vector<Generator> gens;
  int next = 0;  // the prompt's next row to evaluate
  int cached = 0;
  bool cancelled = false;
  bool prompt_done() const { return next == static_cast<int>(task->prompt.size()); }
};

Scheduler::Scheduler(BatchEngine& engine, const SchedulerOptions& options)
    : engine_(engine), opt_(options) {
  if (opt_.parallel < 1 || opt_.queue < 0 || opt_.pass_rows < opt_.parallel) {
    throw Error("scheduler: parallel must be >= 1, queue >= 0 and pass_rows >= parallel");
  }
  thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() {
  stop();
  thread_.join();
}

bool Scheduler::submit(std::shared_ptr<Task> task) {
  std::vector<std::shared_ptr<Task>> one;
  one.push_back(std::move(task));
  return submit(std::move(one));
}

bool Scheduler::submit(std::vector<std::shared_ptr<Task>> tasks) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || queue_.size() + tasks.size() > static_cast<size_t>(opt_.queue)) return false;
    for (auto& t : tasks) queue_.push_back(std::move(t));
    stats_.queued = static_cast<int>(queue_.size());
  }
  wake_.notify_one();
  return true;
}

void Scheduler::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void Scheduler::run() {
  for (;;) {
    std::deque<std::shared_ptr<Task>> refused;
    bool stopping;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty() || !active_.empty(); });
      stopping = stopping_;
      if (stopping) refused.swap(queue_), stats_.queued = 0;
    }
    for (const std::shared_ptr<Task>& t : refused) {
      TaskResult r;
      r.cancelled = true;
      r.prompt_tokens = static_cast<int>(t->prompt.size());
      if (t->on_done) t->on_done(std::move(r));
    }
    if (stopping) {
      for (auto& a : active_) a->cancelled = true;
      for (auto& a : active_) end(*a, "");
      active_.clear();
      return;
    }
    admit();
    if (!pass()) continue;
  }
}

// Waiting tasks join while their choices fit beside the running ones (a task of more choices
// than `parallel` runs alone).
void Scheduler::admit() {
  int choices = 0;
  for (const auto& a : active_) choices += a->task->n;
  for (;;) {
    std::shared_ptr<Task> t;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) return;
      const int n = queue_.front()->n;
      if (!active_.empty() && choices + n > opt_.parallel) return;
      t = std::move(queue_.front());
      queue_.pop_front();
      stats_.queued = static_cast<int>(queue_.size());
      stats_.running = static_cast<int>(active_.size()) + 1;
    }
    auto a = std::make_unique<Active>();
    a->task = t;
    try {
      for (int i = 0; i < t->n; ++i) {
        GenerateOptions o = t->options;
        o.sampling.seed = t->options.sampling.seed + static_cast<uint64_t>(i);
        a->gens.emplace_back(engine_.model(), o, t->prompt, t->has_text);
      }
      a->seqs.push_back(engine_.add_sequence());
      a->cached = engine_.reuse_prefix(a->seqs[0], t->prompt);
      a->next = a->cached;
    } catch (const std::exception& e) {
      end(*a, e.what());
      continue;
    }
    choices += t->n;
    active_.push_back(std::move(a));
  }
}

// One pass: a decode row for every running choice, then prompt rows (oldest task first) in what
// is left of pass_rows. Returns false when there was nothing to evaluate.
bool Scheduler::pass() {
  std::vector<BatchRow> rows;
  struct Use {
    Active* a;
    int choice;  // -1: a prompt chunk, whose last row may want logits
  };
  std::vector<Use> uses;  // one per row that wants logits, in order
  for (auto& a : active_) {
    if (!a->prompt_done()) continue;
    for (size_t i = 0; i < a->gens.size(); ++i) {
      if (a->gens[i].done()) continue;
      rows.push_back({a->seqs[i], a->gens[i].last_token(), true});
      uses.push_back({a.get(), static_cast<int>(i)});
    }
  }
  for (auto& a : active_) {
    const int room = opt_.pass_rows - static_cast<int>(rows.size());
    if (a->prompt_done() || room <= 0) continue;
    const int size = static_cast<int>(a->task->prompt.size());
    const int take = std::min(room, size - a->next);
    for (int i = 0; i < take; ++i) {
      const bool last = a->next + i + 1 == size;
      rows.push_back({a->seqs[0], a->task->prompt[a->next + i], last});
      if (last) uses.push_back({a.get(), -1});
    }
    a->next += take;
  }
  if (rows.empty()) return false;

  std::span<const float> logits;
  try {
    logits = engine_.eval(rows);
  } catch (const std::exception& e) {
    // Nothing was evaluated: the tasks of this pass end with the error, the others go on.
    std::vector<Active*> failed;
    for (const BatchRow& row : rows) {
      for (auto& a : active_) {
        if (std::find(a->seqs.begin(), a->seqs.end(), row.seq) != a->seqs.end() &&
            std::find(failed.begin(), failed.end(), a.get()) == failed.end()) {
          failed.push_back(a.get());
        }
      }
    }
    for (Active* a : failed) end(*a, e.what());
    std::erase_if(active_, [&](const auto& a) {
      return std::find(failed.begin(), failed.end(), a.get()) != failed.end();
    });
    return true;
  }

  const int vocab = engine_.model().config().vocab_size;
  uint64_t generated = 0;
  for (size_t u = 0; u < uses.size(); ++u) {
    Active& a = *uses[u].a;
    const std::span<const float> l = logits.subspan(u * vocab, vocab);
    std::vector<int> choices;
    if (uses[u].choice < 0) {
      // The prompt is in: the other choices fork its sequence, and every choice samples its
      // first token from these logits.
      for (int i = 1; i < a.task->n; ++i) a.seqs.push_back(engine_.fork(a.seqs[0]));
      for (int i = 0; i < a.task->n; ++i) choices.push_back(i);
    } else {
      choices.push_back(uses[u].choice);
    }
    for (int i : choices) {
      Generator& g = a.gens[i];
      if (a.cancelled || g.done()) continue;
      const TokenEvent e = g.step(l);
      ++generated;
      if (a.task->on_token && !a.task->on_token(i, e)) a.cancelled = true;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.generated_tokens += generated;
  }
  std::vector<Active*> over;
  for (auto& a : active_) {
    const bool all_done =
        a->prompt_done() &&
        std::all_of(a->gens.begin(), a->gens.end(), [](const Generator& g) { return g.done(); });
    if (a->cancelled || (all_done && static_cast<int>(a->seqs.size()) == a->task->n)) {
      over.push_back(a.get());
    }
  }
  for (Active* a : over) end(*a, "");
  std::erase_if(active_, [&](const auto& a) {
    return std::find(over.begin(), over.end(), a.get()) != over.end();
  });
  const PoolUsage pool = engine_.usage();
  std::lock_guard<std::mutex> lock(mu_);
  stats_.pool = pool;
  return true;
}

// Ends A: its sequences go back to the pool (whole blocks stay as cached prefixes), and its task
// hears on_done.
void Scheduler::end(Active& a, std::string error) {
  for (int s : a.seqs) engine_.remove(s);
  a.seqs.clear();
  TaskResult r;
  r.prompt_tokens = static_cast<int>(a.task->prompt.size());
  r.cached_tokens = a.cached;
  r.cancelled = a.cancelled;
  r.error = std::move(error);
  for (size_t i = 0; i < a.gens.size(); ++i) {
    Generator& g = a.gens[i];
    if (!g.done()) g.end(StopReason::Callback);
    // The text held back to the end (a possible start of a stop string, a partial character).
    const std::string_view rest = g.finish();
    if (!rest.empty() && !a.cancelled && a.task->on_token) {
      a.task->on_token(static_cast<int>(i), TokenEvent{-1, rest, nullptr});
    }
    r.choices.push_back(g.result());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.tasks;
    stats_.prompt_tokens += r.prompt_tokens;
    stats_.cached_tokens += r.cached_tokens;
    stats_.running = std::max(0, stats_.running - 1);
  }
  if (a.task->on_done) a.task->on_done(std::move(r));
}

}  // namespace loom::server
