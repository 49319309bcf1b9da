#include "io/gguf.h"

#include <cstdio>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>

#include "loom/error.h"
#include "quant/ggml_blocks.h"

namespace loom::io {

namespace {

namespace g = quant::ggml;

// Byte counts and offsets are checked in 64 bits and then used as size_t.
static_assert(sizeof(size_t) == sizeof(uint64_t));

// ggml's block sizes (ggml.c's type_traits): the struct layouts must give exactly these bytes,
// or every offset computed from them is wrong.
static_assert(sizeof(g::block_q4_0) == 18);
static_assert(sizeof(g::block_q4_1) == 20);
static_assert(sizeof(g::block_q5_0) == 22);
static_assert(sizeof(g::block_q5_1) == 24);
static_assert(sizeof(g::block_q8_0) == 34);
static_assert(sizeof(g::block_q8_1) == 36);
static_assert(sizeof(g::block_q2_K) == 84);
static_assert(sizeof(g::block_q3_K) == 110);
static_assert(sizeof(g::block_q4_K) == 144);
static_assert(sizeof(g::block_q5_K) == 176);
static_assert(sizeof(g::block_q6_K) == 210);
static_assert(sizeof(g::block_q8_K) == 292);

constexpr int bytes_of(size_t n) {
  return static_cast<int>(n);
}

constexpr GgmlTraits kTraits[] = {
    {GgmlType::F32, "F32", 1, 4},
    {GgmlType::F16, "F16", 1, 2},
    {GgmlType::Q4_0, "Q4_0", g::QK, bytes_of(sizeof(g::block_q4_0))},
    {GgmlType::Q4_1, "Q4_1", g::QK, bytes_of(sizeof(g::block_q4_1))},
    {GgmlType::Q5_0, "Q5_0", g::QK, bytes_of(sizeof(g::block_q5_0))},
    {GgmlType::Q5_1, "Q5_1", g::QK, bytes_of(sizeof(g::block_q5_1))},
    {GgmlType::Q8_0, "Q8_0", g::QK, bytes_of(sizeof(g::block_q8_0))},
    {GgmlType::Q8_1, "Q8_1", g::QK, bytes_of(sizeof(g::block_q8_1))},
    {GgmlType::Q2_K, "Q2_K", g::QK_K, bytes_of(sizeof(g::block_q2_K))},
    {GgmlType::Q3_K, "Q3_K", g::QK_K, bytes_of(sizeof(g::block_q3_K))},
    {GgmlType::Q4_K, "Q4_K", g::QK_K, bytes_of(sizeof(g::block_q4_K))},
    {GgmlType::Q5_K, "Q5_K", g::QK_K, bytes_of(sizeof(g::block_q5_K))},
    {GgmlType::Q6_K, "Q6_K", g::QK_K, bytes_of(sizeof(g::block_q6_K))},
    {GgmlType::Q8_K, "Q8_K", g::QK_K, bytes_of(sizeof(g::block_q8_K))},
    {GgmlType::I8, "I8", 1, 1},
    {GgmlType::I16, "I16", 1, 2},
    {GgmlType::I32, "I32", 1, 4},
    {GgmlType::I64, "I64", 1, 8},
    {GgmlType::F64, "F64", 1, 8},
    {GgmlType::BF16, "BF16", 1, 2},
};

constexpr const GgmlTraits* find_traits(uint32_t t) {
  for (const GgmlTraits& tr : kTraits) {
    if (static_cast<uint32_t>(tr.type) == t) return &tr;
  }
  return nullptr;
}

// Every GgmlType enumerator has its row, once (20 enumerators, 20 rows).
static_assert(std::size(kTraits) == 20);
constexpr bool known(GgmlType t) {
  return find_traits(static_cast<uint32_t>(t)) != nullptr;
}
static_assert(known(GgmlType::F32) && known(GgmlType::F16) && known(GgmlType::Q4_0) &&
              known(GgmlType::Q4_1) && known(GgmlType::Q5_0) && known(GgmlType::Q5_1) &&
              known(GgmlType::Q8_0) && known(GgmlType::Q8_1) && known(GgmlType::Q2_K) &&
              known(GgmlType::Q3_K) && known(GgmlType::Q4_K) && known(GgmlType::Q5_K) &&
              known(GgmlType::Q6_K) && known(GgmlType::Q8_K) && known(GgmlType::I8) &&
              known(GgmlType::I16) && known(GgmlType::I32) && known(GgmlType::I64) &&
              known(GgmlType::F64) && known(GgmlType::BF16));

// The fewest bytes one metadata entry (an empty key, the type, a one-byte value) and one tensor
// info (an empty name, one dimension, the type, the offset) take: a count times these must fit in
// the bytes left, which refuses a count like 2^62 before anything loops or allocates.
constexpr uint64_t kMinEntryBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;
constexpr uint32_t kMaxDims = 4;  // ggml's GGML_MAX_DIMS

// Bytes of one value of a fixed-size metadata type; 0 for strings, arrays and unknown numbers.
size_t fixed_size(GgufType t) {
  switch (t) {
    case GgufType::U8:
    case GgufType::I8:
    case GgufType::Bool:
      return 1;
    case GgufType::U16:
    case GgufType::I16:
      return 2;
    case GgufType::U32:
    case GgufType::I32:
    case GgufType::F32:
      return 4;
    case GgufType::U64:
    case GgufType::I64:
    case GgufType::F64:
      return 8;
    case GgufType::String:
    case GgufType::Array:
      return 0;
  }
  return 0;
}

bool known_type(uint32_t t) {
  return t <= static_cast<uint32_t>(GgufType::F64);
}

bool is_integer(GgufType t) {
  switch (t) {
    case GgufType::U8:
    case GgufType::I8:
    case GgufType::U16:
    case GgufType::I16:
    case GgufType::U32:
    case GgufType::I32:
    case GgufType::U64:
    case GgufType::I64:
      return true;
    default:
      return false;
  }
}

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);  // little-endian, as is every machine loom runs on
  return v;
}

