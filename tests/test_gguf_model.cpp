// ggml's block types as loom reads them from GGUF files: every type's bytes give gguf-py's
// weights (llama.cpp's own Python reading, tests/data/ggml/blocks.json made by
// scripts/make_ggml_block_goldens.py); Q8_0/Q4_0/Q4_K rearranged into loom's layouts and back
// unchanged; a model whose matrices are Q5_0, Q5_K and Q6_K (read in place) computes exactly what
// the same model with those matrices dequantized to F32 computes in prompts, and in decode steps
// (the int8 products on quantized activations) that off by the activations' rounding only, the
// same bits at any thread count; types loom cannot run are refused by name.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "loom/loom.h"
#include "model/gguf_export.h"
#include "quant/ggml_blocks.h"
#include "quant/ggml_dequant.h"
#include "quant/ggml_repack.h"
#include "quant/quantize.h"
#include "simd/cpu.h"
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

// ggml's Q4_0 rows of odd and even block counts into loom's pairs and back: the same bytes, and
// weight i of block b is d * (its nibble - 8) as ggml defines it (low nibbles first).
TEST(GgmlBlocks, Q4_0RowsOfAnyBlockCountRearrangeLosslessly) {
  std::mt19937 rng(11);
  for (size_t nb : {1u, 2u, 3u, 7u, 64u}) {
    SCOPED_TRACE(nb);
    std::vector<uint8_t> ggml(nb * 18);
    for (size_t b = 0; b < nb; ++b) {
      const uint16_t d = 0x3c00 + static_cast<uint16_t>(b);  // 1.0, a little more each block
      std::memcpy(&ggml[b * 18], &d, 2);
      for (int j = 0; j < 16; ++j) ggml[b * 18 + 2 + j] = static_cast<uint8_t>(rng());
    }
    std::vector<uint8_t> row(loom::row_bytes(DType::Q4_0, nb * 32));
    loom::quant::from_ggml_row(DType::Q4_0, ggml.data(), nb, row.data());
    std::vector<float> w(nb * 32);
    loom::quant::dequantize_row(DType::Q4_0, row.data(), w.data(), static_cast<int>(nb * 32));
    for (size_t b = 0; b < nb; ++b) {
      uint16_t d;
      std::memcpy(&d, &ggml[b * 18], 2);
      const float scale = loom::simd::f16_to_f32(d);
      for (int i = 0; i < 32; ++i) {
        const uint8_t byte = ggml[b * 18 + 2 + i % 16];
        const int q = (i < 16 ? byte & 15 : byte >> 4) - 8;
        ASSERT_EQ(w[b * 32 + i], scale * static_cast<float>(q)) << "block " << b << " weight " << i;
      }
    }
    std::vector<uint8_t> back(ggml.size());
    loom::quant::to_ggml_row(DType::Q4_0, row.data(), nb, back.data());
    EXPECT_EQ(back, ggml);
  }
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
                                              : name == "Q5_1" ? "q5_1"
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
  // Faults to write in, for the error tests.
  std::string arch = "llama";
  bool block_count_as_string = false;
  size_t tokens_written = kVocab;
  int q_rows = kHeads * kHd;
  bool output_norm = true;

  // Random blocks of TYPE for a [rows, cols] matrix, scales small enough for finite logits.
  std::vector<uint8_t> blocks(DType type, int rows, int cols, std::mt19937& rng) {
    std::vector<uint8_t> b(loom::row_bytes(type, cols) * rows);
    for (uint8_t& x : b) x = static_cast<uint8_t>(rng());
    const size_t block = type == DType::Q5_0   ? 22
                         : type == DType::Q5_1 ? 24
                         : type == DType::Q5_K ? 176
                                               : 210;
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
    w.set_string("general.architecture", arch);
    w.set_u32(arch + ".context_length", 256);
    w.set_u32(arch + ".embedding_length", kHidden);
    if (block_count_as_string) {
      w.set_string(arch + ".block_count", "2");
    } else {
      w.set_u32(arch + ".block_count", 2);
    }
    w.set_u32(arch + ".feed_forward_length", kFfn);
    w.set_u32(arch + ".attention.head_count", kHeads);
    w.set_u32(arch + ".attention.head_count_kv", kKv);
    w.set_f32(arch + ".attention.layer_norm_rms_epsilon", 1e-5f);
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
    tokens.resize(tokens_written);
    types.resize(tokens_written);
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
                           : type == DType::Q5_1 ? GgmlType::Q5_1
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
      matrix(p + "attn_q.weight", DType::Q5_0, q_rows, kHidden);
      matrix(p + "attn_k.weight", DType::Q5_K, kKv * kHd, kHidden);
      matrix(p + "attn_v.weight", DType::Q6_K, kKv * kHd, kHidden);
      matrix(p + "attn_output.weight", DType::Q5_1, kHidden, kHeads * kHd);
      norm(p + "ffn_norm.weight", kHidden);
      matrix(p + "ffn_gate.weight", DType::Q5_K, kFfn, kHidden);
      matrix(p + "ffn_up.weight", DType::Q6_K, kFfn, kHidden);
      matrix(p + "ffn_down.weight", DType::Q5_0, kHidden, kFfn);
    }
    if (output_norm) norm("output_norm.weight", kHidden);
    matrix("output.weight", DType::Q6_K, kVocab, kHidden);
    w.write(out);
  }
};

