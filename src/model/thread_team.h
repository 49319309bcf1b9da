// How sessions and engines take their thread count and turns from a ThreadTeam.
#pragma once

#include <memory>
#include <mutex>

#include "loom/config.h"
#include "loom/threads.h"

namespace loom::model {

// The options sessions and engines share: THREADS in [0, 4096], BATCH_SIZE > 0, KV_TYPE f32, f16
// or bf16; else loom::Error naming the option and the value.
void check_run_options(int threads, int batch_size, DType kv_type);

// The threads of a pass: THREADS, or the team's size (THREADS 0 or equal to it; else
// loom::Error), or all cores.
int team_threads(const std::shared_ptr<ThreadTeam>& team, int threads);

// The team's turn for one pass; nothing without a team.
inline std::unique_lock<std::mutex> team_turn(const std::shared_ptr<ThreadTeam>& team) {
  return team ? team->acquire() : std::unique_lock<std::mutex>();
}

}  // namespace loom::model