// The integer of type T at P, as its 64-bit two's complement bits; NEGATIVE says whether it is
// below zero (only a signed type can be).
uint64_t load_integer(GgufType t, const uint8_t* p, bool& negative) {
  int64_t s = 0;
  negative = false;
  switch (t) {
    case GgufType::U8:
      return load<uint8_t>(p);
    case GgufType::U16:
      return load<uint16_t>(p);
    case GgufType::U32:
      return load<uint32_t>(p);
    case GgufType::U64:
      return load<uint64_t>(p);
    case GgufType::I8:
      s = load<int8_t>(p);
      break;
    case GgufType::I16:
      s = load<int16_t>(p);
      break;
    case GgufType::I32:
      s = load<int32_t>(p);
      break;
    case GgufType::I64:
      s = load<int64_t>(p);
      break;
    default:
      return 0;
  }
  negative = s < 0;
  return static_cast<uint64_t>(s);
}

double load_float(GgufType t, const uint8_t* p) {
  return t == GgufType::F32 ? load<float>(p) : load<double>(p);
}

// "a string", "an array of u32": how an error names what a value is.
std::string describe(GgufType t, GgufType elem) {
  auto with_article = [](const char* name) {
    // u8..u64 read "you", so only these take "an": array, i8.., f32/f64 ("eff").
    const bool an = name[0] == 'a' || name[0] == 'i' || name[0] == 'f';
    return std::string(an ? "an " : "a ") + name;
  };
  if (t == GgufType::Array) return std::string("an array of ") + gguf_type_name(elem);
  return with_article(gguf_type_name(t));
}

// Whether S is well-formed UTF-8: no overlong forms, surrogates or code points past U+10FFFF.
bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const unsigned c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n = 0;
    uint32_t cp = 0, min = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (end - p <= n) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    p += n + 1;
  }
  return true;
}

