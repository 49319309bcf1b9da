// The quantized-weights cache (LoadOptions::quant_cache, model/quant_cache.h): written on the
// first load, mapped on the next with bit-identical logits, and never used when it does not match
// the checkpoint or was damaged: each such file is named in a message saying what was wrong, then
// rebuilt. Where it goes when the model folder is not writable, and a load that cannot write it.
// Every test works on a copy of a fixture in a temp dir, with XDG_CACHE_HOME in a temp dir too.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "io/checksum.h"
#include "load_flags.h"
#include "loom/loom.h"
#include "model/load_quantized.h"
#include "model/loaded_model.h"
#include "model/synthetic.h"
#include "support/checkpoint_writer.h"

namespace {

using loom::DType;
using loom::QuantCache;
using loom::QuantSource;
using loom::test::ModelFolder;
using loom::test::TempDir;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

const fs::path kShared = LOOM_SHARED_DIR;
const fs::path kStories = kShared / "models/stories260K";
const fs::path kSharded = kShared / "fixtures/llama2-gqa-bf16";  // two shards and an index

const std::vector<int> kPrompt = {1, 403, 407, 261, 378, 4};

loom::LoadOptions cached(DType type) {
  return {.quantize = type, .quant_cache = QuantCache::Auto};
}

// Every position's logits for kPrompt, then those of two decode steps.
std::vector<float> logits(const loom::Model& m) {
  loom::Session s(m, {.ctx_size = 64, .threads = 2});
  std::vector<float> out = s.prefill_all_logits(kPrompt);
  for (int id : {5, 6}) {
    const std::span<const float> l = s.decode(id);
    out.insert(out.end(), l.begin(), l.end());
  }
  return out;
}

bool bit_identical(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::string log_of(const loom::Model& m) {
  std::string out;
  for (const std::string& l : m.quantization().cache_log) out += l + "\n";
  return out;
}

std::string read_bytes(const fs::path& p) {
  return loom::test::read_text(p);
}
void write_bytes(const fs::path& p, const std::string& bytes) {
  loom::test::write_text(p, bytes);
}

template <class T>
T field(const std::string& file, size_t offset) {
  T v;
  std::memcpy(&v, file.data() + offset, sizeof v);
  return v;
}
template <class T>
void set_field(std::string& file, size_t offset, T v) {
  std::memcpy(file.data() + offset, &v, sizeof v);
}
// Recomputes the header checksum (the 8 bytes before header_bytes), as a forger would: so that
// the checks behind it are reached.
void reseal_header(std::string& file) {
  const auto header_bytes = field<uint64_t>(file, 40);
  set_field(file, header_bytes - 8, loom::io::hash64(file.data(), header_bytes - 8));
}

// Each test gets its own user cache directory, so nothing lands in the real ~/.cache.
class QuantCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* old = std::getenv("XDG_CACHE_HOME");
    if (old) old_xdg_ = old;
    had_xdg_ = old != nullptr;
    ::setenv("XDG_CACHE_HOME", xdg_.path().c_str(), 1);
  }
  void TearDown() override {
    if (had_xdg_) {
      ::setenv("XDG_CACHE_HOME", old_xdg_.c_str(), 1);
    } else {
      ::unsetenv("XDG_CACHE_HOME");
    }
  }
  fs::path user_cache() const { return xdg_.path() / "loom"; }

  TempDir xdg_;
  std::string old_xdg_;
  bool had_xdg_ = false;
};

// A load that finds the cache at PATH invalid for a reason containing WHY, rebuilds it there,
// and leaves one that the next load uses, with the uncached logits.
void expect_rebuilt(const fs::path& dir, const fs::path& path, const std::string& why,
                    const std::vector<float>& want, DType type = DType::Q4_0) {
  {
    const loom::Model m = loom::Model::load(dir, cached(type));
    EXPECT_EQ(m.quantization().source, QuantSource::QuantizedAtLoad);
    EXPECT_THAT(log_of(m), HasSubstr("invalid, rebuilding: " + path.string() + ": "));
    EXPECT_THAT(log_of(m), HasSubstr(why));
    EXPECT_THAT(log_of(m), HasSubstr("written " + path.string()));
    EXPECT_TRUE(bit_identical(logits(m), want));
  }
  const loom::Model again = loom::Model::load(dir, cached(type));
  EXPECT_EQ(again.quantization().source, QuantSource::CacheFile) << log_of(again);
  EXPECT_TRUE(bit_identical(logits(again), want));
}

