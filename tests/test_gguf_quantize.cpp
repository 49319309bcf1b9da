// Writing GGUF files as llama-quantize does: ggml's Q5_0, Q5_1, Q5_K and Q6_K quantizers on known
// grids and within their error bounds; every file type's per-tensor types equal to what
// llama-quantize (b10573) gives the same checkpoints (tests/data/ggml/mix_types.json, made by
// scripts/make_mix_goldens.py); the bytes independent of the thread count; the written file
// read back and run close to the unquantized model.
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "loom/loom.h"
#include "model/gguf_model.h"
#include "model/loaded_model.h"
#include "quant/ggml_blocks.h"
#include "quant/ggml_dequant.h"
#include "quant/ggml_quantize.h"
#include "quant/ggml_repack.h"
#include "quant/quantize.h"
#include "support/arch_checkpoint.h"
#include "support/checkpoint_writer.h"

namespace {

namespace fs = std::filesystem;
using loom::DType;
using nlohmann::json;
const fs::path kTokenizers = fs::path(LOOM_SHARED_DIR) / "fixtures/tokenizers";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<float> round_trip(DType type, const std::vector<float>& x) {
  const int n = static_cast<int>(x.size());
  std::vector<uint8_t> row(loom::row_bytes(type, n));
  std::vector<float> back(n);
  if (loom::is_ggml_only(type)) {
    loom::quant::quantize_row_ggml(type, x.data(), row.data(), n);
    loom::quant::dequantize_row_ggml_scalar(type, row.data(), back.data(), n);
  } else {
    loom::quant::quantize_row(type, x.data(), row.data(), n);
    loom::quant::dequantize_row(type, row.data(), back.data(), n);
  }
  return back;
}

// Weights that lie on a grid the format can hold exactly come back exactly.
TEST(GgmlQuantize, KnownGridsComeBackExactly) {
  std::vector<float> x(512);
  // Q6_K: every 16 weights multiples of 1/2 from -16 (q = -32) up, the scales all equal.
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = 0.5f * static_cast<float>(static_cast<int>(i % 16) * 4 % 64 - 32);
  EXPECT_EQ(round_trip(DType::Q6_K, x), x);
  // Q5_0: multiples of 1/4 from -4 (q = 0) to 3.75 in every 32.
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = 0.25f * static_cast<float>(static_cast<int>(i % 32) - 16);
  EXPECT_EQ(round_trip(DType::Q5_0, x), x);
  // Q5_1: -1 + k / 8 for k = 0..31 in every 32.
  for (size_t i = 0; i < x.size(); ++i) x[i] = -1.0f + 0.125f * static_cast<float>(i % 32);
  EXPECT_EQ(round_trip(DType::Q5_1, x), x);
  // Zeros stay zeros.
  std::fill(x.begin(), x.end(), 0.0f);
  for (DType t : {DType::Q5_0, DType::Q5_1, DType::Q5_K, DType::Q6_K}) {
    EXPECT_EQ(round_trip(t, x), x) << loom::dtype_name(t);
  }
}

// Gaussian rows: the error of each type relative to the weights' spread, within the bound that
// its bits allow (measured: see the printout), ordered by bits, Q5_K no worse than Q5_1 and
// loom's Q4_K worse than both.
TEST(GgmlQuantize, ErrorsWithinTheirBoundsAndOrderedByBits) {
  std::mt19937 rng(5);
  std::normal_distribution<float> g(0.0f, 0.02f);
  std::vector<float> x(256 * 64);
  for (float& v : x) v = g(rng);
  x[77] = 0.3f;  // an outlier in one block
  std::map<DType, double> rel;
  for (DType t : {DType::Q4_K, DType::Q5_0, DType::Q5_1, DType::Q5_K, DType::Q6_K}) {
    const std::vector<float> y = round_trip(t, x);
    double se = 0, ss = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      se += (x[i] - y[i]) * (x[i] - y[i]);
      ss += x[i] * x[i];
    }
    rel[t] = std::sqrt(se / ss);
    std::printf("%s: rms error / rms weight %.4f\n", loom::dtype_name(t), rel[t]);
  }
  // Measured 0.0168, 0.0361, 0.0380, 0.0438 (a uniform grid's step / sqrt(12) over each
  // block's range: about 0.0165 for 6 bits, 0.034 for 5).
  EXPECT_LT(rel[DType::Q6_K], 0.0185);
  EXPECT_LT(rel[DType::Q5_K], 0.039);
  EXPECT_LT(rel[DType::Q5_1], 0.041);
  EXPECT_LT(rel[DType::Q5_0], 0.047);
  EXPECT_LT(rel[DType::Q6_K], rel[DType::Q5_K] / 1.8);
  EXPECT_LE(rel[DType::Q5_K], rel[DType::Q5_1]);
  EXPECT_LT(rel[DType::Q5_K], rel[DType::Q4_K] / 1.8);
}

