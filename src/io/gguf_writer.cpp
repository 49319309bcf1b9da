// GgufWriter, declared in io/gguf.h beside the reader.
#include "io/gguf.h"

#include <cstring>
#include <string_view>
#include <unordered_set>

#include "io/files.h"
#include "loom/error.h"

namespace loom::io {

namespace {

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof v);  // little-endian, as GGUF is
  out.append(b, sizeof b);
}

void put_string(std::string& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  out.append(s);
}

template <class T>
std::string array_bytes(GgufType elem, const std::vector<T>& values) {
  std::string out;
  put<uint32_t>(out, static_cast<uint32_t>(elem));
  put<uint64_t>(out, values.size());
  for (const T& v : values) put<T>(out, v);
  return out;
}

std::string shape_str(const std::vector<int64_t>& ne) {
  std::string s;
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? " x " : "") + std::to_string(ne[i]);
  return s;
}

constexpr const char* kAlignmentKey = "general.alignment";

}  // namespace

void GgufWriter::set_string(std::string key, std::string value) {
  std::string b;
  put_string(b, value);
  meta_.push_back({std::move(key), GgufType::String, std::move(b)});
}

void GgufWriter::set_u32(std::string key, uint32_t value) {
  std::string b;
  put(b, value);
  meta_.push_back({std::move(key), GgufType::U32, std::move(b)});
}

void GgufWriter::set_i32(std::string key, int32_t value) {
  std::string b;
  put(b, value);
  meta_.push_back({std::move(key), GgufType::I32, std::move(b)});
}

void GgufWriter::set_u64(std::string key, uint64_t value) {
  std::string b;
  put(b, value);
  meta_.push_back({std::move(key), GgufType::U64, std::move(b)});
}

void GgufWriter::set_f32(std::string key, float value) {
  std::string b;
  put(b, value);
  meta_.push_back({std::move(key), GgufType::F32, std::move(b)});
}

void GgufWriter::set_bool(std::string key, bool value) {
  std::string b;
  put<uint8_t>(b, value ? 1 : 0);
  meta_.push_back({std::move(key), GgufType::Bool, std::move(b)});
}

void GgufWriter::set_string_array(std::string key, const std::vector<std::string>& values) {
  std::string b;
  put<uint32_t>(b, static_cast<uint32_t>(GgufType::String));
  put<uint64_t>(b, values.size());
  for (const std::string& v : values) put_string(b, v);
  meta_.push_back({std::move(key), GgufType::Array, std::move(b)});
}

void GgufWriter::set_f32_array(std::string key, const std::vector<float>& values) {
  meta_.push_back({std::move(key), GgufType::Array, array_bytes(GgufType::F32, values)});
}

void GgufWriter::set_i32_array(std::string key, const std::vector<int32_t>& values) {
  meta_.push_back({std::move(key), GgufType::Array, array_bytes(GgufType::I32, values)});
}

void GgufWriter::add_tensor(std::string name, GgmlType type, std::vector<int64_t> ne, size_t nbytes,
                            Fill fill) {
  add_tensor(std::move(name), type, std::move(ne), nullptr, nbytes);
  tensors_.back().fill = std::move(fill);
}

void GgufWriter::add_tensor(std::string name, GgmlType type, std::vector<int64_t> ne,
                            const void* data, size_t nbytes) {
  // What the reader would refuse, refused here, where the caller's mistake is still visible.
  const GgmlTraits* tr = ggml_traits(static_cast<uint32_t>(type));
  const std::string what = "GgufWriter: tensor '" + name + "'";
  if (!tr) {
    throw Error(what + " has type " + std::to_string(static_cast<uint32_t>(type)) +
                ", which loom does not know");
  }
  if (ne.empty() || ne.size() > 4) {
    throw Error(what + " has " + std::to_string(ne.size()) + " dimensions; GGUF allows 1 to 4");
  }
  const std::string desc = what + " (" + tr->name + ", " + shape_str(ne) + ")";
  for (int64_t n : ne) {
    if (n < 0) throw Error(desc + " has a negative dimension");
  }
  if (ne[0] % tr->elements != 0) {
    throw Error(desc + " has rows of " + std::to_string(ne[0]) + " elements, not a multiple of " +
                tr->name + "'s block of " + std::to_string(tr->elements));
  }
  uint64_t need = static_cast<uint64_t>(ne[0] / tr->elements);
  bool overflow = __builtin_mul_overflow(need, static_cast<uint64_t>(tr->bytes), &need);
  for (size_t d = 1; d < ne.size(); ++d) {
    overflow = overflow || __builtin_mul_overflow(need, static_cast<uint64_t>(ne[d]), &need);
  }
  if (overflow) throw Error(desc + " is too large: its byte count overflows 64 bits");
  if (need != nbytes) {
    throw Error(desc + " needs " + std::to_string(need) + " bytes, was given " +
                std::to_string(nbytes));
  }
  tensors_.push_back({std::move(name), type, std::move(ne), data, nbytes, nullptr});
}

