// GGUF files (io/gguf.h): what GgufWriter writes reads back the same through GgufFile (every
// metadata kind, tensors of six types, two alignments); every kind of damaged or hostile file is
// refused with a loom::Error naming the file and the key, tensor or reason; and a few thousand
// random mutations of a valid file either parse or throw a loom::Error, never crash or throw
// anything else.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "loom/error.h"
#include "support/checkpoint_writer.h"

namespace {

using loom::io::ggml_traits;
using loom::io::GgmlType;
using loom::io::gguf_type_name;
using loom::io::GgufFile;
using loom::io::GgufType;
using loom::io::GgufWriter;
using loom::test::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

constexpr uint64_t k2to62 = uint64_t{1} << 62;

// Little-endian bytes put together by hand, for the files GgufWriter would not write.
struct Bytes {
  std::string s;
  template <class T>
  Bytes& put(T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof v);
    s.append(b, sizeof b);
    return *this;
  }
  Bytes& u32(uint32_t v) { return put(v); }
  Bytes& u64(uint64_t v) { return put(v); }
  Bytes& str(std::string_view v) {
    u64(v.size());
    s.append(v);
    return *this;
  }
};

constexpr uint32_t kString = 8, kArray = 9, kU32 = 4, kI32 = 5;
constexpr uint32_t kF32 = 0, kQ8_0 = 8;  // ggml types

// A metadata entry: KEY, TYPE, then VALUE's bytes as they are.
std::string kv(std::string_view key, uint32_t type, const std::string& value) {
  return Bytes().str(key).u32(type).s + value;
}
std::string kv_u32(std::string_view key, uint32_t v) {
  return kv(key, kU32, Bytes().u32(v).s);
}
std::string kv_string(std::string_view key, std::string_view v) {
  return kv(key, kString, Bytes().str(v).s);
}

// A tensor info: NAME, NE.size() dimensions, TYPE, OFFSET.
std::string tensor_info(std::string_view name, const std::vector<int64_t>& ne, uint32_t type,
                        uint64_t offset) {
  Bytes b;
  b.str(name).u32(static_cast<uint32_t>(ne.size()));
  for (int64_t n : ne) b.put<int64_t>(n);
  return b.u32(type).u64(offset).s;
}