std::map<std::string, std::string> tensor_types(const fs::path& file) {
  const loom::io::GgufFile f = loom::io::GgufFile::open(file);
  std::map<std::string, std::string> m;
  for (const auto& t : f.tensors()) {
    m[t.name] = loom::io::ggml_traits(static_cast<uint32_t>(t.type))->name;
  }
  return m;
}

// Each file type of the llama-mix checkpoints (untied and tied), as llama-quantize types it.
TEST(LoomQuantize, EveryFileTypeTypesTensorsAsLlamaQuantize) {
  const json want =
      loom::test::read_json(fs::path(LOOM_SOURCE_DIR) / "tests/data/ggml/mix_types.json");
  const std::map<std::string, uint32_t> ftype = {{"q8_0", 7},    {"q4_0", 2},    {"q4_k_s", 14},
                                                 {"q4_k_m", 15}, {"q5_k_s", 16}, {"q5_k_m", 17},
                                                 {"q6_k", 18}};
  loom::test::TempDir tmp;
  for (const auto& [ck, types] : want.items()) {
    loom::test::write_arch_checkpoint(ck, tmp.path() / ck, kTokenizers);
    const loom::Model m = loom::Model::load(tmp.path() / ck);
    for (const auto& [name, tensors] : types.items()) {
      SCOPED_TRACE(ck + " " + name);
      const fs::path out = tmp.path() / (ck + "-" + name + ".gguf");
      loom::write_gguf(m, out, loom::gguf_file_type_from_name(name), 2);
      using Types = std::map<std::string, std::string>;
      EXPECT_EQ(tensor_types(out), tensors.get<Types>());
      EXPECT_EQ(loom::io::GgufFile::open(out).get_uint("general.file_type"), ftype.at(name));
    }
  }
}

// The bytes do not depend on the thread count; the file loads and runs, and its logits stay
// close to the unquantized model's.
TEST(LoomQuantize, BytesIndependentOfThreadsAndTheFileRuns) {
  loom::test::TempDir tmp;
  loom::test::write_arch_checkpoint("llama-mix", tmp.path() / "ck", kTokenizers);
  const loom::Model m = loom::Model::load(tmp.path() / "ck");
  const std::vector<int> ids = {1, 450, 4996, 17354, 1701, 29916, 432, 17204, 975, 278};
  loom::Session ref(m, {.ctx_size = 32, .threads = 2});
  const std::vector<float> want = ref.prefill_all_logits(ids);
  std::map<std::string, double> err;
  for (const char* type : {"q8_0", "q4_k_m", "q5_k_m", "q6_k"}) {
    SCOPED_TRACE(type);
    const fs::path a = tmp.path() / "a.gguf", b = tmp.path() / "b.gguf";
    loom::write_gguf(m, a, loom::gguf_file_type_from_name(type), 1);
    loom::write_gguf(m, b, loom::gguf_file_type_from_name(type), 2);
    EXPECT_EQ(slurp(a), slurp(b));
    const loom::Model q = loom::Model::load(a);
    loom::Session s(q, {.ctx_size = 32, .threads = 2});
    const std::vector<float> got = s.prefill_all_logits(ids);
    ASSERT_EQ(got.size(), want.size());
    double se = 0, ss = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      se += (got[i] - want[i]) * (got[i] - want[i]);
      ss += want[i] * want[i];
    }
    err[type] = std::sqrt(se / ss);
    std::printf("%s: rms logit error / rms logit %.4f\n", type, err[type]);
  }
  // This random model's 8 layers amplify the weights' rounding (q8_0 is ~4x finer than q6_k):
  // what is held is the order by bits.
  EXPECT_LT(err["q8_0"], err["q6_k"]);
  EXPECT_LT(err["q6_k"], err["q5_k_m"]);
  EXPECT_LT(err["q5_k_m"], err["q4_k_m"]);
  EXPECT_LT(err["q4_k_m"], 1.0);
}

