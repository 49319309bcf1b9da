// Continuous batching for the server: tasks (a prompt and its n choices) join the running batch
// as they arrive, their prompts evaluated in chunks beside the others' decode steps, on one
// BatchEngine whose pool is the one prompt cache of every request. One thread runs the passes;
// callers submit from theirs and hear back through the task's callbacks (on that thread).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "loom/batch.h"
#include "loom/generate.h"

namespace loom::server {

struct SchedulerOptions {
  int parallel = 4;    // choices decoded together at most
  int queue = 64;      // tasks waiting at most (more: submit() refuses)
  int pass_rows = 64;  // rows a pass takes: every decode step, then prompt chunks in the rest
};

struct TaskResult {
  std::vector<GenerateResult> choices;
  int prompt_tokens = 0;
  int cached_tokens = 0;   // of the prompt's, found in the pool instead of evaluated
  bool cancelled = false;  // by on_token's false or stop()
  std::string error;       // a pass failed (the pool full, ...): what went wrong
};

struct Task {
  std::vector<int> prompt;  // not empty
  int n = 1;                // choices; choice i samples with options.sampling.seed + i
  GenerateOptions options;  // max_tokens: what the choice may generate at most
  bool has_text = false;    // Generator's HAS_TEXT
  // Each choice's streamed token, on the scheduler's thread; false cancels the task.
  std::function<bool(int choice, const TokenEvent& e)> on_token;
  // Once, when the task ends (done, cancelled or failed), on the scheduler's thread.
  std::function<void(TaskResult&& r)> on_done;
};

struct SchedulerStats {
  int queued = 0;      // tasks waiting
  int running = 0;     // tasks being evaluated
  uint64_t tasks = 0;  // tasks ended
  uint64_t prompt_tokens = 0;
  uint64_t cached_tokens = 0;
  uint64_t generated_tokens = 0;
  PoolUsage pool;  // after the last pass
};

class Scheduler {
 public:
  // ENGINE: used by the scheduler's thread only, from now until the scheduler is destroyed.
  Scheduler(BatchEngine& engine, const SchedulerOptions& options);
  ~Scheduler();  // stop(), then joins
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues TASK; false (and nothing queued) when the queue is full or the scheduler stopped.
  bool submit(std::shared_ptr<Task> task);
  // Queues all of TASKS (one request's prompts) or, when they do not all fit, none.
  bool submit(std::vector<std::shared_ptr<Task>> tasks);
  // Refuses new tasks and cancels those waiting and running (each hears on_done, cancelled).
  void stop();
  SchedulerStats stats() const;

 private:
  struct Active;
  void run();
  void admit();
  bool pass();
  void end(Active& a, std::string error);

  BatchEngine& engine_;
  SchedulerOptions opt_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Task>> queue_;
  bool stopping_ = false;
  SchedulerStats stats_;
  std::vector<std::unique_ptr<Active>> active_;  // the scheduler thread's
  std::thread thread_;
};

}  // namespace loom::server
