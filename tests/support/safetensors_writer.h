// Writes files, JSON and safetensors checkpoints for tests, with nothing but the standard library
// and nlohmann/json, so that tools built outside the project (make_test_checkpoint on the device
// machine) can use it too.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace loom::test {

namespace fs = std::filesystem;
using nlohmann::json;

inline void write_text(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

inline std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline json read_json(const fs::path& file) {
  return json::parse(read_text(file));
}
inline void write_json(const fs::path& file, const json& j) {
  write_text(file, j.dump(2));
}

// One tensor held in memory, as a safetensors header describes it.
struct Tensor {
  std::string dtype;           // "F32", "BF16", ... or anything else, to test rejection
  std::vector<int64_t> shape;  // need not match bytes, to test rejection
  std::string bytes;           // the raw data
};

// By name, ordered, so a rewritten file comes out the same on every run.
using Tensors = std::map<std::string, Tensor>;

// The 8-byte little-endian header length, HEADER (padded with spaces to a multiple of 8, as
// writers do, so the data keeps the file's alignment), then DATA. HEADER is written as given,
// valid JSON or not.
inline void write_safetensors_raw(const fs::path& file, std::string header,
                                  const std::string& data) {
  header.append((8 - header.size() % 8) % 8, ' ');
  const uint64_t len = header.size();
  char len_bytes[8];
  std::memcpy(len_bytes, &len, 8);  // little-endian on every host loom runs on
  write_text(file, std::string(len_bytes, 8) + header + data);
}

// The data of TENSORS packed back to back in name order, with data_offsets to match. Sizes that
// are multiples of the element size keep every tensor aligned, as real checkpoints do.
inline void write_safetensors(const fs::path& file, const Tensors& tensors) {
  json header = json::object();
  header["__metadata__"] = {{"format", "pt"}};
  std::string data;
  for (const auto& [name, t] : tensors) {
    const size_t begin = data.size();
    data += t.bytes;
    header[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {begin, data.size()}}};
  }
  write_safetensors_raw(file, header.dump(), data);
}

}  // namespace loom::test