void GgufWriter::check(const std::filesystem::path& path, uint32_t alignment) const {
  const std::string where = "cannot write " + path.string() + ": ";
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    throw Error(where + "alignment " + std::to_string(alignment) + " is not a power of two");
  }
  std::unordered_set<std::string_view> keys;
  for (const Entry& e : meta_) {
    if (!keys.insert(e.key).second) throw Error(where + "metadata key '" + e.key + "' set twice");
    if (e.key == kAlignmentKey) {
      // A general.alignment set by hand must say what the file does, or readers misplace data.
      uint32_t set = 0;
      if (e.type == GgufType::U32) std::memcpy(&set, e.bytes.data(), sizeof set);
      if (e.type != GgufType::U32 || set != alignment) {
        throw Error(where + "metadata key 'general.alignment' is set, but not to the u32 " +
                    std::to_string(alignment) + " the file is written with");
      }
    }
  }
  std::unordered_set<std::string_view> names;
  for (const Pending& t : tensors_) {
    if (!names.insert(t.name).second) throw Error(where + "tensor '" + t.name + "' added twice");
  }
}

void GgufWriter::write(const std::filesystem::path& path, uint32_t alignment) const {
  check(path, alignment);
  write_file(path, alignment, meta_, 0, tensors_.size());
}

std::vector<std::filesystem::path> GgufWriter::write_split(const std::string& prefix,
                                                           uint64_t max_bytes,
                                                           uint32_t alignment) const {
  check(prefix, alignment);
  const auto padded = [&](uint64_t n) { return (n + alignment - 1) / alignment * alignment; };
  std::vector<size_t> starts{0};
  uint64_t bytes = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const uint64_t n = padded(tensors_[i].nbytes);
    if (i > starts.back() && bytes + n > max_bytes) {
      starts.push_back(i);
      bytes = 0;
    }
    bytes += n;
  }
  const size_t count = starts.size();
  if (count > 99999) {
    throw Error("cannot write " + prefix + ": " + std::to_string(count) +
                " shards, more than the 99999 their names can number");
  }
  std::vector<std::filesystem::path> paths;
  for (size_t k = 0; k < count; ++k) {
    paths.push_back(gguf_shard_path(prefix, static_cast<int>(k + 1), static_cast<int>(count)));
  }
  try {
    for (size_t k = 0; k < count; ++k) {
      GgufWriter shard;
      if (k == 0) shard.meta_ = meta_;
      // llama.cpp's keys and types (LLM_KV_SPLIT_*): u16, u16, i32.
      const auto u16 = [](uint16_t v) { return std::string(reinterpret_cast<const char*>(&v), 2); };
      const auto total = static_cast<int32_t>(tensors_.size());
      shard.meta_.push_back({"split.no", GgufType::U16, u16(static_cast<uint16_t>(k))});
      shard.meta_.push_back({"split.count", GgufType::U16, u16(static_cast<uint16_t>(count))});
      shard.meta_.push_back({"split.tensors.count", GgufType::I32,
                             std::string(reinterpret_cast<const char*>(&total), 4)});
      write_file(paths[k], alignment, shard.meta_, starts[k],
                 k + 1 < count ? starts[k + 1] : tensors_.size());
    }
  } catch (...) {
    std::error_code ec;
    for (const auto& p : paths) std::filesystem::remove(p, ec);
    throw;
  }
  return paths;
}

void GgufWriter::write_file(const std::filesystem::path& path, uint32_t alignment,
                            const std::vector<Entry>& meta, size_t begin, size_t end) const {
  bool has_alignment_key = false;
  for (const Entry& e : meta) has_alignment_key = has_alignment_key || e.key == kAlignmentKey;
  const bool add_alignment_key = alignment != 32 && !has_alignment_key;

  std::string head;
  head.append("GGUF", 4);
  put<uint32_t>(head, 3);
  put<uint64_t>(head, end - begin);
  put<uint64_t>(head, meta.size() + (add_alignment_key ? 1 : 0));
  for (const Entry& e : meta) {
    put_string(head, e.key);
    put<uint32_t>(head, static_cast<uint32_t>(e.type));
    head += e.bytes;
  }
  if (add_alignment_key) {
    put_string(head, kAlignmentKey);
    put<uint32_t>(head, static_cast<uint32_t>(GgufType::U32));
    put<uint32_t>(head, alignment);
  }
  // Offsets from the data section's start; each tensor's bytes are padded to the alignment, as
  // ggml pads them (the last one too), so every offset is a multiple of it.
  const auto padded = [&](uint64_t n) { return (n + alignment - 1) / alignment * alignment; };
  uint64_t offset = 0;
  for (size_t i = begin; i < end; ++i) {
    const Pending& t = tensors_[i];
    put_string(head, t.name);
    put<uint32_t>(head, static_cast<uint32_t>(t.ne.size()));
    for (int64_t n : t.ne) put<int64_t>(head, n);
    put<uint32_t>(head, static_cast<uint32_t>(t.type));
    put<uint64_t>(head, offset);
    offset += padded(t.nbytes);
  }

  AtomicFileWriter out(path);
  out.write(head.data(), head.size());
  out.pad_to(padded(out.written()));
  std::vector<uint8_t> made;  // the bytes of a tensor with a Fill, one at a time
  for (size_t i = begin; i < end; ++i) {
    const Pending& t = tensors_[i];
    const void* data = t.data;
    if (t.fill) {
      made.resize(t.nbytes);
      t.fill(made.data());
      data = made.data();
    }
    out.write(data, t.nbytes);
    out.pad_to(padded(out.written()));
  }
  out.commit();
}

}  // namespace loom::io