// A whole file: the header (VERSION, the counts of INFOS and KVS), KVS, INFOS, zeros up to a
// multiple of ALIGNMENT, then DATA_BYTES bytes of data.
std::string gguf_bytes(const std::vector<std::string>& kvs, const std::vector<std::string>& infos,
                       size_t data_bytes, size_t alignment = 32, uint32_t version = 3) {
  Bytes b;
  b.s = "GGUF";
  b.u32(version).u64(infos.size()).u64(kvs.size());
  for (const auto& e : kvs) b.s += e;
  for (const auto& e : infos) b.s += e;
  b.s.resize((b.s.size() + alignment - 1) / alignment * alignment, '\0');
  b.s.append(data_bytes, '\x5a');
  return b.s;
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

class Gguf : public ::testing::Test {
 protected:
  fs::path write(const std::string& bytes, const std::string& name = "model.gguf") {
    const fs::path p = dir_.path() / name;
    std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(), bytes.size());
    return p;
  }

  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // The message of the loom::Error that opening BYTES throws (a test failure when it opens).
  std::string error_of(const std::string& bytes) {
    const fs::path p = write(bytes);
    try {
      GgufFile::open(p);
    } catch (const loom::Error& e) {
      const std::string msg = e.what();
      EXPECT_THAT(msg, HasSubstr(p.string())) << "the message names the file";
      return msg;
    }
    ADD_FAILURE() << "opened without an error";
    return "";
  }

  // The message of the loom::Error that FN throws.
  static std::string error_of(const std::function<void()>& fn) {
    try {
      fn();
    } catch (const loom::Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "no error";
    return "";
  }

  // A valid file: one string entry, tensors blk.0.w (F32 8 x 2, 64 bytes) and blk.1.w (F32
  // 16 x 2, 128 bytes): whole multiples of 32, so the file ends with blk.1.w's last byte.
  std::string small_file() {
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    static const std::vector<uint8_t> a = random_bytes(64, 1), b = random_bytes(128, 2);
    w.add_tensor("blk.0.w", GgmlType::F32, {8, 2}, a.data(), a.size());
    w.add_tensor("blk.1.w", GgmlType::F32, {16, 2}, b.data(), b.size());
    const fs::path p = dir_.path() / "small.gguf";
    w.write(p);
    return read(p);
  }

  TempDir dir_;
};

TEST(GgmlTraits, EveryTypeHasGgmlsBlock) {
  struct Row {
    GgmlType type;
    const char* name;
    int elements, bytes;
  };
  const Row rows[] = {
      {GgmlType::F32, "F32", 1, 4},       {GgmlType::F16, "F16", 1, 2},
      {GgmlType::BF16, "BF16", 1, 2},     {GgmlType::Q4_0, "Q4_0", 32, 18},
      {GgmlType::Q4_1, "Q4_1", 32, 20},   {GgmlType::Q5_0, "Q5_0", 32, 22},
      {GgmlType::Q5_1, "Q5_1", 32, 24},   {GgmlType::Q8_0, "Q8_0", 32, 34},
      {GgmlType::Q8_1, "Q8_1", 32, 36},   {GgmlType::Q2_K, "Q2_K", 256, 84},
      {GgmlType::Q3_K, "Q3_K", 256, 110}, {GgmlType::Q4_K, "Q4_K", 256, 144},
      {GgmlType::Q5_K, "Q5_K", 256, 176}, {GgmlType::Q6_K, "Q6_K", 256, 210},
      {GgmlType::Q8_K, "Q8_K", 256, 292}, {GgmlType::I8, "I8", 1, 1},
      {GgmlType::I16, "I16", 1, 2},       {GgmlType::I32, "I32", 1, 4},
      {GgmlType::I64, "I64", 1, 8},       {GgmlType::F64, "F64", 1, 8},
  };
  for (const Row& r : rows) {
    const auto* t = ggml_traits(static_cast<uint32_t>(r.type));
    ASSERT_NE(t, nullptr) << r.name;
    EXPECT_EQ(t->type, r.type);
    EXPECT_STREQ(t->name, r.name);
    EXPECT_EQ(t->elements, r.elements) << r.name;
    EXPECT_EQ(t->bytes, r.bytes) << r.name;
  }
  for (uint32_t unknown : {4u, 5u, 16u, 23u, 29u, 31u, 39u, 99u, 0xFFFFFFFFu}) {
    EXPECT_EQ(ggml_traits(unknown), nullptr) << unknown;
  }
  EXPECT_STREQ(gguf_type_name(GgufType::U32), "u32");
  EXPECT_STREQ(gguf_type_name(GgufType::String), "string");
  EXPECT_STREQ(gguf_type_name(GgufType::Array), "array");
  EXPECT_STREQ(gguf_type_name(GgufType::F64), "f64");
  EXPECT_STREQ(gguf_type_name(static_cast<GgufType>(13)), "?");
}

TEST_F(Gguf, RoundTripEveryMetadataKindAndTensorType) {
  struct Spec {
    const char* name;
    GgmlType type;
    std::vector<int64_t> ne;
    size_t nbytes;
  };
  const std::vector<Spec> specs = {
      {"f32", GgmlType::F32, {64, 3, 2}, 64 * 3 * 2 * 4},
      {"f16", GgmlType::F16, {32, 2, 3}, 32 * 2 * 3 * 2},
      {"odd", GgmlType::F32, {7}, 28},  // not a multiple of the alignment: padding follows
      {"bf16", GgmlType::BF16, {16, 4, 2}, 16 * 4 * 2 * 2},
      {"q8_0", GgmlType::Q8_0, {64, 2, 3}, 2 * 34 * 2 * 3},
      {"q4_k", GgmlType::Q4_K, {256, 2, 2}, 144 * 2 * 2},
      {"q6_k", GgmlType::Q6_K, {512, 1, 3}, 2 * 210 * 3},
      {"empty", GgmlType::F32, {0, 4}, 0},
  };
  std::vector<std::vector<uint8_t>> data;
  for (size_t i = 0; i < specs.size(); ++i) data.push_back(random_bytes(specs[i].nbytes, 10 + i));

  for (uint32_t alignment : {32u, 64u}) {
    SCOPED_TRACE("alignment " + std::to_string(alignment));
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_string("general.name", "");
    w.set_string("unicode", "h\xc3\xa9llo \xe2\x9c\x93");
    w.set_u32("llama.block_count", 32);
    w.set_i32("neg", -7);
    w.set_i32("pos", 7);
    w.set_u64("big", std::numeric_limits<uint64_t>::max());
    w.set_f32("eps", 1e-5f);
    w.set_bool("yes", true);
    w.set_bool("no", false);
    w.set_string_array("tokens", {"<s>", "", "a b", "\n", "\xe2\x96\x81the"});
    w.set_f32_array("scores", {0.5f, -1.25f, 3e38f});
    w.set_i32_array("types", {1, -2, std::numeric_limits<int32_t>::max()});
    w.set_string_array("none", {});
    for (size_t i = 0; i < specs.size(); ++i) {
      w.add_tensor(specs[i].name, specs[i].type, specs[i].ne, data[i].data(), data[i].size());
    }
    const fs::path p = dir_.path() / "rt.gguf";
    w.write(p, alignment);
    EXPECT_EQ(fs::file_size(p) % alignment, 0u);

    const GgufFile f = GgufFile::open(p);
    EXPECT_EQ(f.version(), 3u);
    EXPECT_EQ(f.alignment(), alignment);
    EXPECT_EQ(f.path(), p);
    std::vector<std::string> keys = {"general.architecture",
                                     "general.name",
                                     "unicode",
                                     "llama.block_count",
                                     "neg",
                                     "pos",
                                     "big",
                                     "eps",
                                     "yes",
                                     "no",
                                     "tokens",
                                     "scores",
                                     "types",
                                     "none"};
    if (alignment != 32) keys.push_back("general.alignment");
    EXPECT_EQ(f.keys(), keys);
    if (alignment != 32) {
      EXPECT_EQ(f.type_of("general.alignment"), GgufType::U32);
      EXPECT_EQ(f.get_uint("general.alignment"), alignment);
    }

    EXPECT_EQ(f.get_string("general.architecture"), "llama");
    EXPECT_EQ(f.get_string("general.name"), "");
    EXPECT_EQ(f.get_string("unicode"), "h\xc3\xa9llo \xe2\x9c\x93");
    EXPECT_EQ(f.type_of("llama.block_count"), GgufType::U32);
    EXPECT_EQ(f.get_uint("llama.block_count"), 32u);
    EXPECT_EQ(f.type_of("neg"), GgufType::I32);
    EXPECT_EQ(f.get_uint("pos"), 7u);
    EXPECT_EQ(f.get_int_array("types"),
              (std::vector<int64_t>{1, -2, std::numeric_limits<int32_t>::max()}));
    EXPECT_EQ(f.get_uint("big"), std::numeric_limits<uint64_t>::max());
    EXPECT_EQ(f.type_of("eps"), GgufType::F32);
    EXPECT_EQ(f.get_float("eps"), static_cast<double>(1e-5f));
    EXPECT_EQ(f.find_bool("yes"), true);
    EXPECT_EQ(f.find_bool("no"), false);
    EXPECT_EQ(f.get_string_array("tokens"),
              (std::vector<std::string>{"<s>", "", "a b", "\n", "\xe2\x96\x81the"}));
    EXPECT_EQ(f.array_type("tokens"), GgufType::String);
    EXPECT_EQ(f.array_size("tokens"), 5u);
    EXPECT_EQ(f.get_float_array("scores"), (std::vector<float>{0.5f, -1.25f, 3e38f}));
    EXPECT_EQ(f.array_type("scores"), GgufType::F32);
    EXPECT_EQ(f.array_type("types"), GgufType::I32);
    EXPECT_EQ(f.array_size("types"), 3u);
    EXPECT_TRUE(f.get_string_array("none").empty());
    EXPECT_EQ(f.array_size("none"), 0u);

    // Absent keys: nullopt from find_, has() false; present ones of the right type found.
    EXPECT_FALSE(f.has("absent"));
    EXPECT_EQ(f.type_of("absent"), std::nullopt);
    EXPECT_EQ(f.find_string("absent"), std::nullopt);
    EXPECT_EQ(f.find_uint("absent"), std::nullopt);
    EXPECT_EQ(f.find_float("absent"), std::nullopt);
    EXPECT_EQ(f.find_bool("absent"), std::nullopt);
    EXPECT_EQ(f.find_string("general.architecture"), "llama");
    EXPECT_EQ(f.find_uint("llama.block_count"), 32u);
    EXPECT_EQ(f.find_float("eps"), static_cast<double>(1e-5f));
    EXPECT_THROW(f.find_uint("general.architecture"), loom::Error);
    EXPECT_THROW(f.find_float("llama.block_count"), loom::Error);
    EXPECT_THROW(f.find_bool("pos"), loom::Error);
    EXPECT_THROW(f.get_int_array("scores"), loom::Error);
    EXPECT_THROW(f.get_float_array("types"), loom::Error);
    EXPECT_THROW(f.get_string_array("types"), loom::Error);
    EXPECT_THROW(f.array_size("pos"), loom::Error);

    ASSERT_EQ(f.tensors().size(), specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
      const GgufFile::Tensor& t = f.tensors()[i];
      SCOPED_TRACE(t.name);
      EXPECT_EQ(t.name, specs[i].name);
      EXPECT_EQ(t.type, specs[i].type);
      EXPECT_EQ(t.ne, specs[i].ne);
      ASSERT_EQ(t.nbytes, specs[i].nbytes);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % alignment, 0u);
      if (t.nbytes) {
        EXPECT_EQ(std::memcmp(t.data, data[i].data(), t.nbytes), 0);
      }
      EXPECT_EQ(f.find_tensor(specs[i].name), &t);
    }
    EXPECT_EQ(f.find_tensor("absent"), nullptr);
  }
}

