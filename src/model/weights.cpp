#include "model/weights.h"

#include <string>
#include <unordered_set>

#include "loom/error.h"
#include "simd/kernels.h"

namespace loom::model {
namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

class Binder {
 public:
  Binder(const io::TensorStore& store, const TensorNaming& naming)
      : store_(store), naming_(naming) {}

  // NAME as the file calls it.
  std::string shown(const std::string& name) const {
    if (!naming_.file_name) return name;
    const std::string n = naming_.file_name(name);
    return n.empty() ? name : n;
  }

  // Throws for the first tensor of the store that no binding asked for. Running a checkpoint
  // without some of its tensors (an extra layer, a bias) gives plausible-looking garbage.
  void check_all_used(const ModelConfig& c) const {
    const std::string* first = nullptr;  // by name, so the message is the same on every run
    for (const auto& [name, t] : store_.tensors()) {
      if (used_.count(name) || ignorable(name, c)) continue;
      if (!first || name < *first) first = &name;
    }
    if (!first) return;
    throw Error(store_.find(*first)->file->string() + ": tensor '" + shown(*first) +
                "' is not used by the model " + naming_.config + " describes (" + describe(c) +
                "); the checkpoint and " + naming_.config + " do not match");
  }

  // WHY: why the model has the tensor, for the message when the checkpoint lacks it.
  ops::MatRef matrix(const std::string& name, int rows, int cols, const std::string& why = "") {
    const io::TensorInfo& t = get(name, {rows, cols}, why);
    return ops::MatRef{dtype_of(name, t), rows, cols, t.data};
  }

  std::vector<float> vector_f32(const std::string& name, int n, const std::string& why = "") {
    const io::TensorInfo& t = get(name, {n}, why);
    const DType type = dtype_of(name, t);
    if (is_quantized(type)) {
      throw Error(t.file->string() + ": tensor '" + shown(name) + "' is " + t.dtype +
                  "; loom reads vectors (norms, biases) as F32, F16 or BF16");
    }
    std::vector<float> out(n);
    simd::kernels().to_f32[static_cast<int>(type)](t.data, out.data(), n);
    return out;
  }

 private:
  const io::TensorInfo& get(const std::string& name, const std::vector<int64_t>& shape,
                            const std::string& why) {
    const io::TensorInfo* t = store_.find(name);
    if (!t) {
      throw Error("tensor '" + shown(name) + "' is missing from " + store_.describe() +
                  (why.empty() ? "" : " (" + why + ")"));
    }
    used_.insert(name);
    if (t->shape != shape) {
      throw Error(t->file->string() + ": tensor '" + shown(name) + "' has shape " +
                  shape_str(t->shape) + ", " + naming_.config + " implies " + shape_str(shape));
    }
    return *t;
  }

  static DType dtype_of(const std::string& name, const io::TensorInfo& t) {
    if (t.dtype == "F32") return DType::F32;
    if (t.dtype == "F16") return DType::F16;
    if (t.dtype == "BF16") return DType::BF16;
    // Only a GGUF file's tensors come in these (rearranged into loom's layouts at load).
    if (t.dtype == "Q8_0") return DType::Q8_0;
    if (t.dtype == "Q4_0") return DType::Q4_0;
    if (t.dtype == "Q4_K") return DType::Q4_K;
    if (t.dtype == "Q5_0") return DType::Q5_0;  // ggml's layouts, read in place
    if (t.dtype == "Q5_1") return DType::Q5_1;
    if (t.dtype == "Q5_K") return DType::Q5_K;
    if (t.dtype == "Q6_K") return DType::Q6_K;
    throw Error(t.file->string() + ": tensor '" + name + "' has dtype " + t.dtype +
                " (loom reads F32, F16 and BF16 weights)");
  }

  // Tensors transformers itself skips: the RoPE table older checkpoints saved, and an lm_head
  // that tying replaces.
  static bool ignorable(const std::string& name, const ModelConfig& c) {
    return name.ends_with(".rotary_emb.inv_freq") ||
           (c.tie_word_embeddings && name == "lm_head.weight");
  }

  static std::string describe(const ModelConfig& c) {
    auto b = [](bool v) { return v ? "true" : "false"; };
    std::string s = std::string("model_type ") + arch_name(c.arch) + ", num_hidden_layers " +
                    std::to_string(c.n_layers) + ", tie_word_embeddings " +
                    b(c.tie_word_embeddings);
    if (c.arch == Arch::Llama || c.arch == Arch::Qwen3) {
      s += std::string(", attention_bias ") + b(c.attention_bias);
    }
    if (c.arch == Arch::Llama) s += std::string(", mlp_bias ") + b(c.mlp_bias);
    return s;
  }

  const io::TensorStore& store_;
  const TensorNaming& naming_;
  std::unordered_set<std::string> used_;  // names bound so far
};

}  // namespace

LlamaWeights bind_weights(const io::TensorStore& store, const ModelConfig& c,
                          const TensorNaming& naming) {
  Binder b(store, naming);
  LlamaWeights w;
  w.arch = c.arch;
  w.embed = b.matrix("model.embed_tokens.weight", c.vocab_size, c.hidden_size);
  // One layer at a time, so a num_hidden_layers far beyond the checkpoint fails on its first
  // missing tensor rather than on allocating every layer up front.
  for (int i = 0; i < c.n_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    LayerWeights& l = w.layers.emplace_back();
    for (const LayerTensor& t : layer_tensors(c.arch)) {
      if (!present(t, c)) continue;  // and check_all_used rejects it if the checkpoint has it
      const std::string why = why_present(t, c);
      if (t.kind == TensorKind::Matrix) {
        l.*t.matrix = b.matrix(p + t.name, dim(c, t.rows), dim(c, t.cols), why);
      } else {
        l.*t.vector = b.vector_f32(p + t.name, dim(c, t.rows), why);
      }
    }
  }
  w.final_norm = b.vector_f32("model.norm.weight", c.hidden_size);
  if (c.tie_word_embeddings) {
    w.lm_head = w.embed;  // transformers ties them and ignores any lm_head.weight in the file
  } else {
    w.lm_head = b.matrix("lm_head.weight", c.vocab_size, c.hidden_size,
                         "config.json's tie_word_embeddings is false");
  }
  b.check_all_used(c);
  return w;
}

}  // namespace loom::model
