#include "model/gguf_model.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "io/anonymous_memory.h"
#include "loom/error.h"
#include "model/rope_freq.h"
#include "quant/blocks.h"
#include "quant/dtype_traits.h"
#include "quant/ggml_repack.h"
#include "simd/half.h"

namespace loom::model {
namespace {

// Hugging Face's names of a layer's tensors (after "model.layers.N.") and ggml's (after
// "blk.N."), as llama.cpp's converter maps them (gguf-py's tensor_mapping.py).
struct NamePair {
  const char* hf;
  const char* gguf;
};
constexpr NamePair kLayerNames[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.q_proj.bias", "attn_q.bias"},
    {"self_attn.k_proj.bias", "attn_k.bias"},
    {"self_attn.v_proj.bias", "attn_v.bias"},
    {"self_attn.o_proj.bias", "attn_output.bias"},
    {"self_attn.q_norm.weight", "attn_q_norm.weight"},
    {"self_attn.k_norm.weight", "attn_k_norm.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
    {"mlp.gate_proj.bias", "ffn_gate.bias"},
    {"mlp.up_proj.bias", "ffn_up.bias"},
    {"mlp.down_proj.bias", "ffn_down.bias"},
};
constexpr NamePair kModelNames[] = {
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
};

// "PREFIX<digits>.REST" -> the layer number and REST.
bool split_layer(const std::string& name, const std::string& prefix, int& layer,
                 std::string& rest) {
  if (name.rfind(prefix, 0) != 0) return false;
  size_t at = prefix.size(), end = at;
  while (end < name.size() && end - at < 6 && name[end] >= '0' && name[end] <= '9') ++end;
  if (end == at || end >= name.size() || name[end] != '.') return false;
  layer = std::stoi(name.substr(at, end - at));
  rest = name.substr(end + 1);
  return true;
}

class Reader {
 public:
  explicit Reader(const io::GgufFile& f) : f_(f), where_(f.path().string()) {}

  [[noreturn]] void fail(const std::string& what) const { throw Error(where_ + ": " + what); }

  int count(const std::string& key) const {
    const uint64_t v = f_.get_uint(key);
    if (v == 0 || v > INT_MAX) fail("metadata key '" + key + "' is " + std::to_string(v));
    return static_cast<int>(v);
  }
  int count_or(const std::string& key, int fallback) const {
    return f_.has(key) ? count(key) : fallback;
  }
  float positive_or(const std::string& key, float fallback) const {
    if (!f_.has(key)) return fallback;
    const double v = f_.get_float(key);
    if (!(v > 0) || !std::isfinite(v)) {
      fail("metadata key '" + key + "' is " + std::to_string(v) + ", not a positive number");
    }
    return static_cast<float>(v);
  }
  std::optional<int> token_or(const std::string& key, int vocab) const {
    if (!f_.has(key)) return std::nullopt;
    const uint64_t v = f_.get_uint(key);
    if (v >= static_cast<uint64_t>(vocab)) {
      fail("metadata key '" + key + "' is token " + std::to_string(v) + ", outside the " +
           std::to_string(vocab) + "-token vocabulary");
    }
    return static_cast<int>(v);
  }

  const io::GgufFile& f_;
  std::string where_;
};

// The table's ggml numbers are io::GgmlType's.
constexpr bool same_number(DType d, io::GgmlType g) {
  return quant::traits(d).ggml == static_cast<uint32_t>(g);
}
static_assert(
    same_number(DType::F32, io::GgmlType::F32) && same_number(DType::F16, io::GgmlType::F16) &&
    same_number(DType::BF16, io::GgmlType::BF16) && same_number(DType::Q8_0, io::GgmlType::Q8_0) &&
    same_number(DType::Q4_0, io::GgmlType::Q4_0) && same_number(DType::Q4_K, io::GgmlType::Q4_K) &&
    same_number(DType::Q5_0, io::GgmlType::Q5_0) && same_number(DType::Q5_1, io::GgmlType::Q5_1) &&
    same_number(DType::Q5_K, io::GgmlType::Q5_K) && same_number(DType::Q6_K, io::GgmlType::Q6_K));

// The traits of the loom type ggml type T is, if loom reads it.
const quant::DTypeTraits* loom_traits(io::GgmlType t) {
  return quant::traits_of_ggml(static_cast<uint32_t>(t));
}

Arch arch_of(const Reader& r, const std::string& name) {
  for (Arch a : {Arch::Llama, Arch::Mistral, Arch::Qwen2, Arch::Qwen3}) {
    if (name == gguf_arch_name(a)) return a;
  }
  r.fail("general.architecture is '" + name +
         "'; loom runs llama, mistral, qwen2 and qwen3 models");
}

ModelConfig read_config(const Reader& r) {
  const io::GgufFile& f = r.f_;
  ModelConfig c;
  const std::string arch = f.get_string("general.architecture");
  c.arch = arch_of(r, arch);
  c.model_type = arch_name(c.arch);
  const std::string p = arch + ".";
  c.hidden_size = r.count(p + "embedding_length");
  c.n_layers = r.count(p + "block_count");
  c.intermediate_size = r.count(p + "feed_forward_length");
  c.n_heads = r.count(p + "attention.head_count");
  c.n_kv_heads = r.count_or(p + "attention.head_count_kv", c.n_heads);
  if (c.n_heads % c.n_kv_heads != 0) {
    r.fail(p + "attention.head_count (" + std::to_string(c.n_heads) + ") is not a multiple of " +
           p + "attention.head_count_kv (" + std::to_string(c.n_kv_heads) + ")");
  }
  if (!f.has(p + "attention.key_length") && c.hidden_size % c.n_heads != 0) {
    r.fail(p + "embedding_length is not a multiple of " + p +
           "attention.head_count, and no attention.key_length is given");
  }
  c.head_dim = r.count_or(p + "attention.key_length", c.hidden_size / c.n_heads);
  if (f.has(p + "attention.value_length") && r.count(p + "attention.value_length") != c.head_dim) {
    r.fail(p + "attention.value_length differs from the key length; loom needs them equal");
  }
  if (c.head_dim % 2 != 0) r.fail("the head dimension " + std::to_string(c.head_dim) + " is odd");
  c.max_position_embeddings = r.count_or(p + "context_length", 2048);
  c.rms_norm_eps = r.positive_or(p + "attention.layer_norm_rms_epsilon", 1e-5f);
  c.rope.theta = r.positive_or(p + "rope.freq_base", 10000.0f);
  if (f.has(p + "rope.dimension_count") && r.count(p + "rope.dimension_count") != c.head_dim) {
    r.fail(p + "rope.dimension_count is " + std::to_string(r.count(p + "rope.dimension_count")) +
           "; loom rotates whole heads of " + std::to_string(c.head_dim));
  }
  if (const auto type = f.find_string(p + "rope.scaling.type"); type && *type != "none") {
    c.rope.factor = r.positive_or(p + "rope.scaling.factor", 1.0f);
    if (*type == "linear") {
      c.rope.scaling = RopeScalingType::Linear;
    } else if (*type == "yarn") {
      c.rope.scaling = RopeScalingType::Yarn;
      c.rope.original_max_position =
          r.count_or(p + "rope.scaling.original_context_length", c.max_position_embeddings);
      // As transformers derives it (in double) when the file does not say.
      const double s = c.rope.factor;
      c.rope.attention_factor = f.has(p + "rope.scaling.attn_factor")
                                    ? r.positive_or(p + "rope.scaling.attn_factor", 1.0f)
                                    : static_cast<float>(s <= 1 ? 1.0 : 0.1 * std::log(s) + 1.0);
      c.rope.beta_fast = r.positive_or(p + "rope.scaling.yarn_beta_fast", 32.0f);
      c.rope.beta_slow = r.positive_or(p + "rope.scaling.yarn_beta_slow", 1.0f);
    } else {
      r.fail("metadata key '" + p + "rope.scaling.type' is '" + *type +
             "'; loom reads none, linear and yarn");
    }
  }
  if (f.has(p + "attention.sliding_window")) {
    c.sliding_window = r.count(p + "attention.sliding_window");
  }
  const io::GgufFile::Tensor* embd = f.find_tensor("token_embd.weight");
  if (!embd || embd->ne.size() != 2) r.fail("no 2-D tensor 'token_embd.weight'");
  if (embd->ne[1] > INT_MAX) r.fail("token_embd.weight has too many rows");
  c.vocab_size = static_cast<int>(embd->ne[1]);
  c.tie_word_embeddings = f.find_tensor("output.weight") == nullptr;
  if (f.has("tokenizer.ggml.tokens") &&
      f.array_size("tokenizer.ggml.tokens") != static_cast<uint64_t>(c.vocab_size)) {
    // llama.cpp's converter pads the list to the embedding's rows; any other count is a file
    // whose tokens and embedding disagree.
    r.fail("tokenizer.ggml.tokens has " + std::to_string(f.array_size("tokenizer.ggml.tokens")) +
           " tokens, token_embd.weight " + std::to_string(c.vocab_size) + " rows");
  }
  c.bos_token_id = r.token_or("tokenizer.ggml.bos_token_id", c.vocab_size).value_or(-1);
  // llama.cpp ends generation at any end-of-generation token: EOS, and EOT/EOM where set.
  for (const char* k : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
                        "tokenizer.ggml.eom_token_id"}) {
    if (auto id = r.token_or(k, c.vocab_size)) {
      if (std::find(c.eos_token_ids.begin(), c.eos_token_ids.end(), *id) == c.eos_token_ids.end()) {
        c.eos_token_ids.push_back(*id);
      }
    }
  }
  const bool q_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  c.attention_bias = c.arch == Arch::Qwen2 || (c.arch != Arch::Mistral && q_bias);
  c.mlp_bias = c.arch == Arch::Llama && f.find_tensor("blk.0.ffn_up.bias") != nullptr;
  c.qk_norm = c.arch == Arch::Qwen3;
  // The matrices' type, as the file's name for it would say (informational: each tensor keeps
  // its own).
  const io::GgufFile::Tensor* q = f.find_tensor("blk.0.attn_q.weight");
  const quant::DTypeTraits* tr = q ? loom_traits(q->type) : nullptr;
  c.dtype = tr ? tr->type : DType::F32;
  return c;
}

// The dtype TensorInfo names T by (ggml's own name: "Q8_0", "BF16"), if loom reads it.
const char* loom_dtype(io::GgmlType t) {
  return loom_traits(t) ? io::ggml_traits(static_cast<uint32_t>(t))->name : nullptr;
}

// Whether loom rearranges T's rows into its own row order (the others it reads as they lie).
bool repacked(io::GgmlType t) {
  return loom_traits(t) && loom_traits(t)->layout == quant::Layout::LoomRows;
}

// The source row of destination row R of a q or k matrix that llama.cpp's converter permuted:
// per head of HEAD_DIM rows, transformers' row half * HEAD_DIM / 2 + i is the file's 2i + half.
int64_t unpermuted(int64_t r, int head_dim) {
  const int64_t head = r / head_dim, in = r % head_dim, half = head_dim / 2;
  return head * head_dim + (in % half) * 2 + in / half;
}

}  // namespace

const char* gguf_arch_name(Arch arch) {
  return arch_name(arch);  // llama.cpp's names are transformers' model_type here
}

bool gguf_permutes_qk(const std::string& arch) {
  return arch == "llama";
}

std::string gguf_tensor_name(const std::string& hf) {
  for (const NamePair& n : kModelNames) {
    if (hf == n.hf) return n.gguf;
  }
  int layer;
  std::string rest;
  if (!split_layer(hf, "model.layers.", layer, rest)) return "";
  for (const NamePair& n : kLayerNames) {
    if (rest == n.hf) return "blk." + std::to_string(layer) + "." + n.gguf;
  }
  return "";
}

std::string hf_tensor_name(const std::string& gguf) {
  for (const NamePair& n : kModelNames) {
    if (gguf == n.gguf) return n.hf;
  }
  int layer;
  std::string rest;
  if (!split_layer(gguf, "blk.", layer, rest)) return "";
  for (const NamePair& n : kLayerNames) {
    if (rest == n.gguf) return "model.layers." + std::to_string(layer) + "." + n.hf;
  }
  return "";
}

GgufCheckpoint read_gguf_checkpoint(const std::shared_ptr<const io::GgufFile>& file) {
  const io::GgufFile& f = *file;
  const Reader r(f);
  GgufCheckpoint out;
  out.config = read_config(r);
  const ModelConfig& c = out.config;
  const bool permuted = gguf_permutes_qk(f.get_string("general.architecture"));

  // What each tensor becomes: a view, or rows rearranged into the copy.
  struct Plan {
    const io::GgufFile::Tensor* t;
    std::string name;
    size_t offset = 0;  // in the copy
    size_t bytes = 0;   // 0: a view into the file
    int head_dim = 0;   // q or k of a permuting converter: the rows' head size
  };
  std::vector<Plan> plans;
  size_t copy_bytes = 0;
  for (const io::GgufFile::Tensor& t : f.tensors()) {
    if (t.name == "rope_freqs.weight") continue;
    const std::string hf = hf_tensor_name(t.name);
    if (hf.empty()) {
      r.fail("tensor '" + t.name + "' is not one loom knows for " + arch_name(c.arch) + " models");
    }
    const char* dtype = loom_dtype(t.type);
    if (!dtype) {
      r.fail("tensor '" + t.name + "' has type " +
             io::ggml_traits(static_cast<uint32_t>(t.type))->name +
             "; loom reads F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_0, Q5_1, Q5_K and Q6_K tensors");
    }
    Plan p{&t, hf};
    const bool qk = hf.ends_with("q_proj.weight") || hf.ends_with("k_proj.weight") ||
                    hf.ends_with("q_proj.bias") || hf.ends_with("k_proj.bias");
    if (permuted && qk) p.head_dim = c.head_dim;
    const bool q_type = repacked(t.type);
    if (q_type || p.head_dim) {
      if (t.ne.size() > 2) r.fail("tensor '" + t.name + "' has more than 2 dimensions");
      const int64_t cols = t.ne[0], rows = t.ne.size() == 2 ? t.ne[1] : 1;
      if (p.head_dim && (t.ne.size() == 2 ? rows : cols) % p.head_dim != 0) {
        r.fail("tensor '" + t.name + "' has " + std::to_string(rows) +
               " rows, not a multiple of the head dimension " + std::to_string(c.head_dim));
      }
      p.bytes = q_type ? row_bytes(loom_traits(t.type)->type, static_cast<size_t>(cols)) * rows
                       : t.nbytes;
      p.offset = copy_bytes;
      copy_bytes += (p.bytes + 63) / 64 * 64;
    }
    plans.push_back(std::move(p));
  }

  auto copy = std::make_shared<io::AnonymousMemory>(copy_bytes ? copy_bytes : 64);
  std::unordered_map<std::string, io::TensorInfo> tensors;
  for (const Plan& p : plans) {
    const io::GgufFile::Tensor& t = *p.t;
    io::TensorInfo info;
    info.dtype = loom_dtype(t.type);
    info.file = &f.shard_path(t.shard);  // (F lives as long as the store: Keep holds it)
    for (auto it = t.ne.rbegin(); it != t.ne.rend(); ++it) info.shape.push_back(*it);
    if (!p.bytes) {
      info.data = t.data;
      info.nbytes = t.nbytes;
    } else {
      uint8_t* dst = copy->data() + p.offset;
      const int64_t cols = t.ne[0], rows = t.ne.size() == 2 ? t.ne[1] : 1;
      const io::GgmlTraits& tr = *io::ggml_traits(static_cast<uint32_t>(t.type));
      const size_t src_row = static_cast<size_t>(cols / tr.elements) * tr.bytes;
      if (rows == 1 && p.head_dim && t.ne.size() == 1) {
        // A bias of q or k: its elements permuted as the rows are.
        const size_t elem = static_cast<size_t>(tr.bytes);
        for (int64_t i = 0; i < cols; ++i) {
          std::memcpy(dst + i * elem, t.data + unpermuted(i, p.head_dim) * elem, elem);
        }
      } else {
        const size_t dst_row = p.bytes / static_cast<size_t>(rows);
        // Rows on every core: the rearrangement is the load's main cost (a 1.2B-parameter Q4_0
        // file: 17% of a pp512 benchmark's samples, load included, on one thread).
#pragma omp parallel for schedule(static) if (rows >= 256)
        for (int64_t i = 0; i < rows; ++i) {
          const uint8_t* src = t.data + (p.head_dim ? unpermuted(i, p.head_dim) : i) * src_row;
          if (!repacked(t.type)) {  // kept in the file's layout, rows reordered only
            std::memcpy(dst + i * dst_row, src, src_row);
          } else {
            quant::from_ggml_row(loom_traits(t.type)->type, src,
                                 static_cast<size_t>(cols / quant::kBlock), dst + i * dst_row);
          }
        }
      }
      io::release_mapped_pages(t.data, t.nbytes);  // the copy is what the model reads
      info.data = dst;
      info.nbytes = p.bytes;
    }
    tensors.emplace(p.name, std::move(info));
  }

  if (const io::GgufFile::Tensor* rf = f.find_tensor("rope_freqs.weight")) {
    // Llama 3.1's scaling as llama.cpp applies it: each base frequency divided by its factor.
    if (rf->type != io::GgmlType::F32 || rf->ne.size() != 1 || rf->ne[0] != c.head_dim / 2) {
      r.fail("tensor 'rope_freqs.weight' must be F32 of " + std::to_string(c.head_dim / 2) +
             " values");
    }
    out.inv_freq = rope_inv_freq(c.rope, c.head_dim);
    for (int i = 0; i < c.head_dim / 2; ++i) {
      float factor;
      std::memcpy(&factor, rf->data + 4 * i, 4);
      if (!(factor > 0) || !std::isfinite(factor)) {
        r.fail("tensor 'rope_freqs.weight' holds " + std::to_string(factor) + " at " +
               std::to_string(i) + ", not a positive factor");
      }
      out.inv_freq[i] /= factor;
    }
  }
  struct Keep {
    std::shared_ptr<const io::GgufFile> file;
    std::shared_ptr<io::AnonymousMemory> copy;
  };
  std::vector<std::filesystem::path> sources;
  for (size_t i = 0; i < f.shard_count(); ++i) sources.push_back(f.shard_path(i));
  out.store = io::TensorStore::adopt(std::move(tensors), std::move(sources),
                                     std::make_shared<Keep>(Keep{file, copy}));
  return out;
}

}  // namespace loom::model
