#include <omp.h>

#include <string>

#include "loom/error.h"
#include "model/thread_team.h"

namespace loom {

namespace {
constexpr int kMaxThreads = 4096;
}

ThreadTeam::ThreadTeam(int n) {
  if (n < 0 || n > kMaxThreads) {
    throw Error("a thread team takes 0 (all cores) to " + std::to_string(kMaxThreads) +
                " threads, got " + std::to_string(n));
  }
  n_ = n ? n : omp_get_max_threads();
}

namespace model {

void check_run_options(int threads, int batch_size, DType kv_type) {
  if (threads < 0 || threads > kMaxThreads) {
    throw Error("threads must be in [0, " + std::to_string(kMaxThreads) + "] (0: all cores), got " +
                std::to_string(threads));
  }
  if (batch_size <= 0) {
    throw Error("batch_size must be positive, got " + std::to_string(batch_size));
  }
  if (kv_type != DType::F32 && kv_type != DType::F16 && kv_type != DType::BF16) {
    throw Error(std::string("kv_type must be f32, f16 or bf16, got ") + dtype_name(kv_type));
  }
}

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
