#include "model/quant_cache.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <span>

#include "io/checksum.h"
#include "loom/error.h"
#include "quant/quantize.h"

namespace loom::model {
namespace fs = std::filesystem;
namespace {

constexpr char kMagic[8] = {'L', 'O', 'O', 'M', 'Q', 'W', 'C', '\n'};
constexpr size_t kFixedBytes = 64;
constexpr uint64_t kDataAlign = 4096;

// A matrix's type in the file: DType's number.
uint32_t type_code(DType t) {
  return static_cast<uint32_t>(t);
}

std::string type_str(uint32_t code) {
  if (code <= static_cast<uint32_t>(DType::Q5_1)) return dtype_name(static_cast<DType>(code));
  return "code " + std::to_string(code);
}

// The choice's, in the header: QuantChoice::code.
std::string choice_str(uint32_t code) {
  if (code < 100) return type_str(code);
  if (code - 100 <= static_cast<uint32_t>(GgufFileType::Q6_K)) {
    return gguf_file_type_name(static_cast<GgufFileType>(code - 100));
  }
  return "code " + std::to_string(code);
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016" PRIx64, v);
  return buf;
}

uint64_t round_up(uint64_t n, uint64_t to) {
  return (n + to - 1) / to * to;
}

// The header as it is built for writing.
class HeaderWriter {
 public:
  template <class T>
  void put(T v) {
    bytes_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void name(const std::string& s) {
    bytes_ += s;
    bytes_.append((8 - bytes_.size() % 8) % 8, '\0');
  }
  template <class T>
  void set(size_t offset, T v) {
    std::memcpy(bytes_.data() + offset, &v, sizeof v);
  }
  std::string& bytes() { return bytes_; }

 private:
  std::string bytes_;
};

// Reads the header of a file that may hold anything: every read is checked against the end.
class HeaderReader {
 public:
  HeaderReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  template <class T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  std::string name(uint32_t len, const std::string& what) {
    need(round_up(len, 8), what.c_str());
    std::string s(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += round_up(len, 8);
    return s;
  }
  size_t pos() const { return pos_; }

 private:
  void need(uint64_t n, const char* what) const {
    if (n > size_ - pos_) {
      throw Error(std::string("header ends inside ") + what + " (at byte " + std::to_string(pos_) +
                  " of " + std::to_string(size_) + ")");
    }
  }
  const uint8_t* data_;
  size_t size_, pos_ = 0;
};

template <class T>
void expect(const std::string& field, T expected, T found) {
  if (expected != found) {
    throw Error(field + ": expected " + std::to_string(expected) + ", found " +
                std::to_string(found));
  }
}
void expect(const std::string& field, const std::string& expected, const std::string& found) {
  if (expected != found) throw Error(field + ": expected " + expected + ", found " + found);
}

std::vector<io::ByteRange> matrix_ranges(const QuantLayout& layout, const uint8_t* data) {
  std::vector<io::ByteRange> out;
  for (const QuantSlot& s : layout.slots) out.push_back({data + s.offset, s.bytes});
  return out;
}

// Checks FILE against KEY; throws loom::Error saying what does not match.
const uint8_t* check(const io::MappedFile& file, const QuantCacheKey& key, int threads) {
  const size_t size = file.size();
  if (size < kFixedBytes) {
    throw Error("file of " + std::to_string(size) + " bytes is shorter than the " +
                std::to_string(kFixedBytes) + "-byte header (truncated?)");
  }
  if (std::memcmp(file.data(), kMagic, sizeof kMagic) != 0) {
    throw Error("magic: not a loom quantized-weights cache");
  }
  HeaderReader fixed(file.data() + sizeof kMagic, kFixedBytes - sizeof kMagic);
  expect("format version", kQuantCacheFormat, fixed.get<uint32_t>("format version"));
  expect("quantizer version", quant::kQuantizerVersion, fixed.get<uint32_t>("quantizer version"));
  expect("type", choice_str(key.code), choice_str(fixed.get<uint32_t>("type")));
  const auto n_sources = fixed.get<uint32_t>("n_sources");
  const auto n_matrices = fixed.get<uint32_t>("n_matrices");
  fixed.get<uint32_t>("zero");
  const auto config_hash = fixed.get<uint64_t>("config hash");
  const auto header_bytes = fixed.get<uint64_t>("header_bytes");
  const auto data_offset = fixed.get<uint64_t>("data_offset");
  const auto file_bytes = fixed.get<uint64_t>("file_bytes");
  expect("file size (the header's file_bytes)", file_bytes, uint64_t{size});
  if (header_bytes < kFixedBytes + 8 || header_bytes % 8 != 0 || header_bytes > data_offset ||
      data_offset % kDataAlign != 0 || data_offset > file_bytes) {
    throw Error("header_bytes " + std::to_string(header_bytes) + " and data_offset " +
                std::to_string(data_offset) + " do not fit a file of " + std::to_string(size) +
                " bytes");
  }
  uint64_t header_sum;
  std::memcpy(&header_sum, file.data() + header_bytes - 8, 8);
  expect("header checksum", hex(header_sum), hex(io::hash64(file.data(), header_bytes - 8)));

  expect("config.json hash (the file now vs when the cache was written)", hex(key.config_hash),
         hex(config_hash));
  expect("source files", key.sources.size(), size_t{n_sources});
  HeaderReader r(file.data(), header_bytes - 8);
  r.name(kFixedBytes, "the fixed fields");  // skip them
  for (const QuantCacheKey::Source& s : key.sources) {
    const std::string what = "source '" + s.name + "'";
    const auto bytes = r.get<uint64_t>("a source's size");
    const auto mtime = r.get<int64_t>("a source's mtime");
    const auto len = r.get<uint32_t>("a source's name length");
    r.get<uint32_t>("zero");
    expect(what + " name", s.name, r.name(len, "the name of " + what));
    expect(what + " size", s.stamp.size, bytes);
    expect(what + " mtime (ns; the file now vs when the cache was written)", s.stamp.mtime_ns,
           mtime);
  }
  const QuantLayout& layout = *key.layout;
  expect("matrices", layout.slots.size(), size_t{n_matrices});
  std::vector<uint64_t> sums;
  for (const QuantSlot& s : layout.slots) {
    const std::string what = "matrix '" + s.name + "'";
    const auto type = r.get<uint32_t>("a matrix's type");
    const auto rows = r.get<uint32_t>("a matrix's rows");
    const auto cols = r.get<uint32_t>("a matrix's cols");
    const auto len = r.get<uint32_t>("a matrix's name length");
    const auto offset = r.get<uint64_t>("a matrix's offset");
    const auto bytes = r.get<uint64_t>("a matrix's bytes");
    sums.push_back(r.get<uint64_t>("a matrix's checksum"));
    expect("matrix name", s.name, r.name(len, "the name of " + what));
    expect(what + " type", std::string(dtype_name(s.type)), type_str(type));
    expect(what + " rows", static_cast<uint32_t>(s.matrix->rows), rows);
    expect(what + " cols", static_cast<uint32_t>(s.matrix->cols), cols);
    expect(what + " offset", uint64_t{s.offset}, offset);
    expect(what + " bytes", uint64_t{s.bytes}, bytes);
  }
  expect("header bytes", header_bytes - 8, uint64_t{r.pos()});
  expect("data section bytes", uint64_t{layout.bytes}, file_bytes - data_offset);

  const uint8_t* data = file.data() + data_offset;
  io::prefetch_mapped_pages(data, layout.bytes);
  const std::vector<uint64_t> found = io::checksums(matrix_ranges(layout, data), threads);
  for (size_t i = 0; i < found.size(); ++i) {
    expect("matrix '" + layout.slots[i].name + "' checksum (damaged bytes)", hex(sums[i]),
           hex(found[i]));
  }
  return data;
}

}  // namespace

QuantCacheKey quant_cache_key(const fs::path& dir, const std::vector<fs::path>& sources,
                              const QuantLayout& layout) {
  QuantCacheKey key;
  key.code = layout.choice.code();
  // A GGUF file's config is its metadata, inside the file the stamps below cover.
  const std::string config = fs::is_regular_file(dir) ? "" : io::read_file(dir / "config.json");
  key.config_hash = io::hash64(config.data(), config.size());
  for (const fs::path& p : sources)
    key.sources.push_back({p.filename().string(), io::file_stamp(p)});
  key.layout = &layout;
  return key;
}

std::optional<QuantCacheFile> open_quant_cache(const fs::path& path, const QuantCacheKey& key,
                                               int threads, std::string& why) {
  try {
    io::MappedFile file(path);
    const uint8_t* data = check(file, key, threads);
    return QuantCacheFile{std::move(file), data};
  } catch (const Error& e) {
    why = path.string() + ": " + e.what();
    return std::nullopt;
  }
}

uint64_t write_quant_cache(const fs::path& path, const QuantCacheKey& key, const uint8_t* data,
                           int threads) {
  const QuantLayout& layout = *key.layout;
  const std::vector<uint64_t> sums = io::checksums(matrix_ranges(layout, data), threads);
  HeaderWriter h;
  h.bytes().append(kMagic, sizeof kMagic);
  h.put(kQuantCacheFormat);
  h.put(quant::kQuantizerVersion);
  h.put(layout.choice.code());
  h.put(static_cast<uint32_t>(key.sources.size()));
  h.put(static_cast<uint32_t>(layout.slots.size()));
  h.put(uint32_t{0});
  h.put(key.config_hash);
  h.put(uint64_t{0});  // header_bytes, data_offset, file_bytes: set below
  h.put(uint64_t{0});
  h.put(uint64_t{0});
  for (const QuantCacheKey::Source& s : key.sources) {
    h.put(s.stamp.size);
    h.put(s.stamp.mtime_ns);
    h.put(static_cast<uint32_t>(s.name.size()));
    h.put(uint32_t{0});
    h.name(s.name);
  }
  for (size_t i = 0; i < layout.slots.size(); ++i) {
    const QuantSlot& s = layout.slots[i];
    h.put(type_code(s.type));
    h.put(static_cast<uint32_t>(s.matrix->rows));
    h.put(static_cast<uint32_t>(s.matrix->cols));
    h.put(static_cast<uint32_t>(s.name.size()));
    h.put(uint64_t{s.offset});
    h.put(uint64_t{s.bytes});
    h.put(sums[i]);
    h.name(s.name);
  }
  const uint64_t header_bytes = h.bytes().size() + 8;
  const uint64_t data_offset = round_up(header_bytes, kDataAlign);
  const uint64_t file_bytes = data_offset + layout.bytes;
  h.set(40, header_bytes);
  h.set(48, data_offset);
  h.set(56, file_bytes);
  h.put(io::hash64(h.bytes().data(), h.bytes().size()));

  io::AtomicFileWriter out(path);
  out.write(h.bytes().data(), h.bytes().size());
  out.pad_to(data_offset);
  out.write(data, layout.bytes);
  if (out.written() != file_bytes) {  // a bug, not the disk: refuse to leave a wrong file
    throw Error("wrote " + std::to_string(out.written()) + " bytes to " + path.string() +
                ", expected " + std::to_string(file_bytes));
  }
  out.commit();
  return file_bytes;
}

}  // namespace loom::model
