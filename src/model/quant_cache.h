// The quantized-weights cache file: a model's quantized matrices as quantize_weights lays them
// out, saved so that a later load maps them (no copy) instead of reading and quantizing the
// checkpoint again. Written and checked here; where it lives and when it is used is
// model/load_quantized.h's business.
//
// Format (version 2). All integers little-endian; every record and name padded with zeros to a
// multiple of 8 bytes. A matrix's type code is its DType's number (config.h); the header's is
// QuantChoice::code (the DType's number, or 100 + a GgufFileType's for llama-quantize's mixes).
//
//   offset  bytes  field
//   0       8      magic "LOOMQWC\n"
//   8       4      format version (kQuantCacheFormat): bumped when this layout changes
//   12      4      quantizer version (quant::kQuantizerVersion): bumped when the quantization
//                  arithmetic or the block layout (quant/blocks.h) changes
//   16      4      code of the quantization: QuantChoice::code
//   20      4      n_sources
//   24      4      n_matrices
//   28      4      zero
//   32      8      hash64 of config.json's bytes
//   40      8      header_bytes: the header up to and including its checksum
//   48      8      data_offset: where the data section starts, a multiple of 4096
//   56      8      file_bytes: the whole file, data_offset + the data section's bytes
//   64      ...    n_sources records, one per file the weights came from (the safetensors files
//                  and any model.safetensors.index.json), in TensorStore's order:
//                    u64 size, i64 mtime (ns since the epoch), u32 name length, u32 zero,
//                    name (the file name inside the model folder)
//           ...    n_matrices records, in quant_layout's order:
//                    u32 type code, u32 rows, u32 cols, u32 name length, u64 offset (from
//                    data_offset, a multiple of 64), u64 bytes, u64 checksum (io::checksums of
//                    the matrix's bytes), name (the checkpoint's tensor name)
//   header_bytes - 8   8   hash64 of the header's bytes before it
//           ...    zeros up to data_offset
//   data_offset    the matrices, as the layout places them (padding between them zero)
//
// A cache is used only if every field matches the model being loaded (the source files' sizes
// and modification times, config.json's bytes, each matrix's name, type, shape, place and size),
// the file's size is file_bytes and every checksum holds. The file is read through bounds checks
// only: any file, however damaged, is rejected with a message, never read out of bounds.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "io/files.h"
#include "io/mapped_file.h"
#include "model/quantize_weights.h"

namespace loom::model {

inline constexpr uint32_t kQuantCacheFormat = 2;

// What a cache must hold to stand for a model's quantized matrices.
struct QuantCacheKey {
  struct Source {
    std::string name;  // a file of the model folder
    io::FileStamp stamp;
  };
  uint32_t code = 0;  // QuantChoice::code of the layout
  uint64_t config_hash = 0;
  std::vector<Source> sources;
  const QuantLayout* layout = nullptr;  // the matrices: names, shapes, places, sizes
};

// The key of LAYOUT's matrices quantized from the checkpoint in DIR whose files are SOURCES.
// Throws loom::Error if config.json cannot be read or a source file cannot be stat'ed.
QuantCacheKey quant_cache_key(const std::filesystem::path& dir,
                              const std::vector<std::filesystem::path>& sources,
                              const QuantLayout& layout);

// A cache file that passed every check, mapped: the matrices' bytes start at data.
struct QuantCacheFile {
  io::MappedFile file;
  const uint8_t* data;  // the data section, laid out as the key's layout says
};

// PATH mapped and checked against KEY (checksums over THREADS; 0: all). Nullopt when the file
// fails a check or cannot be read, with WHY saying which field or matrix and the expected
// (KEY's) and found (the file's) values.
std::optional<QuantCacheFile> open_quant_cache(const std::filesystem::path& path,
                                               const QuantCacheKey& key, int threads,
                                               std::string& why);

// Writes the cache of KEY with the data section DATA (the layout's bytes) to PATH, atomically
// (io::AtomicFileWriter); returns the file's size. Throws loom::Error naming the file when it
// cannot be written (no permission, disk full).
uint64_t write_quant_cache(const std::filesystem::path& path, const QuantCacheKey& key,
                           const uint8_t* data, int threads);

}  // namespace loom::model
