#include "io/safetensors.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "loom/error.h"

namespace loom::io {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

size_t element_size(const std::string& dtype) {
  static const std::unordered_map<std::string, size_t> sizes = {
      {"F64", 8}, {"F32", 4}, {"F16", 2},  {"BF16", 2},    {"I64", 8},
      {"I32", 4}, {"I16", 2}, {"I8", 1},   {"U64", 8},     {"U32", 4},
      {"U16", 2}, {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// A list of non-negative integers, or nullopt. nlohmann would turn 64.5 into 64 and -1 into
// 2^64 - 1 without a word.
std::optional<std::vector<uint64_t>> uint_list(const json& v) {
  if (!v.is_array()) return std::nullopt;
  std::vector<uint64_t> out;
  for (const json& e : v) {
    if (!e.is_number_unsigned()) return std::nullopt;
    out.push_back(e.get<uint64_t>());
  }
  return out;
}

json parse_json_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read " + path.string());
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw Error("invalid JSON in " + path.string() + ": " + e.what());
  }
}

}  // namespace

void read_safetensors_header(const MappedFile& file,
                             std::unordered_map<std::string, TensorInfo>& out) {
  const std::string where = file.path().string();
  if (file.size() < 8) {
    throw Error(where + ": truncated safetensors file (" + std::to_string(file.size()) +
                " bytes, less than the 8-byte header length)");
  }
  uint64_t header_len = 0;
  std::memcpy(&header_len, file.data(), 8);  // little-endian, as is every x86-64
  if (header_len > file.size() - 8) {
    throw Error(where + ": truncated safetensors file: header claims " +
                std::to_string(header_len) + " bytes, file has " + std::to_string(file.size() - 8) +
                " after the length");
  }
  const char* hbegin = reinterpret_cast<const char*>(file.data() + 8);
  json header;
  // nlohmann keeps the last of two equal keys: catch the duplicate as the parser meets it.
  std::set<std::string> names;
  const json::parser_callback_t no_duplicates = [&](int depth, json::parse_event_t event,
                                                    json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key &&
        !names.insert(parsed.get<std::string>()).second) {
      throw Error(where + ": tensor '" + parsed.get<std::string>() +
                  "' appears twice in the safetensors header");
    }
    return true;
  };
  try {
    header = json::parse(hbegin, hbegin + header_len, no_duplicates);
  } catch (const json::exception& e) {
    throw Error(where + ": corrupt safetensors header JSON: " + e.what());
  }
  if (!header.is_object()) throw Error(where + ": safetensors header is not a JSON object");

  const uint8_t* data_start = file.data() + 8 + header_len;
  const size_t data_size = file.size() - 8 - header_len;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    const std::string tw = where + ": tensor '" + name + "'";
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets")) {
      throw Error(tw + ": header entry lacks dtype, shape or data_offsets");
    }
    TensorInfo t;
    const json& dtype = entry.at("dtype");
    if (!dtype.is_string()) throw Error(tw + ": dtype " + dtype.dump() + " is not a string");
    t.dtype = dtype.get<std::string>();
    const size_t esize = element_size(t.dtype);
    if (esize == 0) throw Error(tw + ": unknown dtype '" + t.dtype + "'");
    const auto shape = uint_list(entry.at("shape"));
    if (!shape) {
      throw Error(tw + ": shape " + entry.at("shape").dump() +
                  " is not a list of non-negative integers");
    }
    const auto off = uint_list(entry.at("data_offsets"));
    if (!off || off->size() != 2) {
      throw Error(tw + ": data_offsets " + entry.at("data_offsets").dump() +
                  " are not two non-negative integers");
    }
    const std::string off_str =
        "data_offsets [" + std::to_string((*off)[0]) + ", " + std::to_string((*off)[1]) + "]";
    if ((*off)[0] > (*off)[1]) throw Error(tw + ": " + off_str + " end before they begin");
    if ((*off)[1] > data_size) {
      throw Error(tw + ": " + off_str + " lie past the end of the file (data section of " +
                  std::to_string(data_size) + " bytes; truncated file?)");
    }
    t.data = data_start + (*off)[0];
    t.nbytes = (*off)[1] - (*off)[0];
    // The byte count in 64 bits with overflow checked: [2^62, 4] of F32 must not wrap to 0.
    uint64_t nbytes = esize;
    for (uint64_t d : *shape) {
      if (d > uint64_t{INT64_MAX} || __builtin_mul_overflow(nbytes, d, &nbytes)) {
        throw Error(tw + ": shape " + entry.at("shape").dump() + " is too large");
      }
      t.shape.push_back(static_cast<int64_t>(d));
    }
    if (nbytes != t.nbytes) {
      throw Error(tw + ": shape " + shape_str(t.shape) + " of " + t.dtype + " needs " +
                  std::to_string(nbytes) + " bytes, data_offsets give " + std::to_string(t.nbytes));
    }
    if (reinterpret_cast<uintptr_t>(t.data) % esize != 0) {
      throw Error(tw + ": data is not aligned to its element size");
    }
    t.file = &file.path();
    if (!out.emplace(name, std::move(t)).second) {
      throw Error(tw + ": tensor appears twice");
    }
  }
}