TEST_F(Gguf, ReadsVersion2) {
  std::string s = small_file();
  s[4] = 2;
  const GgufFile f = GgufFile::open(write(s));
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.tensors().size(), 2u);
}

TEST_F(Gguf, WriterTakesAMatchingAlignmentKey) {
  GgufWriter w;
  w.set_u32("general.alignment", 128);
  const std::vector<uint8_t> d = random_bytes(68, 3);
  w.add_tensor("w", GgmlType::Q8_0, {32, 2}, d.data(), d.size());
  const fs::path p = dir_.path() / "a.gguf";
  w.write(p, 128);
  const GgufFile f = GgufFile::open(p);
  EXPECT_EQ(f.alignment(), 128u);
  EXPECT_EQ(f.keys(), std::vector<std::string>{"general.alignment"});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f.tensors()[0].data) % 128, 0u);
  EXPECT_THAT(error_of([&] { w.write(p, 64); }), HasSubstr("general.alignment"));
}

TEST_F(Gguf, WriterRefusesAndLeavesNoFile) {
  const fs::path p = dir_.path() / "out.gguf";
  const std::vector<uint8_t> d = random_bytes(64, 4);
  {
    GgufWriter w;
    w.set_u32("a.b", 1);
    w.set_string("a.b", "again");
    EXPECT_THAT(error_of([&] { w.write(p); }),
                AllOf(HasSubstr(p.string()), HasSubstr("metadata key 'a.b' set twice")));
  }
  {
    GgufWriter w;
    w.add_tensor("w", GgmlType::F32, {16}, d.data(), d.size());
    w.add_tensor("w", GgmlType::F32, {16}, d.data(), d.size());
    EXPECT_THAT(error_of([&] { w.write(p); }), HasSubstr("tensor 'w' added twice"));
  }
  {
    GgufWriter w;
    EXPECT_THAT(error_of([&] { w.write(p, 24); }), HasSubstr("24 is not a power of two"));
    EXPECT_THAT(error_of([&] { w.write(dir_.path() / "no-such-dir" / "x.gguf"); }),
                HasSubstr("no-such-dir"));
    EXPECT_THAT(error_of([&] { w.add_tensor("w", GgmlType::F32, {15}, d.data(), d.size()); }),
                AllOf(HasSubstr("tensor 'w' (F32, 15)"), HasSubstr("needs 60 bytes")));
    EXPECT_THAT(error_of([&] { w.add_tensor("q", GgmlType::Q4_K, {128}, d.data(), 72); }),
                HasSubstr("not a multiple of Q4_K's block of 256"));
    EXPECT_THAT(error_of([&] { w.add_tensor("e", GgmlType::F32, {}, d.data(), 0); }),
                HasSubstr("0 dimensions"));
  }
  EXPECT_FALSE(fs::exists(p));
  EXPECT_TRUE(fs::is_empty(dir_.path())) << "no temporary file is left behind";
}

