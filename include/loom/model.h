// A loaded model: config, tokenizer and weights mapped from a Hugging Face folder. Immutable once
// loaded; any number of Sessions may share one Model.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loom/config.h"
#include "loom/tokenizer.h"

#pragma GCC visibility push(default)  // the public API: what libloom.so exports
namespace loom {

namespace detail {
struct LoadedModel;
class ModelAccess;  // how the layers below the public API reach a Model's insides
}  // namespace detail

// The file types of GGUF files loom writes, as llama-quantize names them (its llama_ftype): most
// matrices in the type of the name, llama.cpp's per-tensor rules for the others: the output (or
// a tied embedding) Q6_K (Q8_0 in a Q8_0 file); in the _M mixes Q6_K for attn_v and ffn_down of
// the first and last eighth of the layers and every third between; in Q4_K_S Q5_K for the first
// four attn_v and the first eighth of ffn_down; rows that the type's blocks do not divide
// (Q4_K, Q5_K and Q6_K take super-blocks of 256) fall back to Q5_0 (from Q4_K), Q5_1 (Q5_K) or Q8_0
// (Q6_K), and to F16 where 32 does not divide them either. Norms and biases are F32.
enum class GgufFileType : uint8_t {
  F32,
  F16,
  BF16,
  Q8_0,
  Q4_0,
  Q4_K_S,
  Q4_K_M,
  Q5_K_S,
  Q5_K_M,
  Q6_K
};

// "f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_s", "q4_k_m", "q5_k_s", "q5_k_m", "q6_k".
const char* gguf_file_type_name(GgufFileType t);
std::optional<GgufFileType> gguf_file_type_from_name(std::string_view name);
std::string gguf_file_type_names();  // all of them, comma-separated

// Whether Model::load keeps the matrices it quantizes in a cache file (see LoadOptions).
enum class QuantCache { Off, Auto };

struct LoadOptions {
  // DType::Q8_0, Q4_0 or Q4_K: quantize the matrices of the products (attention, MLP, output
  // head) at load, with all cores, into memory of their own. Left as stored: the token embedding
  // (a lookup of rows, not a product; a tied output head gets its own quantized copy) and any
  // matrix whose rows are not whole blocks of 32 weights. Empty: every weight as stored.
  std::optional<DType> quantize;
  // Instead of `quantize`: one of llama-quantize's quantized file types (Q8_0, Q4_0, Q4_K_S ..
  // Q6_K): each matrix of the products gets the type write_gguf gives it in such a file (Q6_K
  // for the output head, the _M mixes' Q6_K layers, the fallbacks; ggml's Q5_0/Q5_1/Q5_K/Q6_K
  // are held in ggml's blocks), or stays as stored where that type is F16. The embedding stays
  // as stored, as with `quantize`.
  std::optional<GgufFileType> quantize_mix;

  // With `quantize`: Auto maps the quantized matrices from a cache file when a valid one exists
  // (the checkpoint's matrices are not read and nothing is quantized; the cache is read once, for
  // its checksums), and otherwise quantizes and writes one for next time. The file is
  // quant_cache_path if given, else DIR/loom-<type>.cache, or, when the folder is not writable, a
  // file named for the folder's path under $XDG_CACHE_HOME/loom/ (~/.cache/loom/). A cache is used
  // only if it matches the checkpoint (file sizes and modification times, config.json), the
  // quantizer and every checksum; otherwise it is rebuilt. One that cannot be written leaves the
  // model quantized in memory, as Off does. Off by default: a library writes no files unasked.
  // Synthetic models never use a cache. Model::quantization() tells what happened.
  QuantCache quant_cache = QuantCache::Off;
  std::filesystem::path quant_cache_path;