// Split as llama-gguf-split splits: the shards hold the one file's tensors (each under 1 MB
// here unless a tensor alone is larger), and the model opened by its first shard gives the one
// file's logits bit for bit; --quantize's cache of a split model checks every shard.
TEST(LoomQuantize, SplitFileRunsAsTheWholeFile) {
  loom::test::TempDir tmp;
  loom::test::write_arch_checkpoint("llama-mix", tmp.path() / "ck", kTokenizers);
  const loom::Model m = loom::Model::load(tmp.path() / "ck");
  const fs::path one = tmp.path() / "one.gguf";
  const auto t = loom::gguf_file_type_from_name("q4_k_m");
  EXPECT_EQ(loom::write_gguf(m, one, t, 2), std::vector<fs::path>{one});
  const std::vector<fs::path> shards = loom::write_gguf(m, tmp.path() / "s.gguf", t, 2, 1000000);
  ASSERT_GE(shards.size(), 2u);
  EXPECT_EQ(shards[0].filename(), "s-00001-of-0000" + std::to_string(shards.size()) + ".gguf");
  uintmax_t bytes = 0;
  for (const fs::path& p : shards) bytes += fs::file_size(p);
  EXPECT_GT(bytes, fs::file_size(one));  // each shard has its own header
  EXPECT_LT(bytes, fs::file_size(one) + 64 * 1024);

  const std::vector<int> ids = {1, 450, 4996, 17354, 1701, 29916, 432, 17204};
  const loom::Model a = loom::Model::load(one), b = loom::Model::load(shards[0]);
  loom::Session sa(a, {.ctx_size = 16, .threads = 2}), sb(b, {.ctx_size = 16, .threads = 2});
  EXPECT_EQ(sa.prefill_all_logits(ids), sb.prefill_all_logits(ids));

  loom::LoadOptions o;
  o.quantize = loom::DType::Q8_0;
  o.quant_cache = loom::QuantCache::Auto;
  o.quant_cache_path = tmp.path() / "s.cache";
  const loom::Model q1 = loom::Model::load(shards[0], o);
  EXPECT_EQ(q1.quantization().source, loom::QuantSource::QuantizedAtLoad);
  EXPECT_EQ(loom::Model::load(shards[0], o).quantization().source, loom::QuantSource::CacheFile);
  // A later shard rewritten (its time changes): the cache is rebuilt, not trusted.
  fs::last_write_time(shards.back(), fs::last_write_time(shards.back()) + std::chrono::hours(1));
  EXPECT_EQ(loom::Model::load(shards[0], o).quantization().source,
            loom::QuantSource::QuantizedAtLoad);
}