// --- Split models (llama-gguf-split's shards). ---

// Three tensors of 64, 128 and 64 bytes split at 160 bytes: shards {a}, {b}, {c}; the first
// holds the metadata, every one split.no, split.count and split.tensors.count.
TEST_F(Gguf, SplitWritesShardsTheFirstOpensThemAll) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  const std::vector<uint8_t> a = random_bytes(64, 5), b = random_bytes(128, 6),
                             c = random_bytes(64, 7);
  w.add_tensor("a", GgmlType::F32, {16}, a.data(), a.size());
  w.add_tensor("b", GgmlType::F32, {32}, b.data(), b.size());
  w.add_tensor("c", GgmlType::F32, {16}, c.data(), c.size());
  const std::string prefix = (dir_.path() / "m").string();
  const std::vector<fs::path> paths = w.write_split(prefix, 160);
  ASSERT_EQ(paths.size(), 3u);
  EXPECT_EQ(paths[0], dir_.path() / "m-00001-of-00003.gguf");
  EXPECT_EQ(paths[2], dir_.path() / "m-00003-of-00003.gguf");

  const GgufFile f = GgufFile::open(paths[0]);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.type_of("split.count"), GgufType::U16);
  EXPECT_EQ(f.get_uint("split.tensors.count"), 3u);
  ASSERT_EQ(f.shard_count(), 3u);
  EXPECT_EQ(f.shard_path(1), paths[1]);
  ASSERT_EQ(f.tensors().size(), 3u);
  const std::vector<const std::vector<uint8_t>*> want = {&a, &b, &c};
  for (size_t i = 0; i < 3; ++i) {
    const GgufFile::Tensor& t = f.tensors()[i];
    EXPECT_EQ(t.shard, i) << t.name;
    ASSERT_EQ(t.nbytes, want[i]->size());
    EXPECT_EQ(std::memcmp(t.data, want[i]->data(), t.nbytes), 0) << t.name;
  }
  EXPECT_EQ(f.find_tensor("c")->shard, 2u);
  // A later shard is refused on its own (its metadata is the split keys only).
  EXPECT_THAT(error_of([&] { GgufFile::open(paths[1]); }), HasSubstr("shard 2 of 3"));
}

TEST_F(Gguf, SplitShardErrorsNameTheShard) {
  const std::vector<uint8_t> d = random_bytes(64, 8);
  const auto split = [&](const std::string& name) {
    GgufWriter w;
    w.add_tensor("a", GgmlType::F32, {16}, d.data(), d.size());
    w.add_tensor("b", GgmlType::F32, {16}, d.data(), d.size());
    return w.write_split((dir_.path() / name).string(), 64);
  };
  {  // A later shard opened first.
    const auto p = split("later");
    EXPECT_THAT(error_of([&] { GgufFile::open(p[1]); }),
                AllOf(HasSubstr(p[1].string()), HasSubstr("shard 2 of 2"),
                      HasSubstr("open its first shard, " + p[0].string())));
  }
  {  // A missing shard.
    const auto p = split("missing");
    fs::remove(p[1]);
    EXPECT_THAT(error_of([&] { GgufFile::open(p[0]); }),
                AllOf(HasSubstr("shard 2 of 2"), HasSubstr("is missing: " + p[1].string())));
  }
  {  // Renamed: the other shards' names cannot be made.
    const auto p = split("renamed");
    const fs::path q = dir_.path() / "renamed.gguf";
    fs::rename(p[0], q);
    EXPECT_THAT(error_of([&] { GgufFile::open(q); }),
                AllOf(HasSubstr(q.string()), HasSubstr("does not end in '-00001-of-00002.gguf'")));
  }
  // Shards written by hand: KEYS for each of two shards, tensor names NAMES.
  const auto by_hand = [&](const std::string& name, std::vector<std::vector<int>> keys,
                           std::vector<std::string> names) {
    std::vector<fs::path> out;
    for (int i = 0; i < 2; ++i) {
      GgufWriter w;
      w.set_u32("split.no", static_cast<uint32_t>(keys[i][0]));
      w.set_u32("split.count", static_cast<uint32_t>(keys[i][1]));
      w.set_i32("split.tensors.count", keys[i][2]);
      w.add_tensor(names[i], GgmlType::F32, {16}, d.data(), d.size());
      out.push_back(loom::io::gguf_shard_path((dir_.path() / name).string(), i + 1, 2));
      w.write(out.back());
    }
    return out;
  };
  {
    const auto p = by_hand("no", {{0, 2, 2}, {0, 2, 2}}, {"a", "b"});
    EXPECT_THAT(error_of([&] { GgufFile::open(p[0]); }),
                AllOf(HasSubstr(p[1].string()), HasSubstr("split.no is not 1")));
  }
  {
    const auto p = by_hand("count", {{0, 2, 2}, {1, 3, 2}}, {"a", "b"});
    EXPECT_THAT(error_of([&] { GgufFile::open(p[0]); }),
                AllOf(HasSubstr(p[1].string()), HasSubstr("split.count is not 2")));
  }
  {
    const auto p = by_hand("dup", {{0, 2, 2}, {1, 2, 2}}, {"a", "a"});
    EXPECT_THAT(
        error_of([&] { GgufFile::open(p[0]); }),
        AllOf(HasSubstr(p[1].string()), HasSubstr("tensor 'a' is also in shard " + p[0].string())));
  }
  {
    const auto p = by_hand("total", {{0, 2, 3}, {1, 2, 3}}, {"a", "b"});
    EXPECT_THAT(error_of([&] { GgufFile::open(p[0]); }),
                HasSubstr("split.tensors.count is 3, but the 2 shards hold 2 tensors"));
  }
  {  // No shard is left behind by a split that cannot be written.
    GgufWriter w;
    w.add_tensor("a", GgmlType::F32, {16}, d.data(), d.size());
    EXPECT_THAT(error_of([&] { w.write_split((dir_.path() / "none" / "m").string(), 64); }),
                HasSubstr("none"));
  }
}

