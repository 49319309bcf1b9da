// Builds model folders and safetensors files in a temp dir, for tests that feed loom bad input:
// copy a real fixture, then break one thing in it.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "support/safetensors_writer.h"

namespace loom::test {

namespace fs = std::filesystem;
using nlohmann::json;

// A fresh folder under the system temp dir, removed with its contents when this goes out of
// scope. The pid keeps test binaries that ctest runs side by side apart.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("loom-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;  // a destructor must not throw; a leftover folder is harmless
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Every tensor of a real safetensors file, read through loom's own io layer.
inline Tensors read_tensors(const fs::path& file) {
  const io::MappedFile mapped(file);
  std::unordered_map<std::string, io::TensorInfo> infos;
  io::read_safetensors_header(mapped, infos);
  Tensors out;
  for (const auto& [name, t] : infos) {
    out[name] =
        Tensor{t.dtype, t.shape, std::string(reinterpret_cast<const char*>(t.data), t.nbytes)};
  }
  return out;
}

// A writable copy of a model folder (the fixtures are read-only) in a temp dir.
class ModelFolder {
 public:
  explicit ModelFolder(const fs::path& fixture) {
    for (const auto& entry : fs::directory_iterator(fixture)) {
      if (!entry.is_regular_file()) continue;
      const fs::path to = dir() / entry.path().filename();
      fs::copy_file(entry.path(), to);
      fs::permissions(to, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add);
    }
  }

  const fs::path& dir() const { return tmp_.path(); }
  fs::path operator/(const std::string& name) const { return dir() / name; }

  void remove(const std::string& name) const { fs::remove(dir() / name); }
  void edit_json(const std::string& name, const std::function<void(json&)>& edit) const {
    json j = read_json(dir() / name);
    edit(j);
    write_json(dir() / name, j);
  }
  void edit_config(const std::function<void(json&)>& edit) const { edit_json("config.json", edit); }
  void edit_tensors(const std::string& file, const std::function<void(Tensors&)>& edit) const {
    Tensors t = read_tensors(dir() / file);
    edit(t);
    write_safetensors(dir() / file, t);
  }

 private:
  TempDir tmp_;
};

}  // namespace loom::test