// --quantize with a mix name: every product matrix as write_gguf puts it in a file of that
// type (the same type, the same bytes once in loom's layout; q and k are permuted in the file,
// so only their types are compared); the embedding as stored; the quantized-weights cache
// written, then used, for the same logits.
TEST(LoomQuantize, MixAtLoadHoldsTheFilesMatrices) {
  loom::test::TempDir tmp;
  loom::test::write_arch_checkpoint("llama-mix", tmp.path() / "ck", kTokenizers);
  const loom::Model folder = loom::Model::load(tmp.path() / "ck");
  const std::vector<int> ids = {1, 450, 4996, 17354, 1701, 29916};
  for (const char* name : {"q4_k_m", "q6_k", "q5_k_s"}) {
    SCOPED_TRACE(name);
    const loom::GgufFileType type = *loom::gguf_file_type_from_name(name);
    const fs::path file = tmp.path() / (std::string(name) + ".gguf");
    loom::write_gguf(folder, file, type, 2);
    const loom::io::GgufFile f = loom::io::GgufFile::open(file);
    loom::LoadOptions o;
    o.quantize_mix = type;
    const loom::Model m = loom::Model::load(tmp.path() / "ck", o);
    EXPECT_EQ(m.quantization().mix, type);
    EXPECT_FALSE(m.quantization().type.has_value());
    const auto& w = loom::detail::loaded(m).weights;
    std::vector<std::pair<std::string, const loom::ops::MatRef*>> mats;
    for (size_t l = 0; l < w.layers.size(); ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      mats.emplace_back(p + "self_attn.q_proj.weight", &w.layers[l].wq);
      mats.emplace_back(p + "self_attn.k_proj.weight", &w.layers[l].wk);
      mats.emplace_back(p + "self_attn.v_proj.weight", &w.layers[l].wv);
      mats.emplace_back(p + "self_attn.o_proj.weight", &w.layers[l].wo);
      mats.emplace_back(p + "mlp.gate_proj.weight", &w.layers[l].w_gate);
      mats.emplace_back(p + "mlp.up_proj.weight", &w.layers[l].w_up);
      mats.emplace_back(p + "mlp.down_proj.weight", &w.layers[l].w_down);
    }
    mats.emplace_back("lm_head.weight", &w.lm_head);
    EXPECT_EQ(m.quantization().quantized, static_cast<int>(mats.size()));
    EXPECT_EQ(w.embed.dtype, DType::F16);
    for (const auto& [hf, mat] : mats) {
      const loom::io::GgufFile::Tensor* t = f.find_tensor(loom::model::gguf_tensor_name(hf));
      ASSERT_NE(t, nullptr) << hf;
      std::string file_type = loom::io::ggml_traits(static_cast<uint32_t>(t->type))->name;
      for (char& c : file_type) c = static_cast<char>(std::tolower(c));
      EXPECT_EQ(loom::dtype_name(mat->dtype), file_type) << hf;
      if (hf.find("q_proj") != std::string::npos || hf.find("k_proj") != std::string::npos)
        continue;
      const size_t file_row = t->nbytes / static_cast<size_t>(mat->rows);
      std::vector<uint8_t> row(loom::row_bytes(mat->dtype, mat->cols));
      for (int r = 0; r < mat->rows; ++r) {
        const uint8_t* in_file = t->data + r * file_row;
        if (loom::is_ggml_only(mat->dtype)) {
          std::memcpy(row.data(), in_file, row.size());
        } else {
          loom::quant::from_ggml_row(mat->dtype, in_file, mat->cols / 32, row.data());
        }
        ASSERT_EQ(0, std::memcmp(row.data(), mat->row(r), row.size())) << hf << " row " << r;
      }
    }
    // The cache: written by the first load, mapped by the second, the same logits.
    o.quant_cache = loom::QuantCache::Auto;
    o.quant_cache_path = tmp.path() / (std::string(name) + ".cache");
    const loom::Model a = loom::Model::load(tmp.path() / "ck", o);
    const loom::Model b = loom::Model::load(tmp.path() / "ck", o);
    EXPECT_EQ(a.quantization().source, loom::QuantSource::QuantizedAtLoad);
    EXPECT_EQ(b.quantization().source, loom::QuantSource::CacheFile);
    loom::Session sa(a, {.ctx_size = 16, .threads = 2}), sb(b, {.ctx_size = 16, .threads = 2});
    const std::vector<float> la = sa.prefill_all_logits(ids), lb = sb.prefill_all_logits(ids);
    EXPECT_EQ(0, std::memcmp(la.data(), lb.data(), la.size() * sizeof(float)));
  }
}

