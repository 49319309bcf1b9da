#include "model/load_quantized.h"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "io/checksum.h"
#include "loom/error.h"
#include "model/quant_cache.h"
#include "model/quantize_weights.h"

namespace loom::model {
namespace fs = std::filesystem;
namespace {

std::string size_str(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

// The cache directory of the XDG base directory spec, if the environment names one.
std::optional<fs::path> user_cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && xdg[0] == '/') return fs::path(xdg) / "loom";  // the spec ignores relative ones
  const char* home = std::getenv("HOME");
  if (home && home[0] != '\0') return fs::path(home) / ".cache" / "loom";
  return std::nullopt;
}

}  // namespace

std::vector<fs::path> quant_cache_paths(const fs::path& dir, const std::string& name) {
  const std::string file = "loom-" + name + ".cache";
  // A GGUF file's cache lies beside it: NAME.gguf.loom-q8_0.cache.
  const bool single = fs::is_regular_file(dir);
  std::vector<fs::path> out{single ? fs::path(dir.string() + "." + file) : dir / file};
  if (std::optional<fs::path> user = user_cache_dir()) {
    std::error_code ec;
    fs::path abs = fs::weakly_canonical(fs::absolute(dir, ec), ec);
    if (ec) abs = fs::absolute(dir, ec).lexically_normal();
    const std::string s = abs.string();
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016" PRIx64, io::hash64(s.data(), s.size()));
    std::string name = abs.filename().string();
    if (name.empty()) name = "model";
    out.push_back(*user / (name + "-" + hash + "-" + file));
  }
  return out;
}

namespace {

// load_quantized, but Q gets the cache fields only.
QuantizedMemory place_quantized(LlamaWeights& w, const io::TensorStore& store, const fs::path& dir,
                                const LoadOptions& options, Quantization& q) {
  const QuantLayout layout = quant_layout(w, *quant_choice(options));
  QuantizedMemory mem;
  q.source = QuantSource::QuantizedAtLoad;
  if (options.quant_cache == QuantCache::Off) {
    mem.quantized = io::AnonymousMemory(layout.bytes);
    quantize_into(layout, mem.quantized.data(), 0, /*sources_mapped=*/true);
    return mem;
  }

  std::optional<QuantCacheKey> key;
  try {
    key = quant_cache_key(dir, store.source_files(), layout);
  } catch (const Error& e) {
    q.cache_log.push_back(std::string("warning: cannot fingerprint the checkpoint (") + e.what() +
                          "); running uncached");
  }
  const std::vector<fs::path> paths = options.quant_cache_path.empty()
                                          ? quant_cache_paths(dir, layout.choice.name())
                                          : std::vector<fs::path>{options.quant_cache_path};
  if (key) {
    for (const fs::path& p : paths) {
      std::error_code ec;
      if (!fs::exists(p, ec)) continue;
      std::string why;
      std::optional<QuantCacheFile> cache = open_quant_cache(p, *key, 0, why);
      if (!cache) {
        q.cache_log.push_back("invalid, rebuilding: " + why);
        continue;
      }
      bind_quantized(layout, cache->data);
      q.source = QuantSource::CacheFile;
      q.cache_file = p;
      q.cache_bytes = cache->file.size();
      q.cache_log.push_back("used " + p.string() + " (" + size_str(q.cache_bytes) + ")");
      mem.cache = std::move(cache->file);
      return mem;
    }
  }

  mem.quantized = io::AnonymousMemory(layout.bytes);
  quantize_into(layout, mem.quantized.data(), 0, /*sources_mapped=*/true);
  if (!key) return mem;
  std::string failures;
  for (const fs::path& p : paths) {
    try {
      std::error_code ec;
      if (p.has_parent_path()) fs::create_directories(p.parent_path(), ec);
      // The error to report is the write's own, below, which names the file.
      q.cache_bytes = write_quant_cache(p, *key, mem.quantized.data(), 0);
      q.cache_file = p;
      q.cache_log.push_back("written " + p.string() + " (" + size_str(q.cache_bytes) + ")" +
                            (failures.empty() ? "" : "; not beside the weights: " + failures));
      return mem;
    } catch (const Error& e) {
      failures += (failures.empty() ? "" : "; ") + std::string(e.what());
    }
  }
  q.cache_log.push_back("warning: not written (" + failures + "); running uncached");
  return mem;
}

}  // namespace

QuantizedMemory load_quantized(LlamaWeights& w, const io::TensorStore& store, const fs::path& dir,
                               const LoadOptions& options, Quantization& q) {
  Quantization cache;
  QuantizedMemory mem = place_quantized(w, store, dir, options, cache);
  q = describe_quantization(w, *quant_choice(options));
  q.source = cache.source;
  q.cache_file = std::move(cache.cache_file);
  q.cache_bytes = cache.cache_bytes;
  q.cache_log = std::move(cache.cache_log);
  return mem;
}

}  // namespace loom::model