// --- Files that must be refused, each for its own reason. ---

TEST_F(Gguf, BadMagic) {
  std::string s = small_file();
  s[3] = 'L';
  EXPECT_THAT(error_of(s), HasSubstr("not a GGUF file (its first bytes are 'GGUL'"));
  EXPECT_THAT(error_of(std::string("\x00\xffGG", 4) + s.substr(4)),
              HasSubstr("its first bytes are '\\x00\\xffGG'"));
}

TEST_F(Gguf, Version1) {
  EXPECT_THAT(error_of(gguf_bytes({}, {}, 0, 32, 1)),
              AllOf(HasSubstr("GGUF version 1"), HasSubstr("not supported")));
}

TEST_F(Gguf, Version4) {
  EXPECT_THAT(error_of(gguf_bytes({}, {}, 0, 32, 4)),
              AllOf(HasSubstr("GGUF version 4 is not supported"), HasSubstr("reads 2 and 3")));
}

TEST_F(Gguf, BigEndianVersion) {
  EXPECT_THAT(error_of(gguf_bytes({}, {}, 0, 32, 0x03000000)), HasSubstr("big-endian"));
}

TEST_F(Gguf, TruncatedInTheHeader) {
  const std::string s = small_file();
  EXPECT_THAT(error_of(""), AllOf(HasSubstr("the magic"), HasSubstr("past the end of the file")));
  EXPECT_THAT(error_of(s.substr(0, 3)), HasSubstr("the magic at byte 0 runs past the end"));
  EXPECT_THAT(error_of(s.substr(0, 6)), HasSubstr("the version at byte 4 runs past the end"));
  EXPECT_THAT(error_of(s.substr(0, 12)), HasSubstr("the tensor count at byte 8 runs past"));
  EXPECT_THAT(error_of(s.substr(0, 20)), HasSubstr("the metadata count at byte 16 runs past"));
}

TEST_F(Gguf, TruncatedInAKey) {
  const std::string s = small_file();
  const size_t key = s.find("general.architecture");
  // Too short for even the one entry the header claims.
  EXPECT_THAT(error_of(s.substr(0, key - 3)),
              HasSubstr("the header claims 1 metadata entries, but only 5 bytes follow it"));
  EXPECT_THAT(error_of(s.substr(0, key + 5)),
              AllOf(HasSubstr("metadata entry 0: the key of 20 bytes at byte 32"),
                    HasSubstr("past the end of the file")));
  EXPECT_THAT(error_of(s.substr(0, key + 20 + 2)),
              AllOf(HasSubstr("metadata key 'general.architecture': value type"),
                    HasSubstr("past the end of the file")));
  EXPECT_THAT(error_of(s.substr(0, key + 20 + 4 + 8 + 2)),
              AllOf(HasSubstr("metadata key 'general.architecture': the string of 5 bytes"),
                    HasSubstr("past the end of the file")));
}

TEST_F(Gguf, TruncatedInATensorInfo) {
  const std::string s = small_file();
  const size_t name = s.find("blk.1.w");
  // Too short for the two tensor infos the header claims.
  EXPECT_THAT(
      error_of(s.substr(0, name + 3)),
      AllOf(HasSubstr("the header claims 2 tensors, but only"), HasSubstr("truncated or damaged")));
  EXPECT_THAT(
      error_of(s.substr(0, name + 7 + 4 + 6)),
      AllOf(HasSubstr("tensor 'blk.1.w': the dimensions at byte"), HasSubstr("past the end")));
  EXPECT_THAT(error_of(s.substr(0, name + 7 + 4 + 16 + 4 + 3)),
              AllOf(HasSubstr("tensor 'blk.1.w': the offset at byte"), HasSubstr("past the end")));
}

TEST_F(Gguf, TruncatedInTensorData) {
  const std::string s = small_file();
  const size_t n = s.size();
  EXPECT_THAT(error_of(s.substr(0, n - 1)),
              HasSubstr("tensor 'blk.1.w' (F32, 16 x 2) runs past the end of the file (needs "
                        "bytes up to " +
                        std::to_string(n) + ", the file has " + std::to_string(n - 1) + ")"));
  EXPECT_THAT(error_of(s.substr(0, n - 150)),
              HasSubstr("tensor 'blk.0.w' (F32, 8 x 2) runs past the end of the file"));
  // Cut inside the padding before the data: the data section starts past the end.
  EXPECT_THAT(error_of(s.substr(0, n - 192 - 1)),
              HasSubstr("the data section would start at byte " + std::to_string(n - 192)));
}

TEST_F(Gguf, StringLengthPastTheEnd) {
  const std::string s =
      gguf_bytes({kv("general.name", kString, Bytes().u64(1000000).s + "abc")}, {}, 0);
  EXPECT_THAT(error_of(s), AllOf(HasSubstr("metadata key 'general.name'"),
                                 HasSubstr("the string of 1000000 bytes at byte"),
                                 HasSubstr("runs past the end of the file")));
}

