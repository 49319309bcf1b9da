#include <omp.h>

#include <string>

#include "loom/error.h"
#include "model/thread_team.h"

namespace loom {

ThreadTeam::ThreadTeam(int n) {
  constexpr int kMaxThreads = 4096;
  if (n < 0 || n > kMaxThreads) {
    throw Error("a thread team takes 0 (all cores) to " + std::to_string(kMaxThreads) +
                " threads, got " + std::to_string(n));
  }
  n_ = n ? n : omp_get_max_threads();
}

namespace model {

int team_threads(const std::shared_ptr<ThreadTeam>& team, int threads) {
  if (!team) return threads ? threads : omp_get_max_threads();
  if (threads != 0 && threads != team->size()) {
    throw Error("threads (" + std::to_string(threads) +
                ") differs from the size of the thread "
                "team given (" +
                std::to_string(team->size()) + "): leave it 0");
  }
  return team->size();
}

}  // namespace model
}  // namespace loom
