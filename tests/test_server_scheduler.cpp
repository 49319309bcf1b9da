// The server's scheduler: tasks joining a running batch give each choice what it gets alone,
// share the pool's prefixes, cancel cleanly, and a full queue refuses.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "loom/loom.h"
#include "server/scheduler.h"

namespace {

const std::string kShared = LOOM_SHARED_DIR;

const loom::Model& model() {
  static const loom::Model m = loom::Model::load(kShared + "/models/stories260K");
  return m;
}

loom::BatchOptions invariant() {
  loom::BatchOptions o;
  o.pool_tokens = 8192;
  o.threads = 2;
  o.batch_invariant = true;
  return o;
}

std::vector<int> ids_of(const std::string& text) {
  return model().tokenizer().encode(text, /*add_special=*/true, /*parse_special=*/false);
}

loom::GenerateOptions sampled(uint64_t seed, int max_tokens) {
  loom::GenerateOptions o;
  o.max_tokens = max_tokens;
  o.sampling.temperature = 1.0f;
  o.sampling.seed = seed;
  return o;
}

// A task whose result comes back through a future; its streamed text is kept per choice.
struct Submitted {
  std::shared_ptr<loom::server::Task> task = std::make_shared<loom::server::Task>();
  std::promise<loom::server::TaskResult> done;
  std::vector<std::string> streamed;
};

std::unique_ptr<Submitted> make_task(std::vector<int> prompt, int n, loom::GenerateOptions o) {
  auto s = std::make_unique<Submitted>();
  s->task->prompt = std::move(prompt);
  s->task->n = n;
  s->task->options = std::move(o);
  s->task->has_text = true;
  s->streamed.resize(n);
  Submitted* p = s.get();
  s->task->on_token = [p](int choice, const loom::TokenEvent& e) {
    p->streamed[choice] += e.text;
    return true;
  };
  s->task->on_done = [p](loom::server::TaskResult&& r) { p->done.set_value(std::move(r)); };
  return s;
}

// Tasks of different prompts, choices and lengths submitted together, fewer slots than choices:
// each choice's tokens and text are those generate_samples gives the task alone.
TEST(Scheduler, EachChoiceIsWhatItsTaskGetsAlone) {
  const std::string story(300, 'a');  // more than a block of the pool: a prefix to share
  const std::vector<std::vector<int>> prompts = {ids_of("Once upon a time"), ids_of("The cat sat"),
                                                 ids_of(story + " Lily"), ids_of(story + " Tom"),
                                                 ids_of("One day, a little")};
  const int ns[] = {1, 3, 2, 1, 2};
  const int lengths[] = {20, 7, 12, 30, 1};
  loom::BatchEngine engine(model(), invariant());
  std::vector<std::unique_ptr<Submitted>> subs;
  {
    loom::server::Scheduler sched(engine, {.parallel = 4, .queue = 16, .pass_rows = 48});
    for (size_t i = 0; i < prompts.size(); ++i) {
      subs.push_back(make_task(prompts[i], ns[i], sampled(100 + i, lengths[i])));
      ASSERT_TRUE(sched.submit(subs.back()->task));
    }
    for (size_t i = 0; i < subs.size(); ++i) {
      const loom::server::TaskResult r = subs[i]->done.get_future().get();
      SCOPED_TRACE(i);
      ASSERT_TRUE(r.error.empty()) << r.error;
      EXPECT_FALSE(r.cancelled);
      EXPECT_EQ(r.prompt_tokens, static_cast<int>(prompts[i].size()));
      loom::BatchEngine alone(model(), invariant());
      const std::vector<loom::GenerateResult> want =
          loom::generate_samples(alone, prompts[i], ns[i], sampled(100 + i, lengths[i]));
      ASSERT_EQ(r.choices.size(), want.size());
      for (size_t c = 0; c < want.size(); ++c) {
        EXPECT_EQ(r.choices[c].ids, want[c].ids) << "choice " << c;
        EXPECT_EQ(r.choices[c].text, want[c].text);
        EXPECT_EQ(subs[i]->streamed[c], want[c].text);
        EXPECT_EQ(r.choices[c].stop, want[c].stop);
      }
    }
    const loom::server::SchedulerStats st = sched.stats();
    EXPECT_EQ(st.tasks, prompts.size());
    EXPECT_EQ(st.queued, 0);
  }
  EXPECT_EQ(engine.usage().used_blocks, 0);  // every sequence gave its blocks back
}

// A prompt whose first block is in the pool (left by an earlier task) evaluates only the rest.
TEST(Scheduler, APromptSharingAPrefixReusesItsBlocks) {
  const std::vector<int> prompt = ids_of(std::string(400, 'b') + " end");
  ASSERT_GT(prompt.size(), 256u);
  loom::BatchEngine engine(model(), invariant());
  loom::server::Scheduler sched(engine, {.parallel = 2, .queue = 4, .pass_rows = 64});
  auto first = make_task(prompt, 1, sampled(1, 4));
  ASSERT_TRUE(sched.submit(first->task));
  const loom::server::TaskResult a = first->done.get_future().get();
  auto second = make_task(prompt, 1, sampled(1, 4));
  ASSERT_TRUE(sched.submit(second->task));
  const loom::server::TaskResult b = second->done.get_future().get();
  EXPECT_EQ(a.cached_tokens, 0);
  EXPECT_EQ(b.cached_tokens, 256);
  EXPECT_EQ(b.choices[0].ids, a.choices[0].ids);
  EXPECT_EQ(sched.stats().cached_tokens, 256u);
}

// on_token's false cancels the task at once: its blocks go back, the others go on.
TEST(Scheduler, CancelledTaskEndsAndGivesItsBlocksBack) {
  loom::BatchEngine engine(model(), invariant());
  loom::server::Scheduler sched(engine, {.parallel = 4, .queue = 4, .pass_rows = 32});
  auto keep = make_task(ids_of("Once upon a time"), 1, sampled(5, 40));
  auto quit = make_task(ids_of("The dog"), 2, sampled(6, 40));
  std::atomic<int> seen = 0;
  Submitted* q = quit.get();
  quit->task->on_token = [q, &seen](int choice, const loom::TokenEvent& e) {
    q->streamed[choice] += e.text;
    return ++seen < 3;
  };
  ASSERT_TRUE(sched.submit(quit->task));
  ASSERT_TRUE(sched.submit(keep->task));
  const loom::server::TaskResult r = quit->done.get_future().get();
  EXPECT_TRUE(r.cancelled);
  EXPECT_EQ(seen.load(), 3);
  const loom::server::TaskResult k = keep->done.get_future().get();
  EXPECT_FALSE(k.cancelled);
  EXPECT_EQ(k.choices[0].ids.size(), 40u);
  loom::BatchEngine alone(model(), invariant());
  EXPECT_EQ(k.choices[0].ids,
            loom::generate_samples(alone, ids_of("Once upon a time"), 1, sampled(5, 40))[0].ids);
  EXPECT_EQ(engine.usage().used_blocks, 0);
}

// With the scheduler's thread held inside a task's callback, the queue fills: the next submit is
// refused; stop() then cancels what waits and runs.
TEST(Scheduler, FullQueueRefusesAndStopCancels) {
  loom::BatchEngine engine(model(), invariant());
  loom::server::Scheduler sched(engine, {.parallel = 1, .queue = 1, .pass_rows = 16});
  std::mutex mu;
  std::condition_variable cv;
  bool inside = false, release = false;
  auto held = make_task(ids_of("Once"), 1, sampled(1, 50));
  held->task->on_token = [&](int, const loom::TokenEvent&) {
    std::unique_lock<std::mutex> lock(mu);
    inside = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    return true;
  };
  ASSERT_TRUE(sched.submit(held->task));
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return inside; });
  }
  auto waiting = make_task(ids_of("Twice"), 1, sampled(2, 5));
  auto refused = make_task(ids_of("Thrice"), 1, sampled(3, 5));
  EXPECT_TRUE(sched.submit(waiting->task));
  EXPECT_FALSE(sched.submit(refused->task));
  EXPECT_EQ(sched.stats().queued, 1);
  sched.stop();
  EXPECT_FALSE(sched.submit(refused->task));
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  EXPECT_TRUE(waiting->done.get_future().get().cancelled);
  const loom::server::TaskResult h = held->done.get_future().get();
  EXPECT_TRUE(h.cancelled);
  EXPECT_LT(h.choices[0].ids.size(), 50u);
}

}  // namespace