  // Which tokenizer file to read: by default tokenizer.json when the folder has one (as
  // transformers does), else tokenizer.model.
  TokenizerOptions tokenizer;
};

// Where quantized matrices came from.
enum class QuantSource {
  QuantizedAtLoad,  // quantized from the checkpoint's weights as the model loaded
  CacheFile,        // mapped from a quantized-weights cache file (LoadOptions::quant_cache)
};

// What loading quantized.
struct Quantization {
  std::optional<DType> type;  // empty: nothing was, or a mix was (then `mix`)
  std::optional<GgufFileType> mix;
  int quantized = 0;  // matrices quantized
  // The matrices left as stored, one line each ("name (dtype): why"); a layer's matrix stands for
  // that matrix of every layer, as "model.layers.*.mlp.down_proj.weight".
  std::vector<std::string> kept;
  QuantSource source = QuantSource::QuantizedAtLoad;
  // The cache file read (source CacheFile) or written (QuantizedAtLoad), and its size; empty
  // when no cache was used or written.
  std::filesystem::path cache_file;
  uint64_t cache_bytes = 0;
  // What the cache did, one line each, for tools to print: caches found invalid and why, the
  // cache used or written, or the warning that none could be written.
  std::vector<std::string> cache_log;
};

class Model {
 public:
  // Loads a Hugging Face folder of an architecture loom runs (loom::Arch, config().arch):
  // config.json, model.safetensors (or a sharded
  // model.safetensors.index.json), tokenizer.model. Weights are mmap'd, not copied, unless
  // OPTIONS asks for them quantized (then mapped from a quantized-weights cache file, if
  // OPTIONS.quant_cache allows and a valid one exists). Throws loom::Error naming the file, tensor
  // or key at fault; a cache that cannot be used or written is never an error.
  static Model load(const std::filesystem::path& dir, const LoadOptions& options = {});

  // A config.json file's architecture (throws loom::Error naming the file and key at fault).
  static ModelConfig read_config(const std::filesystem::path& config_json);

  const ModelConfig& config() const;
  const Tokenizer& tokenizer() const;  // throws for a synthetic model
  bool has_tokenizer() const;
  const std::filesystem::path& dir() const;
  const Quantization& quantization() const;
  // Bytes of the weights the model uses, quantized ones as quantized (an output head quantized
  // from tied embeddings counts apart from them).
  size_t weight_bytes() const;
  // Bytes of weights one decode step reads: every matrix once, one row of the embedding.
  size_t decode_weight_bytes() const;
  // Number of weights (parameters) the model uses.
  size_t n_params() const;

 private:
  friend class detail::ModelAccess;
  std::shared_ptr<const detail::LoadedModel> impl_;
};

// LoadOptions that quantize to NAME: "" (nothing), "q8_0", "q4_0" or "q4_k" (every matrix), or
// one of llama-quantize's mixes, "q4_k_s", "q4_k_m", "q5_k_s", "q5_k_m", "q6_k" (its per-tensor
// rules). Any other name: an Error naming it.
LoadOptions quantize_options(std::string_view name);

// Writes MODEL as a GGUF file llama.cpp reads (the conversion llama.cpp's convert_hf_to_gguf.py
// and llama-quantize do): its config as llama.cpp's metadata, its folder's tokenizer
// (tokenizer.model or tokenizer.json) and chat template. Matrices quantized at load are written
// as they are (in ggml's blocks); the others by TYPE's rules (empty: as stored), quantized on
// THREADS threads (0: all; the bytes do not depend on it). With SPLIT_MAX_BYTES, the file is
// written as shards of at most that many tensor bytes each, as llama-gguf-split --split-max-size
// writes them (OUT less .gguf, then -00001-of-0000N.gguf ...; a tensor larger than that gets a
// shard of its own); loom and llama.cpp open them by the first. Returns the files written.
// Throws loom::Error naming what cannot be written.
std::vector<std::filesystem::path> write_gguf(const Model& model, const std::filesystem::path& out,
                                              std::optional<GgufFileType> type = std::nullopt,
                                              int threads = 0, uint64_t split_max_bytes = 0);

}  // namespace loom
#pragma GCC visibility pop