// S for an error message on one line: control bytes (and with ASCII_ONLY, bytes past 0x7E) as
// \xNN. Keys are UTF-8 but may hold a newline; tensor names need not be UTF-8 at all.
std::string printable(std::string_view s, bool ascii_only = false) {
  std::string out;
  for (const char ch : s) {
    const auto b = static_cast<unsigned char>(ch);
    if (b < 0x20 || b == 0x7F || (ascii_only && b > 0x7F)) {
      out += "\\x";
      out += "0123456789abcdef"[b >> 4];
      out += "0123456789abcdef"[b & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

std::string shape_str(const std::vector<int64_t>& ne) {
  std::string s;
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? " x " : "") + std::to_string(ne[i]);
  return s;
}

// A read position in the mapped file. Every read goes through need(), which throws naming the
// file, what is being read (CONTEXT: the entry or tensor, set as each begins; WHAT: the field)
// and the byte offset when it would run past the end.
class Cursor {
 public:
  explicit Cursor(const MappedFile& f) : p_(f.data()), size_(f.size()), file_(f.path().string()) {}

  size_t pos() const { return pos_; }
  size_t left() const { return size_ - pos_; }
  const uint8_t* at(size_t pos) const { return p_ + pos; }
  const std::string& file() const { return file_; }

  std::string context;

  [[noreturn]] void fail(const std::string& msg) const { throw Error(file_ + ": " + msg); }

  void need(uint64_t n, const char* what) const {
    if (n > left()) {
      fail(context + ": " + what + " at byte " + std::to_string(pos_) +
           " runs past the end of the file (needs " + std::to_string(n) + " bytes, " +
           std::to_string(left()) + " remain)");
    }
  }

  template <class T>
  T read(const char* what) {
    need(sizeof(T), what);
    const T v = load<T>(p_ + pos_);
    pos_ += sizeof(T);
    return v;
  }

  void skip(uint64_t n, const char* what) {
    need(n, what);
    pos_ += n;
  }

  // A GGUF string: a uint64 length, then that many bytes (no NUL).
  std::string_view read_string(const char* what) {
    const uint64_t n = read<uint64_t>(what);
    if (n > left()) {
      fail(context + ": " + what + " of " + std::to_string(n) + " bytes at byte " +
           std::to_string(pos_) + " runs past the end of the file (" + std::to_string(left()) +
           " bytes remain)");
    }
    const std::string_view s(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  const uint8_t* p_;
  size_t size_;
  size_t pos_ = 0;
  std::string file_;
};

// Reads a metadata value type at the cursor, refusing numbers GGUF does not define.
GgufType read_type(Cursor& c, const char* what) {
  const size_t at = c.pos();
  const uint32_t t = c.read<uint32_t>(what);
  if (!known_type(t)) {
    c.fail(c.context + " has " + what + " " + std::to_string(t) + " at byte " + std::to_string(at) +
           ", which GGUF does not define");
  }
  return static_cast<GgufType>(t);
}

}  // namespace

const char* gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::U8:
      return "u8";
    case GgufType::I8:
      return "i8";
    case GgufType::U16:
      return "u16";
    case GgufType::I16:
      return "i16";
    case GgufType::U32:
      return "u32";
    case GgufType::I32:
      return "i32";
    case GgufType::F32:
      return "f32";
    case GgufType::Bool:
      return "bool";
    case GgufType::String:
      return "string";
    case GgufType::Array:
      return "array";
    case GgufType::U64:
      return "u64";
    case GgufType::I64:
      return "i64";
    case GgufType::F64:
      return "f64";
  }
  return "?";
}

const GgmlTraits* ggml_traits(uint32_t t) {
  return find_traits(t);
}

GgufFile GgufFile::open(const std::filesystem::path& path) {
  GgufFile f = parse(path);
  f.open_shards();
  return f;
}

std::filesystem::path gguf_shard_path(const std::string& prefix, int no, int count) {
  char tail[64];
  std::snprintf(tail, sizeof tail, "-%05d-of-%05d.gguf", no, count);
  return prefix + tail;
}

void GgufFile::open_shards() {
  const std::optional<uint64_t> count = find_uint("split.count");
  if (!count || *count <= 1) return;
  const std::string where = path().string() + ": ";
  const uint64_t no = find_uint("split.no").value_or(0);
  if (*count > 99999 || no >= *count) {
    throw Error(where + "split.no " + std::to_string(no) + " of split.count " +
                std::to_string(*count) + " is not a shard of the model");
  }
  const int n = static_cast<int>(*count);
  // The prefix: the path less its -0000I-of-0000N.gguf, as llama.cpp derives it.
  const std::string p = path().string();
  const std::string own = gguf_shard_path("", static_cast<int>(no) + 1, n).string();
  if (p.size() <= own.size() || p.compare(p.size() - own.size(), own.size(), own) != 0) {
    throw Error(where + "shard " + std::to_string(no + 1) + " of " + std::to_string(n) +
                " of a split model, but its name does not end in '" + own +
                "', from which the other shards' names are made");
  }
  const std::string prefix = p.substr(0, p.size() - own.size());
  if (no != 0) {
    throw Error(where + "shard " + std::to_string(no + 1) + " of " + std::to_string(n) +
                " of a split model: open its first shard, " +
                gguf_shard_path(prefix, 1, n).string());
  }
  for (int i = 1; i < n; ++i) {
    const std::filesystem::path sp = gguf_shard_path(prefix, i + 1, n);
    if (!std::filesystem::exists(sp)) {
      throw Error(where + "shard " + std::to_string(i + 1) + " of " + std::to_string(n) +
                  " of this split model is missing: " + sp.string());
    }
    auto shard = std::make_unique<GgufFile>(parse(sp));
    const std::string at = sp.string() + ": ";
    if (shard->find_uint("split.count") != count) {
      throw Error(at + "split.count is not " + std::to_string(n) + ", the first shard's");
    }
    if (shard->find_uint("split.no") != static_cast<uint64_t>(i)) {
      throw Error(at + "split.no is not " + std::to_string(i) + " (shard " + std::to_string(i + 1) +
                  " of " + std::to_string(n) + ")");
    }
    for (Tensor& t : shard->tensors_) {
      if (tensor_index_.count(t.name)) {
        throw Error(at + "tensor '" + printable(t.name) + "' is also in shard " +
                    shard_path(tensors_[tensor_index_.at(t.name)].shard).string());
      }
      tensor_index_.emplace(t.name, tensors_.size());
      Tensor copy = t;
      copy.shard = static_cast<size_t>(i);
      tensors_.push_back(std::move(copy));
    }
    shards_.push_back(std::move(shard));
  }
  if (const std::optional<uint64_t> total = find_uint("split.tensors.count");
      total && *total != tensors_.size()) {
    throw Error(where + "split.tensors.count is " + std::to_string(*total) + ", but the " +
                std::to_string(n) + " shards hold " + std::to_string(tensors_.size()) + " tensors");
  }
}

GgufFile GgufFile::parse(const std::filesystem::path& path) {
  GgufFile f{MappedFile(path)};
  Cursor c(f.file_);

  c.context = "the header";
  if (f.file_.size() < 4) c.need(4, "the magic");
  if (std::memcmp(c.at(0), "GGUF", 4) != 0) {
    const std::string_view magic(reinterpret_cast<const char*>(c.at(0)), 4);
    c.fail("not a GGUF file (its first bytes are '" + printable(magic, true) + "', not 'GGUF')");
  }
  c.skip(4, "the magic");
  f.version_ = c.read<uint32_t>("the version");
  if (f.version_ == 1) {
    c.fail(
        "GGUF version 1 (32-bit counts) is not supported; convert the model again with a "
        "current llama.cpp");
  }
  if (f.version_ != 2 && f.version_ != 3) {
    // A big-endian file (llama.cpp writes them for s390x) reads as 2 or 3 byte-swapped.
    const bool swapped = f.version_ == 0x02000000 || f.version_ == 0x03000000;
    c.fail("GGUF version " + std::to_string(f.version_) + " is not supported (loom reads 2 and 3)" +
           (swapped ? "; the file is big-endian, which loom does not read" : ""));
  }
  const uint64_t n_tensors = c.read<uint64_t>("the tensor count");
  const uint64_t n_meta = c.read<uint64_t>("the metadata count");
  // A count against the bytes that must hold it, before anything loops over it. (The tensor
  // count is checked after the metadata, so that a file cut inside the metadata is reported
  // where it ends.)
  if (n_meta > c.left() / kMinEntryBytes) {
    c.fail("the header claims " + std::to_string(n_meta) + " metadata entries, but only " +
           std::to_string(c.left()) + " bytes follow it (an entry takes at least " +
           std::to_string(kMinEntryBytes) + "): the file is truncated or damaged");
  }

  for (uint64_t i = 0; i < n_meta; ++i) {
    c.context = "metadata entry " + std::to_string(i);
    const size_t key_at = c.pos();
    const std::string_view key = c.read_string("the key");
    if (!valid_utf8(key)) {
      c.fail(c.context + ": the key at byte " + std::to_string(key_at) + " is not valid UTF-8");
    }
    c.context = "metadata key '" + printable(key) + "'";
    Value v{};
    v.type = read_type(c, "value type");
    v.offset = c.pos();
    if (v.type == GgufType::String) {
      c.read_string("the string");
    } else if (v.type == GgufType::Array) {
      v.elem_type = read_type(c, "array element type");
      v.count = c.read<uint64_t>("the array length");
      if (v.elem_type == GgufType::Array) {
        c.fail(c.context + " is an array of arrays, which loom does not read");
      } else if (v.elem_type == GgufType::String) {
        // Each string takes at least its 8-byte length.
        if (v.count > c.left() / 8) {
          c.fail(c.context + ": an array of " + std::to_string(v.count) + " strings at byte " +
                 std::to_string(c.pos()) + " runs past the end of the file (" +
                 std::to_string(c.left()) + " bytes remain)");
        }
        for (uint64_t j = 0; j < v.count; ++j) c.read_string("an array's string");
      } else {
        const size_t size = fixed_size(v.elem_type);
        if (v.count > c.left() / size) {
          c.fail(c.context + ": an array of " + std::to_string(v.count) + " " +
                 gguf_type_name(v.elem_type) + " at byte " + std::to_string(c.pos()) +
                 " runs past the end of the file (" + std::to_string(c.left()) + " bytes remain)");
        }
        c.skip(v.count * size, "the array");
      }
    } else {
      c.skip(fixed_size(v.type), "the value");
    }
    if (!f.meta_index_.emplace(std::string(key), f.meta_.size()).second) {
      c.fail(c.context + " appears twice (entries " +
             std::to_string(f.meta_index_.at(std::string(key))) + " and " + std::to_string(i) +
             ")");
    }
    f.meta_.emplace_back(std::string(key), v);
  }

  // general.alignment is a u32 (ggml refuses any other type too) and a power of two.
  if (auto it = f.meta_index_.find("general.alignment"); it != f.meta_index_.end()) {
    const Value& v = f.meta_[it->second].second;
    if (v.type != GgufType::U32) {
      c.fail("metadata key 'general.alignment' is " + describe(v.type, v.elem_type) +
             ", expected a u32");
    }
    const uint32_t a = load<uint32_t>(c.at(v.offset));
    if (a == 0 || (a & (a - 1)) != 0) {
      c.fail("metadata key 'general.alignment' is " + std::to_string(a) + ", not a power of two");
    }
    f.alignment_ = a;
  }

  if (n_tensors > c.left() / kMinTensorInfoBytes) {
    c.fail("the header claims " + std::to_string(n_tensors) + " tensors, but only " +
           std::to_string(c.left()) + " bytes follow the metadata (a tensor info takes at least " +
           std::to_string(kMinTensorInfoBytes) + "): the file is truncated or damaged");
  }
  std::vector<uint64_t> offsets;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    c.context = "tensor info " + std::to_string(i);
    const std::string_view name = c.read_string("the name");
    Tensor t;
    t.name = std::string(name);
    c.context = "tensor '" + printable(t.name) + "'";
    const size_t dims_at = c.pos();
    const uint32_t n_dims = c.read<uint32_t>("the dimension count");
    if (n_dims == 0 || n_dims > kMaxDims) {
      c.fail(c.context + " has " + std::to_string(n_dims) + " dimensions (at byte " +
             std::to_string(dims_at) + "); GGUF allows 1 to 4");
    }
    for (uint32_t d = 0; d < n_dims; ++d) {
      const int64_t n = c.read<int64_t>("the dimensions");
      if (n < 0) {
        c.fail(c.context + " has dimension " + std::to_string(d) + " of " + std::to_string(n) +
               " (at byte " + std::to_string(c.pos() - 8) + ")");
      }
      t.ne.push_back(n);
    }
    const size_t type_at = c.pos();
    const uint32_t type = c.read<uint32_t>("the type");
    const GgmlTraits* tr = ggml_traits(type);
    if (!tr) {
      c.fail(c.context + " has type " + std::to_string(type) + " (at byte " +
             std::to_string(type_at) + "), which loom does not know");
    }
    t.type = tr->type;
    offsets.push_back(c.read<uint64_t>("the offset"));

    const std::string desc = c.context + " (" + tr->name + ", " + shape_str(t.ne) + ")";
    if (t.ne[0] % tr->elements != 0) {
      c.fail(desc + " has rows of " + std::to_string(t.ne[0]) + " elements, not a multiple of " +
             tr->name + "'s block of " + std::to_string(tr->elements));
    }
    // (ne[0] / block) * block bytes * ne[1] * ne[2] * ne[3], in 64 bits with every step checked.
    uint64_t nbytes = static_cast<uint64_t>(t.ne[0] / tr->elements);
    bool overflow = __builtin_mul_overflow(nbytes, static_cast<uint64_t>(tr->bytes), &nbytes);
    for (size_t d = 1; d < t.ne.size(); ++d) {
      overflow =
          overflow || __builtin_mul_overflow(nbytes, static_cast<uint64_t>(t.ne[d]), &nbytes);
    }
    if (overflow) {
      c.fail(desc + " is too large: its byte count overflows 64 bits");
    }
    t.nbytes = static_cast<size_t>(nbytes);
    if (!f.tensor_index_.emplace(t.name, f.tensors_.size()).second) {
      c.fail(c.context + " appears twice (tensors " + std::to_string(f.tensor_index_.at(t.name)) +
             " and " + std::to_string(i) + ")");
    }
    f.tensors_.push_back(std::move(t));
  }

  // The data section starts at the first multiple of the alignment after the infos (a file
  // without tensors need not have the padding).
  const uint64_t a = f.alignment_;
  const uint64_t data_start = (c.pos() + a - 1) / a * a;  // pos < 2^63, a <= 2^31: no overflow
  const uint64_t size = f.file_.size();
  if (!f.tensors_.empty() && data_start > size) {
    c.fail("the data section would start at byte " + std::to_string(data_start) +
           ", past the end of the file (" + std::to_string(size) + " bytes)");
  }
  for (size_t i = 0; i < f.tensors_.size(); ++i) {
    Tensor& t = f.tensors_[i];
    const GgmlTraits* tr = ggml_traits(static_cast<uint32_t>(t.type));
    const std::string desc =
        "tensor '" + printable(t.name) + "' (" + tr->name + ", " + shape_str(t.ne) + ")";
    if (offsets[i] % a != 0) {
      c.fail(desc + " has data offset " + std::to_string(offsets[i]) +
             ", not a multiple of the alignment " + std::to_string(a));
    }
    uint64_t end = 0;
    const bool overflow = __builtin_add_overflow(data_start, offsets[i], &end) ||
                          __builtin_add_overflow(end, t.nbytes, &end);
    if (overflow || end > size) {
      c.fail(desc + " runs past the end of the file (needs bytes up to " +
             (overflow ? std::string("past 2^64") : std::to_string(end)) + ", the file has " +
             std::to_string(size) + ")");
    }
    t.data = c.at(static_cast<size_t>(data_start + offsets[i]));
  }
  return f;
}

bool GgufFile::has(std::string_view key) const {
  return meta_index_.count(std::string(key)) != 0;
}

std::optional<GgufType> GgufFile::type_of(std::string_view key) const {
  auto it = meta_index_.find(std::string(key));
  if (it == meta_index_.end()) return std::nullopt;
  return meta_[it->second].second.type;
}

std::vector<std::string> GgufFile::keys() const {
  std::vector<std::string> out;
  out.reserve(meta_.size());
  for (const auto& [key, v] : meta_) out.push_back(key);
  return out;
}

const GgufFile::Value& GgufFile::get(std::string_view key, const char* wanted) const {
  auto it = meta_index_.find(std::string(key));
  if (it == meta_index_.end()) {
    throw Error(path().string() + ": metadata key '" + std::string(key) +
                "' is missing (expected " + wanted + ")");
  }
  return meta_[it->second].second;
}

namespace {

[[noreturn]] void wrong_type(const std::filesystem::path& path, std::string_view key, GgufType type,
                             GgufType elem, const char* wanted) {
  throw Error(path.string() + ": metadata key '" + std::string(key) + "' is " +
              describe(type, elem) + ", expected " + wanted);
}

// A string's bytes at P (its uint64 length first); bounds were checked at open.
std::string_view string_at(const uint8_t* p) {
  return {reinterpret_cast<const char*>(p + 8), static_cast<size_t>(load<uint64_t>(p))};
}

constexpr size_t kArrayHeader = 4 + 8;  // an array's element type and count, before its elements

}  // namespace

std::string GgufFile::get_string(std::string_view key) const {
  const Value& v = get(key, "a string");
  if (v.type != GgufType::String) wrong_type(path(), key, v.type, v.elem_type, "a string");
  return std::string(string_at(file_.data() + v.offset));
}

std::optional<std::string> GgufFile::find_string(std::string_view key) const {
  if (!has(key)) return std::nullopt;
  return get_string(key);
}

uint64_t GgufFile::get_uint(std::string_view key) const {
  const Value& v = get(key, "an integer");
  if (!is_integer(v.type)) wrong_type(path(), key, v.type, v.elem_type, "an integer");
  bool negative = false;
  const uint64_t x = load_integer(v.type, file_.data() + v.offset, negative);
  if (negative) {
    throw Error(path().string() + ": metadata key '" + std::string(key) + "' is " +
                std::to_string(static_cast<int64_t>(x)) + ", expected a non-negative integer");
  }
  return x;
}

std::optional<uint64_t> GgufFile::find_uint(std::string_view key) const {
  if (!has(key)) return std::nullopt;
  return get_uint(key);
}

double GgufFile::get_float(std::string_view key) const {
  const Value& v = get(key, "a float");
  if (v.type != GgufType::F32 && v.type != GgufType::F64) {
    wrong_type(path(), key, v.type, v.elem_type, "a float");
  }
  return load_float(v.type, file_.data() + v.offset);
}

std::optional<double> GgufFile::find_float(std::string_view key) const {
  if (!has(key)) return std::nullopt;
  return get_float(key);
}

std::optional<bool> GgufFile::find_bool(std::string_view key) const {
  if (!has(key)) return std::nullopt;
  const Value& v = get(key, "a bool");
  if (v.type != GgufType::Bool) wrong_type(path(), key, v.type, v.elem_type, "a bool");
  return file_.data()[v.offset] != 0;  // ggml writes 0 and 1; read any other byte as true
}

std::vector<std::string> GgufFile::get_string_array(std::string_view key) const {
  const char* wanted = "an array of strings";
  const Value& v = get(key, wanted);
  if (v.type != GgufType::Array || v.elem_type != GgufType::String) {
    wrong_type(path(), key, v.type, v.elem_type, wanted);
  }
  std::vector<std::string> out;
  out.reserve(v.count);  // open() saw each of the count strings inside the file
  const uint8_t* p = file_.data() + v.offset + kArrayHeader;
  for (uint64_t i = 0; i < v.count; ++i) {
    const std::string_view s = string_at(p);
    out.emplace_back(s);
    p += 8 + s.size();
  }
  return out;
}

std::vector<float> GgufFile::get_float_array(std::string_view key) const {
  const char* wanted = "an array of floats (f32 or f64)";
  const Value& v = get(key, wanted);
  if (v.type != GgufType::Array || (v.elem_type != GgufType::F32 && v.elem_type != GgufType::F64)) {
    wrong_type(path(), key, v.type, v.elem_type, wanted);
  }
  std::vector<float> out(v.count);
  const uint8_t* p = file_.data() + v.offset + kArrayHeader;
  const size_t size = fixed_size(v.elem_type);
  for (uint64_t i = 0; i < v.count; ++i) {
    out[i] = static_cast<float>(load_float(v.elem_type, p + i * size));
  }
  return out;
}

std::vector<int64_t> GgufFile::get_int_array(std::string_view key) const {
  const char* wanted = "an array of integers";
  const Value& v = get(key, wanted);
  if (v.type != GgufType::Array || !is_integer(v.elem_type)) {
    wrong_type(path(), key, v.type, v.elem_type, wanted);
  }
  std::vector<int64_t> out(v.count);
  const uint8_t* p = file_.data() + v.offset + kArrayHeader;
  const size_t size = fixed_size(v.elem_type);
  for (uint64_t i = 0; i < v.count; ++i) {
    bool negative = false;
    const uint64_t x = load_integer(v.elem_type, p + i * size, negative);
    if (!negative && x > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      throw Error(path().string() + ": metadata key '" + std::string(key) + "': element " +
                  std::to_string(i) + " is " + std::to_string(x) + ", past the int64 range");
    }
    out[i] = static_cast<int64_t>(x);
  }
  return out;
}

GgufType GgufFile::array_type(std::string_view key) const {
  const Value& v = get(key, "an array");
  if (v.type != GgufType::Array) wrong_type(path(), key, v.type, v.elem_type, "an array");
  return v.elem_type;
}

uint64_t GgufFile::array_size(std::string_view key) const {
  const Value& v = get(key, "an array");
  if (v.type != GgufType::Array) wrong_type(path(), key, v.type, v.elem_type, "an array");
  return v.count;
}

const GgufFile::Tensor* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace loom::io
