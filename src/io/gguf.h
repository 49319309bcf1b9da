// GGUF files (llama.cpp's model format, versions 2 and 3), read as a non-owning view into one
// read-only mapping, and written. The reader checks everything it hands out: a metadata value
// or tensor it returns lies inside the file, and every failure is a loom::Error naming the file
// and the key, tensor or byte offset at fault.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/mapped_file.h"

namespace loom::io {

// Metadata value types, by their numbers in the file.
enum class GgufType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};
const char* gguf_type_name(GgufType t);  // "u32", "string", "array", ...; "?" if unknown

// ggml's tensor types, by their numbers in the file (ggml.h's enum ggml_type).
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
};

// A ggml type's block: ELEMENTS weights along a row stored in BYTES bytes (1 and the element's
// size for the plain types).
struct GgmlTraits {
  GgmlType type;
  const char* name;  // ggml's: "F32", "Q4_K", ...
  int elements;
  int bytes;
};
// The traits of type number T, or nullptr for a number this table does not know.
const GgmlTraits* ggml_traits(uint32_t t);

class GgufFile {
 public:
  struct Tensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;  // ggml's order: ne[0] the row length (innermost), then outward
    const uint8_t* data = nullptr;
    size_t nbytes = 0;
    size_t shard = 0;  // the file holding it: shard_path(shard)
  };

  // Maps PATH and parses its header, metadata and tensor infos. Throws loom::Error naming the
  // file (and the key, tensor or offset) on: a bad magic, a version other than 2 or 3, a count
  // or length that runs past the end of the file, an unknown metadata or tensor type, a string
  // that is not UTF-8 where it is a key, a key or tensor name seen twice, zero or more than 4
  // dimensions, a row length not a multiple of the type's block, a tensor offset not a multiple
  // of general.alignment (default 32, a power of two) or whose bytes run past the end.
  //
  // A model split by llama-gguf-split (or loom-quantize --split-max-size) is opened by its first
  // shard, PREFIX-00001-of-0000N.gguf (split.no 0, split.count N): the other shards, named the
  // same way, are opened beside it and their tensors join the first shard's, whose metadata is
  // the model's. Throws naming the shard at fault: one missing, one whose split.no or
  // split.count disagrees, a tensor in two shards, a total other than split.tensors.count, or a
  // later shard opened first.
  static GgufFile open(const std::filesystem::path& path);

  uint32_t version() const { return version_; }
  const std::filesystem::path& path() const { return file_.path(); }
  // The files tensors lie in: path(), then any further shards in order.
  size_t shard_count() const { return 1 + shards_.size(); }
  const std::filesystem::path& shard_path(size_t i) const {
    return i == 0 ? path() : shards_[i - 1]->path();
  }
  size_t alignment() const { return alignment_; }

  // Metadata. The get_ functions throw loom::Error naming the file and KEY when it is absent or
  // of another type; the find_ ones return nullopt when absent and throw when of another type.
  bool has(std::string_view key) const;
  std::optional<GgufType> type_of(std::string_view key) const;
  std::vector<std::string> keys() const;  // in file order
  std::string get_string(std::string_view key) const;
  std::optional<std::string> find_string(std::string_view key) const;
  // Any integer type whose value is >= 0 and fits.
  uint64_t get_uint(std::string_view key) const;
  std::optional<uint64_t> find_uint(std::string_view key) const;
  // F32 or F64.
  double get_float(std::string_view key) const;
  std::optional<double> find_float(std::string_view key) const;
  std::optional<bool> find_bool(std::string_view key) const;
  // Arrays: of strings; of F32 (or F64); of any integer type (each value must fit an int64).
  std::vector<std::string> get_string_array(std::string_view key) const;
  std::vector<float> get_float_array(std::string_view key) const;
  std::vector<int64_t> get_int_array(std::string_view key) const;
  // An array's element type and length (throws when KEY is absent or not an array).
  GgufType array_type(std::string_view key) const;
  uint64_t array_size(std::string_view key) const;

  // Tensors, in file order.
  const std::vector<Tensor>& tensors() const { return tensors_; }
  const Tensor* find_tensor(std::string_view name) const;  // nullptr when absent

 private:
  struct Value {
    GgufType type;
    size_t offset;                      // of the value's bytes (after the type) in the file
    GgufType elem_type = GgufType::U8;  // arrays
    uint64_t count = 0;                 // arrays
  };
  explicit GgufFile(MappedFile file) : file_(std::move(file)) {}
  static GgufFile parse(const std::filesystem::path& path);
  void open_shards();
  const Value& get(std::string_view key, const char* wanted) const;

  MappedFile file_;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  std::vector<std::pair<std::string, Value>> meta_;  // file order
  std::unordered_map<std::string, size_t> meta_index_;
  std::vector<Tensor> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
  std::vector<std::unique_ptr<GgufFile>> shards_;  // shards 2..N, for their mappings
};