TEST_F(QuantCacheTest, WrittenThenMappedWithIdenticalLogits) {
  ModelFolder folder(kStories);
  const fs::path path = folder / "loom-q4_0.cache";
  const loom::Model plain = loom::Model::load(folder.dir(), {.quantize = DType::Q4_0});
  EXPECT_FALSE(fs::exists(path));  // Off, the library's default, writes nothing
  EXPECT_TRUE(plain.quantization().cache_log.empty());
  EXPECT_TRUE(plain.quantization().cache_file.empty());
  const std::vector<float> want = logits(plain);

  const loom::Model first = loom::Model::load(folder.dir(), cached(DType::Q4_0));
  const loom::Quantization& q1 = first.quantization();
  EXPECT_EQ(q1.source, QuantSource::QuantizedAtLoad);
  EXPECT_EQ(q1.cache_file, path);
  ASSERT_TRUE(fs::exists(path));
  EXPECT_EQ(q1.cache_bytes, fs::file_size(path));
  EXPECT_THAT(log_of(first), HasSubstr("written " + path.string()));
  EXPECT_EQ(q1.quantized, 31);
  EXPECT_TRUE(bit_identical(logits(first), want));

  const loom::Model second = loom::Model::load(folder.dir(), cached(DType::Q4_0));
  const loom::Quantization& q2 = second.quantization();
  EXPECT_EQ(q2.source, QuantSource::CacheFile);
  EXPECT_EQ(q2.cache_file, path);
  EXPECT_EQ(q2.quantized, q1.quantized);
  EXPECT_EQ(q2.kept, q1.kept);
  EXPECT_THAT(log_of(second), HasSubstr("used " + path.string()));
  // The views point into the mapping, each matrix on a cache line; nothing was quantized.
  const loom::detail::LoadedModel& in = loom::detail::loaded(second);
  ASSERT_TRUE(in.quant_cache.has_value());
  EXPECT_EQ(in.quantized.size(), 0u);
  const uint8_t* begin = in.quant_cache->data();
  const uint8_t* end = begin + in.quant_cache->size();
  for (const auto& l : in.weights.layers) {
    for (const loom::ops::MatRef* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up}) {
      const auto* p = static_cast<const uint8_t*>(m->data);
      EXPECT_TRUE(p >= begin && p < end);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
      EXPECT_EQ(m->dtype, DType::Q4_0);
    }
  }
  EXPECT_TRUE(bit_identical(logits(second), want));
}

TEST_F(QuantCacheTest, DamagedMatrixIsNamedAndRebuilt) {
  ModelFolder folder(kStories);
  const fs::path path = folder / "loom-q4_0.cache";
  const std::vector<float> want =
      logits(loom::Model::load(folder.dir(), {.quantize = DType::Q4_0}));
  size_t at = 0;
  {
    loom::Model::load(folder.dir(), cached(DType::Q4_0));  // writes it
    const loom::Model m = loom::Model::load(folder.dir(), cached(DType::Q4_0));
    ASSERT_EQ(m.quantization().source, QuantSource::CacheFile);
    const auto* up =
        static_cast<const uint8_t*>(loom::detail::loaded(m).weights.layers[2].w_up.data);
    at = static_cast<size_t>(up - loom::detail::loaded(m).quant_cache->data()) + 100;
  }
  std::string bytes = read_bytes(path);
  bytes[at] = static_cast<char>(bytes[at] ^ 0x10);
  write_bytes(path, bytes);
  expect_rebuilt(folder.dir(), path,
                 "matrix 'model.layers.2.mlp.up_proj.weight' checksum (damaged bytes): expected ",
                 want);
}

TEST_F(QuantCacheTest, TruncatedOrGarbageFilesAreRebuilt) {
  ModelFolder folder(kStories);
  const fs::path path = folder / "loom-q4_0.cache";
  const std::vector<float> want =
      logits(loom::Model::load(folder.dir(), {.quantize = DType::Q4_0}));
  loom::Model::load(folder.dir(), cached(DType::Q4_0));
  const std::string good = read_bytes(path);
  const struct {
    std::string bytes, why;
  } cases[] = {
      {"", "file of 0 bytes is shorter than the 64-byte header (truncated?)"},
      {good.substr(0, 32), "file of 32 bytes is shorter than the 64-byte header"},
      {good.substr(0, 200), "file size (the header's file_bytes): expected " +
                                std::to_string(good.size()) + ", found 200"},
      {good.substr(0, good.size() - 1), "found " + std::to_string(good.size() - 1)},
      {std::string(good.size(), '\xa5'), "magic: not a loom quantized-weights cache"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.why);
    write_bytes(path, c.bytes);
    expect_rebuilt(folder.dir(), path, c.why, want);
  }
}