TEST_F(Gguf, StringArrayPastTheEnd) {
  const std::string huge = Bytes().u32(kString).u64(k2to62).s;
  EXPECT_THAT(error_of(gguf_bytes({kv("tokenizer.ggml.tokens", kArray, huge)}, {}, 0)),
              AllOf(HasSubstr("metadata key 'tokenizer.ggml.tokens'"),
                    HasSubstr("an array of 4611686018427387904 strings"),
                    HasSubstr("past the end of the file")));
  const std::string ints = Bytes().u32(kU32).u64(uint64_t{1} << 61).s;
  EXPECT_THAT(error_of(gguf_bytes({kv("x", kArray, ints)}, {}, 0)),
              AllOf(HasSubstr("metadata key 'x'"), HasSubstr("an array of 2305843009213693952 u32"),
                    HasSubstr("past the end of the file")));
  const std::string one_short = Bytes().u32(kString).u64(2).str("ok").u64(100).s + "ab";
  EXPECT_THAT(error_of(gguf_bytes({kv("y", kArray, one_short)}, {}, 0)),
              AllOf(HasSubstr("metadata key 'y': an array's string of 100 bytes"),
                    HasSubstr("past the end of the file")));
}

TEST_F(Gguf, MetadataCountOf2To62) {
  std::string s = gguf_bytes({kv_u32("a", 1)}, {}, 0);
  std::memcpy(&s[16], &k2to62, 8);
  EXPECT_THAT(error_of(s), HasSubstr("the header claims 4611686018427387904 metadata entries"));
}

TEST_F(Gguf, TensorCountOf2To62) {
  std::string s = small_file();
  std::memcpy(&s[8], &k2to62, 8);
  EXPECT_THAT(error_of(s), HasSubstr("the header claims 4611686018427387904 tensors"));
}

TEST_F(Gguf, TensorCountPastTheMetadata) {
  const std::string big = std::string(400, 'x');
  std::string s = gguf_bytes({kv_string("general.name", big)}, {}, 0);
  const uint64_t n = 10;
  std::memcpy(&s[8], &n, 8);
  EXPECT_THAT(error_of(s), HasSubstr("the header claims 10 tensors, but only"));
}

TEST_F(Gguf, UnknownMetadataType) {
  EXPECT_THAT(error_of(gguf_bytes({kv_u32("a", 1), kv("x.key", 13, "")}, {}, 0)),
              AllOf(HasSubstr("metadata key 'x.key' has value type 13"),
                    HasSubstr("which GGUF does not define")));
  EXPECT_THAT(error_of(gguf_bytes({kv("arr", kArray, Bytes().u32(77).u64(0).s)}, {}, 0)),
              HasSubstr("metadata key 'arr' has array element type 77"));
}

TEST_F(Gguf, ArrayOfArrays) {
  EXPECT_THAT(error_of(gguf_bytes({kv("nested", kArray, Bytes().u32(kArray).u64(0).s)}, {}, 0)),
              HasSubstr("metadata key 'nested' is an array of arrays"));
}

TEST_F(Gguf, KeyNotUtf8) {
  EXPECT_THAT(error_of(gguf_bytes({kv_u32("bad\xc0\xafkey", 1)}, {}, 0)),
              HasSubstr("metadata entry 0: the key at byte 24 is not valid UTF-8"));
}

TEST_F(Gguf, UnknownTensorType) {
  EXPECT_THAT(error_of(gguf_bytes({}, {tensor_info("x", {32}, 99, 0)}, 128)),
              AllOf(HasSubstr("tensor 'x' has type 99"), HasSubstr("which loom does not know")));
}

TEST_F(Gguf, ZeroDimensions) {
  EXPECT_THAT(error_of(gguf_bytes({}, {tensor_info("x", {}, kF32, 0)}, 128)),
              AllOf(HasSubstr("tensor 'x' has 0 dimensions"), HasSubstr("1 to 4")));
}

TEST_F(Gguf, FiveDimensions) {
  EXPECT_THAT(error_of(gguf_bytes({}, {tensor_info("x", {1, 1, 1, 1, 1}, kF32, 0)}, 128)),
              HasSubstr("tensor 'x' has 5 dimensions"));
}

TEST_F(Gguf, NegativeDimension) {
  EXPECT_THAT(error_of(gguf_bytes({}, {tensor_info("x", {4, -4}, kF32, 0)}, 128)),
              HasSubstr("tensor 'x' has dimension 1 of -4"));
}

TEST_F(Gguf, RowNotAMultipleOfTheBlock) {
  EXPECT_THAT(
      error_of(gguf_bytes({}, {tensor_info("blk.0.attn_q.weight", {33, 2}, kQ8_0, 0)}, 256)),
      AllOf(HasSubstr("tensor 'blk.0.attn_q.weight' (Q8_0, 33 x 2) has rows of 33"),
            HasSubstr("not a multiple of Q8_0's block of 32")));
}

TEST_F(Gguf, ByteCountOverflows) {
  const int64_t big = int64_t{1} << 40;
  EXPECT_THAT(
      error_of(gguf_bytes({}, {tensor_info("x", {big, big, big}, kF32, 0)}, 128)),
      AllOf(HasSubstr("tensor 'x' (F32, 1099511627776 x 1099511627776 x"), HasSubstr("overflows")));
}

TEST_F(Gguf, TensorDataPastTheEnd) {
  const std::string s = gguf_bytes({}, {tensor_info("blk.0.attn_q.weight", {1024}, kF32, 0)}, 64);
  EXPECT_THAT(error_of(s),
              HasSubstr("tensor 'blk.0.attn_q.weight' (F32, 1024) runs past the end of the file "
                        "(needs bytes up to " +
                        std::to_string(s.size() - 64 + 4096) + ", the file has " +
                        std::to_string(s.size()) + ")"));
  // An offset so large that offset + bytes wraps.
  EXPECT_THAT(error_of(gguf_bytes({}, {tensor_info("w", {8}, kF32, ~uint64_t{31})}, 64)),
              HasSubstr("tensor 'w' (F32, 8) runs past the end of the file (needs bytes up to "
                        "past 2^64"));
}