// --quantize on a file whose tensors are already quantized (a q4_k_m GGUF, loaded with q8_0 and
// with q4_k): each product matrix of another type becomes the requested type of its weights as
// the file holds them (through fp32, by the reference quantizers), one already of that type is
// kept byte for byte, and the logits stay near the file's own.
TEST(LoomQuantize, QuantizeAtLoadRequantizesAQuantizedFile) {
  loom::test::TempDir tmp;
  loom::test::write_arch_checkpoint("llama-mix", tmp.path() / "ck", kTokenizers);
  const fs::path file = tmp.path() / "q4_k_m.gguf";
  loom::write_gguf(loom::Model::load(tmp.path() / "ck"), file,
                   *loom::gguf_file_type_from_name("q4_k_m"), 2);
  const loom::Model stored = loom::Model::load(file);
  const std::vector<int> ids = {1, 450, 4996, 17354, 1701, 29916};
  loom::Session ss(stored, {.ctx_size = 16, .threads = 2});
  const std::vector<float> want = ss.prefill_all_logits(ids);
  for (const DType type : {DType::Q8_0, DType::Q4_K}) {
    SCOPED_TRACE(loom::dtype_name(type));
    loom::LoadOptions o;
    o.quantize = type;
    const loom::Model m = loom::Model::load(file, o);
    const auto& ws = loom::detail::loaded(stored).weights;
    const auto& wm = loom::detail::loaded(m).weights;
    int kept = 0, requantized = 0;
    for (size_t l = 0; l < ws.layers.size(); ++l) {
      for (auto mat : {&loom::model::LayerWeights::wq, &loom::model::LayerWeights::wv,
                       &loom::model::LayerWeights::w_down}) {
        const loom::ops::MatRef& a = ws.layers[l].*mat;
        const loom::ops::MatRef& b = wm.layers[l].*mat;
        ASSERT_EQ(b.dtype, type);
        const size_t out_row = loom::row_bytes(type, b.cols);
        std::vector<float> x(static_cast<size_t>(a.cols));
        std::vector<uint8_t> q(out_row);
        for (int r = 0; r < a.rows; ++r) {
          if (a.dtype == type) {
            ASSERT_EQ(0, std::memcmp(a.row(r), b.row(r), out_row)) << "layer " << l;
            continue;
          }
          loom::quant::row_to_f32(a.dtype, a.row(r), x.data(), a.cols);
          if (loom::is_ggml_only(type)) {
            loom::quant::quantize_row_ggml(type, x.data(), q.data(), a.cols);
          } else {
            loom::quant::quantize_row(type, x.data(), q.data(), a.cols);
          }
          ASSERT_EQ(0, std::memcmp(q.data(), b.row(r), out_row)) << "layer " << l << " row " << r;
        }
        ++(a.dtype == type ? kept : requantized);
      }
    }
    EXPECT_GT(requantized, 0);
    loom::Session sm(m, {.ctx_size = 16, .threads = 2});
    const std::vector<float> got = sm.prefill_all_logits(ids);
    double err = 0, ref = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      err += (got[i] - want[i]) * (got[i] - want[i]);
      ref += want[i] * want[i];
    }
    // (Quantizing this random-weight model's fp32 weights moves its logits by 0.14 (q8_0) and
    // 0.65 (q4_k_m) of their rms: BytesIndependentOfThreadsAndTheFileRuns.)
    EXPECT_LT(std::sqrt(err / ref), type == DType::Q8_0 ? 0.12 : 0.4)
        << "kept " << kept << ", requantized " << requantized;
    std::printf("%s from q4_k_m: %d matrices kept, %d requantized, rms logit change %.4f\n",
                loom::dtype_name(type), kept, requantized, std::sqrt(err / ref));
  }
}

}  // namespace