// Fields changed behind a resealed header checksum (as a bug or another writer could), so that
// the checks behind it run: counts and lengths far past the file are rejected, not followed.
TEST_F(QuantCacheTest, FieldsAreCheckedBeforeUse) {
  ModelFolder folder(kStories);
  const fs::path path = folder / "loom-q4_0.cache";
  const std::vector<float> want =
      logits(loom::Model::load(folder.dir(), {.quantize = DType::Q4_0}));
  loom::Model::load(folder.dir(), cached(DType::Q4_0));
  const std::string good = read_bytes(path);
  const uint64_t big = uint64_t{1} << 62;
  struct Case {
    size_t offset;
    uint64_t value;
    int width;  // bytes
    bool reseal;
    std::string why;
  };
  const Case cases[] = {
      {8, 3, 4, false, "format version: expected 2, found 3"},
      {12, 99, 4, false, "quantizer version: expected 1, found 99"},
      {16, 3, 4, false, "type: expected q4_0, found q8_0"},
      {16, 106, 4, false, "type: expected q4_0, found q4_k_m"},
      {16, 77, 4, false, "type: expected q4_0, found code 77"},
      {20, 0xffffffff, 4, true, "source files: expected 1, found 4294967295"},
      {24, 0xffffffff, 4, true, "matrices: expected 31, found 4294967295"},
      {64 + 16, 0xfffffff0, 4, true, "header ends inside the name of source 'model.safetensors'"},
      {40, big, 8, false, "header_bytes 4611686018427387904 and data_offset"},
      {48, big, 8, false, "data_offset 4611686018427387904 do not fit"},
      {56, big, 8, false, "file size (the header's file_bytes): expected 4611686018427387904"},
      {32, 12345, 8, false, "header checksum"},
      {32, 12345, 8, true, "config.json hash"},
      {64, 1, 8, true, "source 'model.safetensors' size: expected 1044992, found 1"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.why);
    std::string bytes = good;
    if (c.width == 4) {
      set_field(bytes, c.offset, static_cast<uint32_t>(c.value));
    } else {
      set_field(bytes, c.offset, c.value);
    }
    if (c.reseal) reseal_header(bytes);
    write_bytes(path, bytes);
    expect_rebuilt(folder.dir(), path, c.why, want);
  }
}

TEST_F(QuantCacheTest, ChangedCheckpointOrConfigIsRebuilt) {
  ModelFolder folder(kStories);
  const fs::path path = folder / "loom-q8_0.cache";
  const std::vector<float> want =
      logits(loom::Model::load(folder.dir(), {.quantize = DType::Q8_0}));
  loom::Model::load(folder.dir(), cached(DType::Q8_0));
  // Touched: same bytes, a new modification time.
  const fs::path weights = folder / "model.safetensors";
  fs::last_write_time(weights, fs::last_write_time(weights) + std::chrono::seconds(3));
  expect_rebuilt(folder.dir(), path, "source 'model.safetensors' mtime", want, DType::Q8_0);
  // config.json rewritten with the same values: its bytes differ.
  folder.edit_config([](loom::test::json&) {});
  expect_rebuilt(folder.dir(), path, "config.json hash", want, DType::Q8_0);
}

TEST_F(QuantCacheTest, ShardedCheckpointFingerprintsEveryFile) {
  ModelFolder folder(kSharded);
  const fs::path path = folder / "loom-q4_0.cache";
  const std::vector<float> want =
      logits(loom::Model::load(folder.dir(), {.quantize = DType::Q4_0}));
  const loom::Model first = loom::Model::load(folder.dir(), cached(DType::Q4_0));
  EXPECT_EQ(first.quantization().quantized, 3 * 7 + 1);
  EXPECT_TRUE(bit_identical(logits(first), want));
  const fs::path shard = folder / "model-00002-of-00002.safetensors";
  fs::last_write_time(shard, fs::last_write_time(shard) - std::chrono::seconds(5));
  expect_rebuilt(folder.dir(), path, "source 'model-00002-of-00002.safetensors' mtime", want);
  const fs::path index = folder / "model.safetensors.index.json";
  fs::last_write_time(index, fs::last_write_time(index) + std::chrono::seconds(5));
  expect_rebuilt(folder.dir(), path, "source 'model.safetensors.index.json' mtime", want);
}