// Shard NO (1-based) of COUNT of a split model: PREFIX-0000NO-of-0000COUNT.gguf, llama.cpp's
// naming (llama_split_path).
std::filesystem::path gguf_shard_path(const std::string& prefix, int no, int count);

// Writes a GGUF v3 file: metadata in the order set, then tensor infos and data in the order
// added, each tensor's data at a multiple of the alignment. The data passed to add_tensor must
// stay valid until write().
class GgufWriter {
 public:
  void set_string(std::string key, std::string value);
  void set_u32(std::string key, uint32_t value);
  void set_i32(std::string key, int32_t value);
  void set_u64(std::string key, uint64_t value);
  void set_f32(std::string key, float value);
  void set_bool(std::string key, bool value);
  void set_string_array(std::string key, const std::vector<std::string>& values);
  void set_f32_array(std::string key, const std::vector<float>& values);
  void set_i32_array(std::string key, const std::vector<int32_t>& values);
  // NE in ggml's order (ne[0] the row length); NBYTES must be what TYPE and NE imply.
  void add_tensor(std::string name, GgmlType type, std::vector<int64_t> ne, const void* data,
                  size_t nbytes);
  // The same for a tensor whose NBYTES bytes FILL writes into a buffer when write() reaches it:
  // a writer of many large tensors then holds one at a time (FILL must stay callable until then).
  using Fill = std::function<void(uint8_t* dst)>;
  void add_tensor(std::string name, GgmlType type, std::vector<int64_t> ne, size_t nbytes,
                  Fill fill);
  // Throws loom::Error naming PATH when it cannot write, or naming the key or tensor added twice.
  void write(const std::filesystem::path& path, uint32_t alignment = 32) const;
  // The same model as shards, as llama-gguf-split --split-max-size writes them: tensors in order,
  // a new shard when the next one's bytes would take the current one past MAX_BYTES (a tensor
  // larger than that gets a shard of its own), named gguf_shard_path(PREFIX, i, N); the first
  // holds the metadata, each split.no, split.count and split.tensors.count. Returns the paths.
  // On an error, no shard is left behind.
  std::vector<std::filesystem::path> write_split(const std::string& prefix, uint64_t max_bytes,
                                                 uint32_t alignment = 32) const;

 private:
  struct Entry {
    std::string key;
    GgufType type;
    std::string bytes;  // the value as the file holds it (after the type)
  };
  struct Pending {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;
    const void* data;
    size_t nbytes;
    Fill fill;  // when set, makes the bytes (data is null)
  };
  void check(const std::filesystem::path& path, uint32_t alignment) const;
  void write_file(const std::filesystem::path& path, uint32_t alignment,
                  const std::vector<Entry>& meta, size_t begin, size_t end) const;

  std::vector<Entry> meta_;
  std::vector<Pending> tensors_;
};

}  // namespace loom::io