TEST(GgmlOnlyTypes, PromptsAreTheF32TwinsDecodeStepsOffByTheActivationsRounding) {
  loom::test::TempDir tmp;
  Tiny t;
  t.write(tmp.path() / "q.gguf", false);
  t.write(tmp.path() / "f32.gguf", true);
  const loom::Model q = loom::Model::load(tmp.path() / "q.gguf");
  const loom::Model f = loom::Model::load(tmp.path() / "f32.gguf");
  EXPECT_LT(q.weight_bytes() * 4, f.weight_bytes());  // read in place, not as F32
  const std::vector<int> ids = {1, 300 - 5, 270, 281, 4, 299, 263, 290, 275, 266, 288, 277};
  std::vector<std::vector<float>> decoded;  // the 1-thread steps
  for (int threads : {1, 2}) {
    loom::Session a(q, {.ctx_size = 64, .threads = threads});
    loom::Session b(f, {.ctx_size = 64, .threads = threads});
    const std::vector<float> la = a.prefill_all_logits(ids), lb = b.prefill_all_logits(ids);
    ASSERT_EQ(la.size(), lb.size());
    EXPECT_EQ(0, std::memcmp(la.data(), lb.data(), la.size() * sizeof(float)));
    bool finite = true;
    for (float v : la) finite &= std::isfinite(v);
    EXPECT_TRUE(finite);
    for (int step = 0; step < 6; ++step) {  // decode steps: the int8 gemv on quantized x
      const int next = 10 + 37 * step % 280;
      const std::span<const float> da = a.decode(next), db = b.decode(next);
      double diff = 0, mag = 0;
      for (size_t i = 0; i < da.size(); ++i) {
        diff = std::max<double>(diff, std::fabs(da[i] - db[i]));
        mag = std::max<double>(mag, std::fabs(db[i]));
      }
      // Measured 0.015-0.027 (test_quant_model allows loaded q8_0/q4_k models 0.04-0.12).
      EXPECT_LE(diff, 0.05 * mag) << "step " << step;
      if (threads == 1) {
        decoded.emplace_back(da.begin(), da.end());
      } else {
        EXPECT_EQ(0, std::memcmp(da.data(), decoded[step].data(), da.size() * sizeof(float)));
      }
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

// An fp16 scale field's bits: mostly random, with zeros, subnormals, infinities and NaNs (quiet
// and signalling, either sign) and ordinary small scales well represented.
uint16_t random_f16(std::mt19937& rng) {
  const uint16_t bits = static_cast<uint16_t>(rng());
  const uint16_t sign = bits & 0x8000u;
  switch (rng() % 8) {
    case 0:
      return sign | (bits & 0x03ffu);  // zero or subnormal
    case 1:
      return sign | 0x7c00u | (rng() % 4 == 0 ? 0 : (bits & 0x03ffu));  // infinity or NaN
    case 2:
    case 3:
      return sign | static_cast<uint16_t>(0x1000u + rng() % 0x2400u);  // about 2^-11 .. 2^-2
    default:
      return bits;
  }
}

struct GgmlRowsCase {
  DType type;
  size_t block_bytes;
  int block_weights;
  std::vector<size_t> f16_fields;  // offsets of the fp16 scales in a block
};

std::vector<GgmlRowsCase> ggml_rows_cases() {
  namespace g = loom::quant::ggml;
  return {
      {DType::Q5_0, sizeof(g::block_q5_0), g::QK, {offsetof(g::block_q5_0, d)}},
      {DType::Q5_1,
       sizeof(g::block_q5_1),
       g::QK,
       {offsetof(g::block_q5_1, d), offsetof(g::block_q5_1, m)}},
      {DType::Q5_K,
       sizeof(g::block_q5_K),
       g::QK_K,
       {offsetof(g::block_q5_K, d), offsetof(g::block_q5_K, dmin)}},
      {DType::Q6_K, sizeof(g::block_q6_K), g::QK_K, {offsetof(g::block_q6_K, d)}},
  };
}

// Random rows: random bytes everywhere, random_f16 in the scale fields.
std::vector<uint8_t> random_ggml_rows(const GgmlRowsCase& c, size_t blocks, std::mt19937& rng) {
  std::vector<uint8_t> bytes(blocks * c.block_bytes);
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
  for (size_t i = 0; i < blocks; ++i) {
    for (size_t off : c.f16_fields) {
      const uint16_t h = random_f16(rng);
      std::memcpy(bytes.data() + i * c.block_bytes + off, &h, 2);
    }
  }
  return bytes;
}

TEST(GgmlDequant, Avx2GivesTheScalarCodesBitsForEveryInput) {
  const bool avx2 = loom::simd::isa_supported(loom::simd::Isa::Avx2);
  if (!avx2) std::printf("note: no AVX2 here; checking the scalar dequantizer against itself\n");
  const auto other =
      avx2 ? loom::quant::dequantize_row_ggml_avx2 : loom::quant::dequantize_row_ggml_scalar;
  std::mt19937 rng(20240611);
  for (const GgmlRowsCase& c : ggml_rows_cases()) {
    SCOPED_TRACE(loom::dtype_name(c.type));
    // 1000 rows of 1, 2, 3, 8 and 16 blocks, 6000 blocks in all.
    constexpr int kBlocks[] = {1, 2, 3, 8, 16};
    size_t nonfinite = 0;
    for (int rep = 0; rep < 1000; ++rep) {
      const int blocks = kBlocks[rep % 5];
      const std::vector<uint8_t> bytes = random_ggml_rows(c, blocks, rng);
      const int n = blocks * c.block_weights;
      std::vector<float> want(n + 1, 1.5f), got(n + 1, 2.5f);  // a guard past the row
      loom::quant::dequantize_row_ggml_scalar(c.type, bytes.data(), want.data(), n);
      other(c.type, bytes.data(), got.data(), n);
      ASSERT_EQ(0, std::memcmp(want.data(), got.data(), n * sizeof(float)))
          << "row of " << blocks << " blocks, repetition " << rep;
      EXPECT_EQ(want[n], 1.5f);
      EXPECT_EQ(got[n], 2.5f);
      for (int i = 0; i < n; ++i) nonfinite += !std::isfinite(want[i]);
    }
    EXPECT_GT(nonfinite, 0u);  // the non-finite scales were exercised
  }
}

// A folder's tokenizer written as tokenizer.ggml metadata (as llama.cpp's converter writes it)
// and read back from the GGUF file: the same ids as the folder's on every text of the tokenizer
// corpus, with and without special tokens, and the same text back.
TEST(GgufTokenizer, EqualsTheFoldersOnTheCorpus) {
  const fs::path shared = LOOM_SHARED_DIR;
  const json corpus =
      loom::test::read_json(fs::path(LOOM_SOURCE_DIR) / "tests/data/tokenizer_corpus.json");
  for (const fs::path& dir :
       {shared / "fixtures/tokenizers/llama3", shared / "fixtures/tokenizers/qwen3",
        shared / "fixtures/tokenizers/llama2-json", shared / "models/stories260K"}) {
    SCOPED_TRACE(dir.string());
    const loom::Tokenizer folder = loom::Tokenizer::load(dir, -1);
    loom::test::TempDir tmp;
    loom::io::GgufWriter w;
    const int bos = folder.bos_id();
    loom::model::write_gguf_tokenizer(w, dir, folder.vocab_size(), bos, -1);
    w.write(tmp.path() / "t.gguf");
    const loom::Tokenizer gguf = loom::Tokenizer::load(tmp.path() / "t.gguf", -1);
    EXPECT_EQ(gguf.vocab_size(), folder.vocab_size());
    EXPECT_EQ(gguf.add_bos(), folder.add_bos());
    int differ = 0;
    for (const json& t : corpus) {
      const std::string text = t.get<std::string>();
      for (bool special : {false, true}) {
        const std::vector<int> a = folder.encode(text, special), b = gguf.encode(text, special);
        if (a != b && ++differ <= 3) {
          ADD_FAILURE() << "special " << special << ": '" << text.substr(0, 60) << "'";
        }
        if (a == b && gguf.decode(b) != folder.decode(a) && ++differ <= 3) {
          ADD_FAILURE() << "decode: '" << text.substr(0, 60) << "'";
        }
      }
    }
    EXPECT_EQ(differ, 0);
  }
}

// Model-level faults of a well-formed file: each a loom::Error naming what is wrong.
TEST(GgufModelErrors, EachNamesTheKeyOrTensor) {
  struct Case {
    const char* what;
    std::function<void(Tiny&)> fault;
    std::vector<std::string> message;  // substrings the error must hold
  };
  const std::vector<Case> cases = {
      {"an architecture loom does not run",
       [](Tiny& t) { t.arch = "mamba"; },
       {"general.architecture", "mamba"}},
      {"metadata of the wrong type",
       [](Tiny& t) { t.block_count_as_string = true; },
       {"llama.block_count", "string"}},
      {"a vocabulary shorter than the embedding",
       [](Tiny& t) { t.tokens_written = 290; },
       {"tokenizer.ggml.tokens", "290", "300"}},
      {"a tensor of the wrong shape",
       [](Tiny& t) { t.q_rows = 128; },
       {"blk.0.attn_q.weight", "shape"}},
      {"a missing tensor", [](Tiny& t) { t.output_norm = false; }, {"output_norm.weight"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    loom::test::TempDir tmp;
    Tiny t;
    c.fault(t);
    t.write(tmp.path() / "bad.gguf", false);
    try {
      loom::Model::load(tmp.path() / "bad.gguf");
      ADD_FAILURE() << "no error";
    } catch (const loom::Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("bad.gguf"), std::string::npos) << m;
      for (const std::string& part : c.message) EXPECT_NE(m.find(part), std::string::npos) << m;
    }
  }
}

}  // namespace