TEST_F(QuantCacheTest, EachTypeHasItsOwnFile) {
  ModelFolder folder(kStories);
  for (DType t : {DType::Q4_0, DType::Q8_0}) {
    const loom::Model m = loom::Model::load(folder.dir(), cached(t));
    EXPECT_EQ(m.quantization().source, QuantSource::QuantizedAtLoad);
  }
  for (DType t : {DType::Q4_0, DType::Q8_0}) {
    const loom::Model m = loom::Model::load(folder.dir(), cached(t));
    EXPECT_EQ(m.quantization().source, QuantSource::CacheFile) << log_of(m);
    EXPECT_EQ(m.quantization().cache_file,
              folder / (std::string("loom-") + loom::dtype_name(t) + ".cache"));
    EXPECT_EQ(loom::detail::loaded(m).weights.layers[0].wq.dtype, t);
  }
}

// Makes a folder unwritable even for root (whose writes ignore permissions): the immutable
// attribute where the file system and capabilities allow it. Undone on destruction.
class Unwritable {
 public:
  explicit Unwritable(const fs::path& dir) : dir_(dir) {
    fs::permissions(dir, fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write,
                    fs::perm_options::remove);
    if (writable()) set_immutable(true);
  }
  ~Unwritable() {
    if (immutable_) set_immutable(false);
    fs::permissions(dir_, fs::perms::owner_write, fs::perm_options::add);
  }
  // Whether a file can still be created there.
  bool writable() const {
    const fs::path probe = dir_ / "probe";
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return false;
    ::close(fd);
    ::unlink(probe.c_str());
    return true;
  }

 private:
  void set_immutable(bool on) {
    const int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return;
    int flags = 0;
    if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
      flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
      if (::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0) immutable_ = on;
    }
    ::close(fd);
  }
  fs::path dir_;
  bool immutable_ = false;
};

TEST_F(QuantCacheTest, UnwritableFolderFallsBackToTheUserCache) {
  ModelFolder folder(kStories);
  const std::vector<float> want =
      logits(loom::Model::load(folder.dir(), {.quantize = DType::Q4_0}));
  const Unwritable lock(folder.dir());
  if (lock.writable()) {
    GTEST_SKIP() << "cannot make " << folder.dir() << " unwritable here (root without the "
                 << "immutable attribute); the fallback is covered by CacheNameTakenByAFolder";
  }
  const std::vector<fs::path> where = loom::model::quant_cache_paths(folder.dir(), "q4_0");
  ASSERT_EQ(where.size(), 2u);
  EXPECT_EQ(where[1].parent_path(), user_cache());
  EXPECT_THAT(where[1].filename().string(), HasSubstr("-q4_0.cache"));
  {
    const loom::Model m = loom::Model::load(folder.dir(), cached(DType::Q4_0));
    EXPECT_EQ(m.quantization().source, QuantSource::QuantizedAtLoad);
    EXPECT_EQ(m.quantization().cache_file, where[1]) << log_of(m);
    EXPECT_TRUE(fs::exists(where[1]));
  }
  const loom::Model m = loom::Model::load(folder.dir(), cached(DType::Q4_0));
  EXPECT_EQ(m.quantization().source, QuantSource::CacheFile) << log_of(m);
  EXPECT_EQ(m.quantization().cache_file, where[1]);
  EXPECT_TRUE(bit_identical(logits(m), want));
  EXPECT_FALSE(fs::exists(folder / "loom-q4_0.cache"));
}

