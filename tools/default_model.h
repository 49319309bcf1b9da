// The model a tool runs when none is named: the copy `cmake --install` puts beside the tools
// (PREFIX/share/loom/models/stories260K, found from the executable's own path, so a moved or
// relocated prefix still finds it), else the source tree's, for the tools of a build tree. The
// source tree's path alone would break an installed tool once that tree is gone.
#pragma once

#include <filesystem>
#include <string>
#include <system_error>

namespace loom::tools {

inline std::string default_model() {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    // LOOM_INSTALLED_MODEL: the installed model's path relative to the tools' directory.
    const fs::path installed = (exe.parent_path() / LOOM_INSTALLED_MODEL).lexically_normal();
    if (fs::is_regular_file(installed / "config.json", ec)) return installed.string();
  }
  return LOOM_DEFAULT_MODEL;
}

}  // namespace loom::tools
