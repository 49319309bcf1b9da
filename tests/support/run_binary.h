// Runs one of the project's binaries as a user would and captures what it printed.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace loom::test {

struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};

// BINARY ARGS through the shell (ARGS may quote); stdout and stderr apart.
inline CommandResult run_binary(const std::string& binary, const std::string& args) {
  namespace fs = std::filesystem;
  const fs::path err_file =
      fs::temp_directory_path() /
      ("loom_test_err_" + std::to_string(getpid()) + "_" + fs::path(binary).filename().string());
  CommandResult r;
  FILE* p = popen((binary + " " + args + " 2>" + err_file.string()).c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_file);
  std::stringstream ss;
  ss << in.rdbuf();
  r.err = ss.str();
  fs::remove(err_file);
  return r;
}

}  // namespace loom::test