// The file beside the weights cannot be read or replaced (a folder of that name): the user cache
// takes over, whoever runs the test.
TEST_F(QuantCacheTest, CacheNameTakenByAFolder) {
  ModelFolder folder(kStories);
  fs::create_directory(folder / "loom-q4_0.cache");
  const std::vector<fs::path> where = loom::model::quant_cache_paths(folder.dir(), "q4_0");
  {
    const loom::Model m = loom::Model::load(folder.dir(), cached(DType::Q4_0));
    EXPECT_THAT(log_of(m), HasSubstr("not a regular file"));
    EXPECT_EQ(m.quantization().cache_file, where[1]) << log_of(m);
  }
  const loom::Model m = loom::Model::load(folder.dir(), cached(DType::Q4_0));
  EXPECT_EQ(m.quantization().source, QuantSource::CacheFile) << log_of(m);
  EXPECT_EQ(m.quantization().cache_file, where[1]);
}

TEST_F(QuantCacheTest, ExplicitPath) {
  ModelFolder folder(kStories);
  TempDir elsewhere;
  const fs::path path = elsewhere.path() / "sub" / "mine.cache";
  loom::LoadOptions o = cached(DType::Q8_0);
  loom::tools::set_quant_cache_flag(o, path.string());
  EXPECT_EQ(o.quant_cache, QuantCache::Auto);
  EXPECT_EQ(loom::Model::load(folder.dir(), o).quantization().cache_file, path);
  const loom::Model m = loom::Model::load(folder.dir(), o);
  EXPECT_EQ(m.quantization().source, QuantSource::CacheFile);
  EXPECT_EQ(m.quantization().cache_file, path);
  EXPECT_FALSE(fs::exists(folder / "loom-q8_0.cache"));
  EXPECT_TRUE(!fs::exists(user_cache()) || fs::is_empty(user_cache()));
  // The cache of one model is not another's.
  ModelFolder other(kSharded);
  const loom::Model o2 = loom::Model::load(other.dir(), o);
  EXPECT_EQ(o2.quantization().source, QuantSource::QuantizedAtLoad);
  EXPECT_THAT(log_of(o2), HasSubstr("config.json hash"));
}

TEST_F(QuantCacheTest, FlagValues) {
  loom::LoadOptions o;
  loom::tools::set_quant_cache_flag(o, "auto");
  EXPECT_EQ(o.quant_cache, QuantCache::Auto);
  EXPECT_TRUE(o.quant_cache_path.empty());
  loom::tools::set_quant_cache_flag(o, "off");
  EXPECT_EQ(o.quant_cache, QuantCache::Off);
  EXPECT_THROW(loom::tools::set_quant_cache_flag(o, ""), loom::Error);
}

// A cache that cannot be written (the file size limit stands in for a full disk: the write fails
// part way) is a warning: the load goes on uncached, and no partial file is left anywhere.
TEST_F(QuantCacheTest, FailedWriteRunsUncached) {
  ModelFolder folder(kStories);
  const std::vector<float> want =
      logits(loom::Model::load(folder.dir(), {.quantize = DType::Q4_0}));
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of the signal
  rlimit small = old;
  small.rlim_cur = 8192;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string log;
  std::vector<float> got;
  loom::Quantization q;
  {
    const loom::Model m = loom::Model::load(folder.dir(), cached(DType::Q4_0));
    q = m.quantization();
    log = log_of(m);
    got = logits(m);
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(q.source, QuantSource::QuantizedAtLoad);
  EXPECT_TRUE(q.cache_file.empty());
  EXPECT_THAT(log, HasSubstr("warning: not written (cannot write "));
  EXPECT_THAT(log, HasSubstr("File too large"));
  EXPECT_THAT(log, HasSubstr("running uncached"));
  EXPECT_TRUE(bit_identical(got, want));
  for (const fs::path& d : {folder.dir(), user_cache()}) {
    if (!fs::exists(d)) continue;
    for (const auto& e : fs::directory_iterator(d)) {
      EXPECT_EQ(e.path().string().find(".cache"), std::string::npos) << e.path();
    }
  }
}

TEST_F(QuantCacheTest, SyntheticModelsNeverUseOne) {
  loom::ModelConfig c = loom::Model::read_config(kStories / "config.json");
  const loom::Model m = loom::model::synthetic_model(c, DType::F32, 1, cached(DType::Q4_0));
  EXPECT_EQ(m.quantization().source, QuantSource::QuantizedAtLoad);
  EXPECT_TRUE(m.quantization().cache_file.empty());
  EXPECT_TRUE(m.quantization().cache_log.empty());
  EXPECT_FALSE(fs::exists(user_cache()));
}

}  // namespace
