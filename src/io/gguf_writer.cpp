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
  tensors_.push_back({std::move(name), type, std::move(ne), data, nbytes});
}

void GgufWriter::write(const std::filesystem::path& path, uint32_t alignment) const {
  const std::string where = "cannot write " + path.string() + ": ";
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    throw Error(where + "alignment " + std::to_string(alignment) + " is not a power of two");
  }
  std::unordered_set<std::string_view> keys;
  bool has_alignment_key = false;
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
      has_alignment_key = true;
    }
  }
  std::unordered_set<std::string_view> names;
  for (const Pending& t : tensors_) {
    if (!names.insert(t.name).second) throw Error(where + "tensor '" + t.name + "' added twice");
  }
  const bool add_alignment_key = alignment != 32 && !has_alignment_key;

  std::string head;
  head.append("GGUF", 4);
  put<uint32_t>(head, 3);
  put<uint64_t>(head, tensors_.size());
  put<uint64_t>(head, meta_.size() + (add_alignment_key ? 1 : 0));
  for (const Entry& e : meta_) {
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
  for (const Pending& t : tensors_) {
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
  for (const Pending& t : tensors_) {
    out.write(t.data, t.nbytes);
    out.pad_to(padded(out.written()));
  }
  out.commit();
}

}  // namespace loom::io