TEST_F(Gguf, OffsetNotAMultipleOfTheAlignment) {
  const std::string s =
      gguf_bytes({}, {tensor_info("a", {8}, kF32, 0), tensor_info("b", {8}, kF32, 48)}, 128);
  EXPECT_THAT(error_of(s),
              HasSubstr("tensor 'b' (F32, 8) has data offset 48, not a multiple of the alignment "
                        "32"));
  const std::string s64 =
      gguf_bytes({kv_u32("general.alignment", 64)}, {tensor_info("c", {8}, kF32, 32)}, 128, 64);
  EXPECT_THAT(error_of(s64), HasSubstr("offset 32, not a multiple of the alignment 64"));
}

TEST_F(Gguf, AlignmentZero) {
  EXPECT_THAT(error_of(gguf_bytes({kv_u32("general.alignment", 0)}, {}, 0)),
              HasSubstr("metadata key 'general.alignment' is 0, not a power of two"));
}

TEST_F(Gguf, AlignmentNotAPowerOfTwo) {
  EXPECT_THAT(error_of(gguf_bytes({kv_u32("general.alignment", 24)}, {}, 0)),
              HasSubstr("metadata key 'general.alignment' is 24, not a power of two"));
}

TEST_F(Gguf, AlignmentNotAU32) {
  EXPECT_THAT(error_of(gguf_bytes({kv_string("general.alignment", "32")}, {}, 0)),
              HasSubstr("metadata key 'general.alignment' is a string, expected a u32"));
}

TEST_F(Gguf, DuplicateKey) {
  EXPECT_THAT(
      error_of(gguf_bytes({kv_u32("a.b", 1), kv_u32("c", 2), kv_string("a.b", "x")}, {}, 0)),
      HasSubstr("metadata key 'a.b' appears twice (entries 0 and 2)"));
}

TEST_F(Gguf, DuplicateTensorName) {
  const std::string s =
      gguf_bytes({}, {tensor_info("w", {8}, kF32, 0), tensor_info("w", {8}, kF32, 32)}, 64);
  EXPECT_THAT(error_of(s), HasSubstr("tensor 'w' appears twice (tensors 0 and 1)"));
}

// --- Accessors asked for what the file does not hold. ---

TEST_F(Gguf, GetUintOnAString) {
  const GgufFile f =
      GgufFile::open(write(gguf_bytes({kv_string("llama.block_count", "32")}, {}, 0)));
  EXPECT_THAT(error_of([&] { f.get_uint("llama.block_count"); }),
              AllOf(HasSubstr(f.path().string()),
                    HasSubstr("metadata key 'llama.block_count' is a string, expected an "
                              "integer")));
}

TEST_F(Gguf, GetStringOnAMissingKey) {
  const GgufFile f = GgufFile::open(write(small_file()));
  EXPECT_THAT(
      error_of([&] { f.get_string("general.name"); }),
      AllOf(HasSubstr(f.path().string()), HasSubstr("metadata key 'general.name' is missing")));
  EXPECT_THAT(error_of([&] { f.array_size("nope"); }), HasSubstr("metadata key 'nope' is missing"));
}

TEST_F(Gguf, GetUintOnANegativeInteger) {
  const GgufFile f = GgufFile::open(write(gguf_bytes({kv("n", kI32, Bytes().u32(-3).s)}, {}, 0)));
  EXPECT_THAT(error_of([&] { f.get_uint("n"); }),
              HasSubstr("metadata key 'n' is -3, expected a non-negative integer"));
  EXPECT_THAT(error_of([&] { f.find_uint("n"); }), HasSubstr("metadata key 'n' is -3"));
}

TEST_F(Gguf, OtherTypeMismatches) {
  GgufWriter w;
  w.set_f32("eps", 1e-6f);
  w.set_i32_array("ids", {1, 2});
  w.set_bool("flag", true);
  const fs::path p = dir_.path() / "m.gguf";
  w.write(p);
  const GgufFile f = GgufFile::open(p);
  EXPECT_THAT(error_of([&] { f.get_string("eps"); }),
              HasSubstr("metadata key 'eps' is an f32, expected a string"));
  EXPECT_THAT(error_of([&] { f.get_float_array("ids"); }),
              HasSubstr("metadata key 'ids' is an array of i32, expected an array of floats"));
  EXPECT_THAT(error_of([&] { f.get_uint("ids"); }),
              HasSubstr("metadata key 'ids' is an array of i32, expected an integer"));
  EXPECT_THAT(error_of([&] { f.get_float("flag"); }),
              HasSubstr("metadata key 'flag' is a bool, expected a float"));
  EXPECT_THAT(error_of([&] { f.array_type("flag"); }),
              HasSubstr("metadata key 'flag' is a bool, expected an array"));
}

TEST_F(Gguf, IntArrayPastInt64) {
  const std::string arr = Bytes().u32(10).u64(2).u64(5).u64(uint64_t{1} << 63).s;  // u64 elements
  const GgufFile f = GgufFile::open(write(gguf_bytes({kv("big", kArray, arr)}, {}, 0)));
  EXPECT_THAT(error_of([&] { f.get_int_array("big"); }),
              HasSubstr("metadata key 'big': element 1 is 9223372036854775808"));
}

