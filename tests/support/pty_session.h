// Runs a program on a pseudo-terminal, as a user at a terminal would: what is typed is echoed,
// Ctrl-C (\x03) sends SIGINT, Ctrl-D (\x04) at the start of a line ends the input. Standard
// output and standard error both arrive on the terminal, which writes "\n" as "\r\n"; the
// output kept here has the "\r"s taken out.
#pragma once

#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <vector>

namespace loom::test {

class PtySession {
 public:
  explicit PtySession(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_ = forkpty(&fd_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~PtySession() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  PtySession(const PtySession&) = delete;
  PtySession& operator=(const PtySession&) = delete;

  bool started() const { return pid_ > 0; }

  void type(const std::string& keys) {
    for (size_t done = 0; done < keys.size();) {
      const ssize_t n = write(fd_, keys.data() + done, keys.size() - done);
      if (n <= 0 && errno != EINTR) return;
      if (n > 0) done += static_cast<size_t>(n);
    }
  }

  // Reads until the output from FROM on contains WHAT; returns where WHAT starts, or npos when
  // TIMEOUT_S passed or the terminal closed first.
  size_t wait_for(const std::string& what, size_t from = 0, double timeout_s = 120) {
    const clock::time_point deadline = deadline_after(timeout_s);
    for (;;) {
      const size_t at = output_.find(what, from);
      if (at != std::string::npos) return at;
      if (!read_some(deadline)) return std::string::npos;
    }
  }

  // Reads until the output holds at least SIZE bytes; false when TIMEOUT_S passed first.
  bool wait_for_size(size_t size, double timeout_s = 120) {
    const clock::time_point deadline = deadline_after(timeout_s);
    while (output_.size() < size) {
      if (!read_some(deadline)) return false;
    }
    return true;
  }

  // Reads to the end and returns the exit status (-1: killed by a signal or timed out).
  int wait_exit(double timeout_s = 120) {
    const clock::time_point deadline = deadline_after(timeout_s);
    while (read_some(deadline)) {
    }
    int status = 0;
    for (;;) {
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) break;
      if (clock::now() > deadline) return -1;
      usleep(10000);
    }
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // Everything the terminal showed so far, "\r"s left out.
  const std::string& text() const { return output_; }

 private:
  using clock = std::chrono::steady_clock;

  static clock::time_point deadline_after(double seconds) {
    return clock::now() + std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
  }

  // Appends what is available before DEADLINE; false at the deadline or when the terminal is
  // closed (Linux reports EIO once the program has exited).
  bool read_some(clock::time_point deadline) {
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      const int r = poll(&p, 1, static_cast<int>(left));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      char buf[4096];
      const ssize_t n = read(fd_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] != '\r') output_ += buf[i];
      }
      return true;
    }
  }

  int fd_ = -1;
  pid_t pid_ = -1;
  bool exited_ = false;
  std::string output_;
};

}  // namespace loom::test