TensorStore TensorStore::open(const fs::path& dir) {
  TensorStore store;
  const fs::path single = dir / "model.safetensors";
  const fs::path index = dir / "model.safetensors.index.json";
  if (fs::exists(index)) {
    store.source_ = index;
    json j = parse_json_file(index);
    if (!j.contains("weight_map") || !j["weight_map"].is_object()) {
      throw Error(index.string() + ": no 'weight_map' object");
    }
    std::map<std::string, std::vector<std::string>> by_file;
    for (const auto& [name, file] : j["weight_map"].items()) {
      if (!file.is_string())
        throw Error(index.string() + ": weight_map['" + name + "'] is not a file name");
      const std::string f = file.get<std::string>();
      if (f.empty() || f == "." || f == ".." || f.find('/') != std::string::npos) {
        throw Error(index.string() + ": weight_map['" + name + "'] names '" + f +
                    "', not a file of the model folder");
      }
      by_file[f].push_back(name);
    }
    for (const auto& [file, names] : by_file) {
      const fs::path shard = dir / file;
      if (!fs::exists(shard)) {
        throw Error("shard " + shard.string() + " named in " + index.string() + " is missing");
      }
      store.files_.push_back(std::make_unique<MappedFile>(shard));
      std::unordered_map<std::string, TensorInfo> in_file;
      read_safetensors_header(*store.files_.back(), in_file);
      for (const auto& name : names) {
        auto it = in_file.find(name);
        if (it == in_file.end()) {
          throw Error(index.string() + " places tensor '" + name + "' in " + shard.string() +
                      ", which does not hold it");
        }
        store.tensors_.emplace(name, it->second);
      }
    }
  } else if (fs::exists(single)) {
    store.source_ = single;
    store.files_.push_back(std::make_unique<MappedFile>(single));
    read_safetensors_header(*store.files_.back(), store.tensors_);
  } else {
    std::string hint;
    if (fs::exists(dir / "pytorch_model.bin") || fs::exists(dir / "pytorch_model.bin.index.json")) {
      hint = " (PyTorch .bin checkpoints are not supported: save the model as safetensors)";
    }
    throw Error("no model.safetensors or model.safetensors.index.json in " + dir.string() + hint);
  }
  return store;
}

TensorStore TensorStore::adopt(std::unordered_map<std::string, TensorInfo> tensors,
                               std::vector<fs::path> sources, std::shared_ptr<const void> keep) {
  TensorStore store;
  store.source_ = sources.at(0);
  store.keep_ = std::move(keep);
  store.adopted_path_ = std::make_unique<fs::path>(sources[0]);
  store.adopted_more_.assign(sources.begin() + 1, sources.end());
  store.tensors_ = std::move(tensors);
  for (auto& [name, t] : store.tensors_) {
    if (!t.file) t.file = store.adopted_path_.get();
  }
  return store;
}

const TensorInfo* TensorStore::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

std::string TensorStore::describe() const {
  return source_.string();
}

std::vector<fs::path> TensorStore::source_files() const {
  std::vector<fs::path> out;
  // The index, or the adopted file.
  if (source_.filename() != "model.safetensors") out.push_back(source_);
  out.insert(out.end(), adopted_more_.begin(), adopted_more_.end());
  for (const auto& f : files_) out.push_back(f->path());
  return out;
}

}  // namespace loom::io