// --- Random damage: parse or loom::Error, nothing else. ---

// Every metadata value through every accessor, and each tensor's first and last byte.
void touch_everything(const GgufFile& f) {
  const auto attempt = [](const std::function<void()>& fn) {
    try {
      fn();
    } catch (const loom::Error&) {
    }
  };
  for (const std::string& k : f.keys()) {
    ASSERT_TRUE(f.has(k));
    ASSERT_TRUE(f.type_of(k).has_value());
    attempt([&] { f.get_string(k); });
    attempt([&] { f.find_string(k); });
    attempt([&] { f.get_uint(k); });
    attempt([&] { f.find_uint(k); });
    attempt([&] { f.get_float(k); });
    attempt([&] { f.find_float(k); });
    attempt([&] { f.find_bool(k); });
    attempt([&] { f.get_string_array(k); });
    attempt([&] { f.get_float_array(k); });
    attempt([&] { f.get_int_array(k); });
    attempt([&] { f.array_type(k); });
    attempt([&] { f.array_size(k); });
  }
  volatile uint8_t sink = 0;
  for (const GgufFile::Tensor& t : f.tensors()) {
    const auto* tr = ggml_traits(static_cast<uint32_t>(t.type));
    ASSERT_NE(tr, nullptr);
    ASSERT_TRUE(!t.ne.empty() && t.ne.size() <= 4);
    uint64_t n = static_cast<uint64_t>(t.ne[0] / tr->elements) * tr->bytes;
    for (size_t d = 1; d < t.ne.size(); ++d) n *= static_cast<uint64_t>(t.ne[d]);
    ASSERT_EQ(t.nbytes, n) << t.name;
    ASSERT_EQ(reinterpret_cast<uintptr_t>(t.data) % f.alignment(), 0u) << t.name;
    if (t.nbytes) sink = sink + t.data[0] + t.data[t.nbytes - 1];
    ASSERT_EQ(f.find_tensor(t.name), &t);
  }
}

TEST_F(Gguf, RandomMutationsParseOrThrowLoomError) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 2);
  w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_bool("flag", true);
  w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a", "bc"});
  w.set_f32_array("tokenizer.ggml.scores", {0, -1, -2, -3, -4});
  w.set_i32_array("tokenizer.ggml.token_type", {2, 3, 3, 1, 1});
  const std::vector<uint8_t> a = random_bytes(8 * 2 * 4, 5), b = random_bytes(2 * 34, 6),
                             c = random_bytes(144, 7);
  w.add_tensor("token_embd.weight", GgmlType::F32, {8, 2}, a.data(), a.size());
  w.add_tensor("blk.0.attn_q.weight", GgmlType::Q8_0, {32, 2, 1}, b.data(), b.size());
  w.add_tensor("output.weight", GgmlType::Q4_K, {256}, c.data(), c.size());
  const fs::path base = dir_.path() / "base.gguf";
  w.write(base);
  const std::string valid = read(base);
  // The tensor data is 64 + 68 (padded to 96) + 144 (to 160) bytes at the end: mutate the
  // header and infos more often than the data.
  const size_t header_end = valid.size() - 64 - 96 - 160;

  std::mt19937_64 rng(20240611);
  const auto below = [&](uint64_t n) { return n ? rng() % n : 0; };
  const uint64_t extremes[] = {0,
                               1,
                               31,
                               32,
                               0xFF,
                               0xFFFFFFFF,
                               0x100000000,
                               k2to62,
                               uint64_t{1} << 63,
                               ~uint64_t{0},
                               ~uint64_t{0} >> 1};
  const fs::path p = dir_.path() / "fuzz.gguf";
  int parsed = 0, refused = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s = valid;
    const auto pos = [&](size_t span) -> size_t {
      const size_t limit = (rng() % 5 ? header_end : s.size());
      return limit > span ? below(limit - span) : 0;
    };
    const int mutations = 1 + static_cast<int>(below(3));
    for (int m = 0; m < mutations && !s.empty(); ++m) {
      switch (below(5)) {
        case 0:
        case 1:  // flip bits of a byte
          s[pos(1)] ^= static_cast<char>(1 + below(255));
          break;
        case 2: {  // an 8-byte span: an extreme, a small number, or noise
          if (s.size() < 8) break;
          const int kind = static_cast<int>(below(3));
          const uint64_t v = kind == 0   ? extremes[below(std::size(extremes))]
                             : kind == 1 ? below(300)
                                         : rng();
          std::memcpy(&s[pos(8)], &v, 8);
          break;
        }
        case 3: {  // a 4-byte span (types, dimension counts, the version)
          if (s.size() < 4) break;
          const uint32_t v =
              below(2) ? static_cast<uint32_t>(below(40)) : static_cast<uint32_t>(rng());
          std::memcpy(&s[pos(4)], &v, 4);
          break;
        }
        case 4:  // truncate
          s.resize(below(s.size() + 1));
          break;
      }
    }
    // A new file each time: ext4 flushes a file truncated and rewritten in place to disk at
    // close, which made this loop wait on the disk.
    fs::remove(p);
    std::ofstream(p, std::ios::binary).write(s.data(), s.size());
    try {
      const GgufFile f = GgufFile::open(p);
      ++parsed;
      touch_everything(f);
    } catch (const loom::Error&) {
      ++refused;
    } catch (const std::exception& e) {
      FAIL() << "iteration " << iter << ": not a loom::Error: " << e.what();
    }
    if (HasFatalFailure()) FAIL() << "iteration " << iter;
  }
  // Both outcomes are exercised, not one alone.
  EXPECT_GT(parsed, 200);
  EXPECT_GT(refused, 1000);
}

}  // namespace
