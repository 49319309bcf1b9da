// A team of threads the caller owns and gives to sessions and batch engines.
//
// Each forward pass runs on a team of threads (OpenMP's). Two sessions or engines used from two
// threads of the caller, each with a team of its own as large as the machine, run twice as many
// threads as there are cores, and both slow down. Given one ThreadTeam, their passes take turns
// on it instead: never more threads at once than the team has.
#pragma once

#include <memory>
#include <mutex>

#pragma GCC visibility push(default)  // the public API: what libloom.so exports
namespace loom {

class ThreadTeam {
 public:
  // N threads; 0: all cores OpenMP reports. Throws loom::Error for N < 0 or absurdly large.
  explicit ThreadTeam(int n = 0);
  int size() const { return n_; }
  // Held for one forward pass: passes on the same team wait for each other.
  [[nodiscard]] std::unique_lock<std::mutex> acquire() const {
    return std::unique_lock<std::mutex>(mu_);
  }

 private:
  int n_;
  mutable std::mutex mu_;
};

}  // namespace loom
#pragma GCC visibility pop
