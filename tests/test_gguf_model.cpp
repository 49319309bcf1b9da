// ggml's block types as loom reads them from GGUF files: every type's bytes give gguf-py's
// weights (llama.cpp's own Python reading, tests/data/ggml/blocks.json made by
// scripts/make_ggml_block_goldens.py); Q8_0/Q4_0/Q4_K rearranged into loom's layouts and back
// unchanged; a model whose matrices are Q5_0, Q5_K and Q6_K (read in place) computes exactly what
// the same model with those matrices dequantized to F32 computes, in prompts and decode steps;
// types loom cannot run are refused by name.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "loom/loom.h"
#include "quant/ggml_dequant.h"
#include "quant/ggml_repack.h"
#include "quant/quantize.h"
#include "simd/half.h"
#include "support/checkpoint_writer.h"

namespace {

namespace fs = std::filesystem;
using loom::DType;
using loom::io::GgmlType;
using nlohmann::json;

std::vector<uint8_t> hex_bytes(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

TEST(GgmlBlocks, EveryTypeReadsAsGgufPyReadsIt) {
  const json g = loom::test::read_json(fs::path(LOOM_SOURCE_DIR) / "tests/data/ggml/blocks.json");
  for (const auto& [name, t] : g.items()) {
    SCOPED_TRACE(name);
    const std::vector<uint8_t> bytes = hex_bytes(t["bytes"]);
    const auto want = t["weights"].get<std::vector<float>>();
    const int n = static_cast<int>(want.size());
    const DType type = *loom::dtype_from_name(name == "Q8_0"   ? "q8_0"
                                              : name == "Q4_0" ? "q4_0"
                                              : name == "Q4_K" ? "q4_k"
                                              : name == "Q5_0" ? "q5_0"
                                              : name == "Q5_K" ? "q5_k"
                                                               : "q6_k");
    ASSERT_EQ(bytes.size(), loom::row_bytes(type, n));
    std::vector<float> got(n);
    if (loom::is_ggml_only(type)) {
      loom::quant::dequantize_row_ggml(type, bytes.data(), got.data(), n);
    } else {
      std::vector<uint8_t> row(loom::row_bytes(type, n));
      loom::quant::from_ggml_row(type, bytes.data(), n / 32, row.data());
      loom::quant::dequantize_row(type, row.data(), got.data(), n);
      std::vector<uint8_t> back(bytes.size());
      loom::quant::to_ggml_row(type, row.data(), n / 32, back.data());
      EXPECT_EQ(back, bytes) << "rearranged and back";
    }
    int bad = 0;
    for (int i = 0; i < n; ++i) {
      // gguf-py's numpy computes in float32 too, its products in its own order: one rounding
      // apart at most.
      if (std::abs(got[i] - want[i]) > 2e-7f * std::abs(want[i]) + 1e-12f) {
        if (++bad < 5) ADD_FAILURE() << "weight " << i << ": " << got[i] << " vs " << want[i];
      }
    }
    EXPECT_EQ(bad, 0);
  }
}

// A small llama model written by hand: matrices of ggml-only types, or (F32_TWIN) the same
// matrices dequantized to F32.
struct Tiny {
  static constexpr int kHidden = 256, kFfn = 512, kHeads = 4, kKv = 2, kHd = 64, kVocab = 300;
  std::vector<std::vector<uint8_t>> keep;

  // Random blocks of TYPE for a [rows, cols] matrix, scales small enough for finite logits.
  std::vector<uint8_t> blocks(DType type, int rows, int cols, std::mt19937& rng) {
    std::vector<uint8_t> b(loom::row_bytes(type, cols) * rows);
    for (uint8_t& x : b) x = static_cast<uint8_t>(rng());
    const size_t block = type == DType::Q5_0 ? 22 : type == DType::Q5_K ? 176 : 210;
    const std::vector<size_t> halves =
        type == DType::Q6_K ? std::vector<size_t>{208} : std::vector<size_t>{0, 2};
    std::uniform_real_distribution<float> u(2e-4f, 1e-3f);
    for (size_t at = 0; at < b.size(); at += block) {
      for (size_t h : halves) {
        if (type == DType::Q5_0 && h == 2) continue;  // Q5_0's qh, not a scale
        const uint16_t v = loom::simd::f32_to_f16(u(rng));
        std::memcpy(&b[at + h], &v, 2);
      }
    }
    return b;
  }

  void write(const fs::path& out, bool f32_twin) {
    keep.clear();
    std::mt19937 rng(7);
    loom::io::GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_u32("llama.context_length", 256);
    w.set_u32("llama.embedding_length", kHidden);
    w.set_u32("llama.block_count", 2);
    w.set_u32("llama.feed_forward_length", kFfn);
    w.set_u32("llama.attention.head_count", kHeads);
    w.set_u32("llama.attention.head_count_kv", kKv);
    w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
    std::vector<int32_t> types = {2, 3, 3};
    for (int i = 0; i < 256; ++i) {
      char b[8];
      std::snprintf(b, sizeof b, "<0x%02X>", i);
      tokens.push_back(b);
      types.push_back(6);
    }
    for (char c = 'a'; tokens.size() < kVocab; c = c == 'z' ? 'a' : c + 1) {
      tokens.push_back("\xe2\x96\x81" + std::string(1 + tokens.size() % 3, c));
      types.push_back(1);
    }
    w.set_string("tokenizer.ggml.model", "llama");
    w.set_string_array("tokenizer.ggml.tokens", tokens);
    w.set_i32_array("tokenizer.ggml.token_type", types);
    w.set_u32("tokenizer.ggml.bos_token_id", 1);
    w.set_u32("tokenizer.ggml.eos_token_id", 2);
    auto matrix = [&](const std::string& name, DType type, int rows, int cols) {
      std::vector<uint8_t> b = blocks(type, rows, cols, rng);
      if (f32_twin) {
        std::vector<uint8_t> f(static_cast<size_t>(rows) * cols * 4);
        for (int r = 0; r < rows; ++r) {
          loom::quant::dequantize_row_ggml(type, b.data() + r * loom::row_bytes(type, cols),
                                           reinterpret_cast<float*>(f.data()) + r * cols, cols);
        }
        keep.push_back(std::move(f));
        w.add_tensor(name, GgmlType::F32, {cols, rows}, keep.back().data(), keep.back().size());
      } else {
        const GgmlType g = type == DType::Q5_0   ? GgmlType::Q5_0
                           : type == DType::Q5_K ? GgmlType::Q5_K
                                                 : GgmlType::Q6_K;
        keep.push_back(std::move(b));
        w.add_tensor(name, g, {cols, rows}, keep.back().data(), keep.back().size());
      }
    };
    auto norm = [&](const std::string& name, int n) {
      std::vector<uint8_t> f(static_cast<size_t>(n) * 4);
      for (int i = 0; i < n; ++i) {
        const float v = 1.0f + 0.01f * static_cast<float>(i % 7);
        std::memcpy(&f[4 * i], &v, 4);
      }
      keep.push_back(std::move(f));
      w.add_tensor(name, GgmlType::F32, {n}, keep.back().data(), keep.back().size());
    };
    keep.reserve(64);  // add_tensor keeps pointers into these
    matrix("token_embd.weight", DType::Q6_K, kVocab, kHidden);
    for (int l = 0; l < 2; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      norm(p + "attn_norm.weight", kHidden);
      matrix(p + "attn_q.weight", DType::Q5_0, kHeads * kHd, kHidden);
      matrix(p + "attn_k.weight", DType::Q5_K, kKv * kHd, kHidden);
      matrix(p + "attn_v.weight", DType::Q6_K, kKv * kHd, kHidden);
      matrix(p + "attn_output.weight", DType::Q5_0, kHidden, kHeads * kHd);
      norm(p + "ffn_norm.weight", kHidden);
      matrix(p + "ffn_gate.weight", DType::Q5_K, kFfn, kHidden);
      matrix(p + "ffn_up.weight", DType::Q6_K, kFfn, kHidden);
      matrix(p + "ffn_down.weight", DType::Q5_0, kHidden, kFfn);
    }
    norm("output_norm.weight", kHidden);
    matrix("output.weight", DType::Q6_K, kVocab, kHidden);
    w.write(out);
  }
};

TEST(GgmlOnlyTypes, ComputeExactlyWhatTheirF32TwinComputes) {
  loom::test::TempDir tmp;
  Tiny t;
  t.write(tmp.path() / "q.gguf", false);
  t.write(tmp.path() / "f32.gguf", true);
  const loom::Model q = loom::Model::load(tmp.path() / "q.gguf");
  const loom::Model f = loom::Model::load(tmp.path() / "f32.gguf");
  EXPECT_LT(q.weight_bytes() * 4, f.weight_bytes());  // read in place, not as F32
  const std::vector<int> ids = {1, 300 - 5, 270, 281, 4, 299, 263, 290, 275, 266, 288, 277};
  for (int threads : {1, 2}) {
    loom::Session a(q, {.ctx_size = 64, .threads = threads});
    loom::Session b(f, {.ctx_size = 64, .threads = threads});
    const std::vector<float> la = a.prefill_all_logits(ids), lb = b.prefill_all_logits(ids);
    ASSERT_EQ(la.size(), lb.size());
    EXPECT_EQ(0, std::memcmp(la.data(), lb.data(), la.size() * sizeof(float)));
    bool finite = true;
    for (float v : la) finite &= std::isfinite(v);
    EXPECT_TRUE(finite);
    for (int step = 0; step < 6; ++step) {  // decode steps: the gemv path
      const int next = 10 + 37 * step % 280;
      const std::span<const float> da = a.decode(next), db = b.decode(next);
      EXPECT_EQ(0, std::memcmp(da.data(), db.data(), da.size() * sizeof(float))) << step;
    }
  }
}

TEST(GgmlOnlyTypes, TypesLoomCannotRunAreRefusedByName) {
  loom::test::TempDir tmp;
  Tiny t;
  t.write(tmp.path() / "q.gguf", false);
  // The same file with one matrix as Q2_K.
  const loom::io::GgufFile src = loom::io::GgufFile::open(tmp.path() / "q.gguf");
  loom::io::GgufWriter w;
  for (const std::string& k : src.keys()) {
    switch (*src.type_of(k)) {
      case loom::io::GgufType::String:
        w.set_string(k, src.get_string(k));
        break;
      case loom::io::GgufType::F32:
        w.set_f32(k, static_cast<float>(src.get_float(k)));
        break;
      case loom::io::GgufType::Array:
        if (src.array_type(k) == loom::io::GgufType::String) {
          w.set_string_array(k, src.get_string_array(k));
        } else {
          std::vector<int32_t> v;
          for (int64_t x : src.get_int_array(k)) v.push_back(static_cast<int32_t>(x));
          w.set_i32_array(k, v);
        }
        break;
      default:
        w.set_u32(k, static_cast<uint32_t>(src.get_uint(k)));
    }
  }
  std::vector<uint8_t> q2(84 * 512);  // 512 rows of one 256-weight Q2_K block
  for (const auto& tensor : src.tensors()) {
    if (tensor.name == "blk.1.ffn_up.weight") {
      w.add_tensor(tensor.name, GgmlType::Q2_K, tensor.ne, q2.data(), q2.size());
    } else {
      w.add_tensor(tensor.name, tensor.type, tensor.ne, tensor.data, tensor.nbytes);
    }
  }
  w.write(tmp.path() / "q2.gguf");
  try {
    loom::Model::load(tmp.path() / "q2.gguf");
    FAIL() << "no error";
  } catch (const loom::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("blk.1.ffn_up.weight"), std::string::npos) << m;
    EXPECT_NE(m.find("Q2_K"), std::string::npos) << m;
  }
}

}  // namespace
