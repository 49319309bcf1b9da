// Safetensors checkpoints, single-file or sharded, as non-owning views into mmap'd files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/mapped_file.h"

namespace loom::io {

struct TensorInfo {
  std::string dtype;           // as the file names it: "F32", "F16", "BF16", "I64", ...
  std::vector<int64_t> shape;  // outermost first
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  const std::filesystem::path* file = nullptr;  // the file holding it
};

// Parses FILE's header and adds its tensors to OUT. Throws loom::Error naming the file on a
// truncated file, a corrupt header, an unknown dtype, a size that does not match the shape,
// offsets past the end of the file or a tensor name seen twice.
void read_safetensors_header(const MappedFile& file,
                             std::unordered_map<std::string, TensorInfo>& out);

// All tensors of a Hugging Face folder: DIR/model.safetensors, or the shards that
// DIR/model.safetensors.index.json names in its weight_map.
class TensorStore {
 public:
  static TensorStore open(const std::filesystem::path& dir);
  // Tensors read from another format (a GGUF file, or its shards), under the names open() would
  // give them. KEEP owns the memory their data points into, and the paths their TensorInfo::file
  // point to, where set (otherwise it is set to the first of SOURCES); SOURCES are the files
  // they came from, the first one named in messages.
  static TensorStore adopt(std::unordered_map<std::string, TensorInfo> tensors,
                           std::vector<std::filesystem::path> sources,
                           std::shared_ptr<const void> keep);

  // The tensor, or nullptr.
  const TensorInfo* find(const std::string& name) const;
  const std::unordered_map<std::string, TensorInfo>& tensors() const { return tensors_; }
  // The file(s) the tensors came from, for messages.
  std::string describe() const;
  // The files the tensors came from: the index of a sharded checkpoint, then each safetensors
  // file, in the order they were opened.
  std::vector<std::filesystem::path> source_files() const;

 private:
  std::vector<std::unique_ptr<MappedFile>> files_;
  std::unordered_map<std::string, TensorInfo> tensors_;
  std::filesystem::path source_;      // model.safetensors, the index, or an adopted file
  std::shared_ptr<const void> keep_;  // adopted tensors' memory
  std::unique_ptr<std::filesystem::path> adopted_path_;  // what their TensorInfo::file names
  std::vector<std::filesystem::path> adopted_more_;      // an adopted source's further files
};

}  // namespace loom::io
