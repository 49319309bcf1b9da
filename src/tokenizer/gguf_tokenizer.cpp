#include "tokenizer/gguf_tokenizer.h"

#include <string>
#include <vector>

#include "loom/error.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer/json_tokenizer.h"
#include "tokenizer/sentencepiece_convert.h"
#include "tokenizer/tokenizer_config.h"

namespace loom::detail {
namespace {

using namespace gguf_vocab;

// llama.cpp's token types (llama_token_type).

std::string split_then_bytes(const char* regex) {
  return R"({"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":)" +
         json_string(regex) +
         R"(},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,)"
         R"("trim_offsets":false,"use_regex":false}]})";
}

std::string gpt2_json(const io::GgufFile& f, const std::vector<std::string>& tokens,
                      const std::vector<int64_t>& types, int bos, bool add_bos) {
  const std::string where = f.path().string();
  const std::string pre = f.find_string("tokenizer.ggml.pre").value_or("default");
  std::string normalizer = "null", pre_tokenizer;
  bool ignore_merges = false;
  if (pre == "llama3" || pre == "llama-bpe" || pre == "llama-v3") {
    pre_tokenizer = split_then_bytes(kLlama3Regex);
    ignore_merges = true;  // Llama 3's tokenizer.json sets it
  } else if (pre == "qwen2") {
    pre_tokenizer = split_then_bytes(kQwen2Regex);
    normalizer = R"({"type":"NFC"})";
  } else if (pre == "default" || pre == "gpt-2" || pre == "gpt2") {
    pre_tokenizer =
        R"({"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true})";
  } else {
    throw Error(where + ": tokenizer.ggml.pre is '" + pre +
                "'; loom reads llama-bpe (Llama 3), qwen2 and default (GPT-2) pre-tokenizers");
  }
  const std::vector<std::string> merges = f.get_string_array("tokenizer.ggml.merges");

  std::string json = R"({"version":"1.0","added_tokens":[)";
  bool first = true;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (types[i] != Control && types[i] != UserDefined) continue;
    if (!first) json += ',';
    first = false;
    json += R"({"id":)" + std::to_string(i) + R"(,"content":)" + json_string(tokens[i]) +
            R"(,"single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":)" +
            (types[i] == Control ? "true" : "false") + "}";
  }
  json += R"(],"normalizer":)" + normalizer + R"(,"pre_tokenizer":)" + pre_tokenizer;
  if (add_bos && bos >= 0) {
    json += R"(,"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":)" +
            json_string(tokens[bos]) +
            R"(,"type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"special_tokens":{)" +
            json_string(tokens[bos]) + R"(:{"id":)" + json_string(tokens[bos]) + R"(,"ids":[)" +
            std::to_string(bos) + R"(],"tokens":[)" + json_string(tokens[bos]) + "]}}}";
  } else {
    json += R"(,"post_processor":null)";
  }
  json += R"(,"decoder":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,)"
          R"("use_regex":true},"model":{"type":"BPE","dropout":null,"unk_token":null,)"
          R"("continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":false,)"
          R"("byte_fallback":false,"ignore_merges":)";
  json += ignore_merges ? "true" : "false";
  json += R"(,"vocab":{)";
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i) json += ',';
    json += json_string(tokens[i]) + ":" + std::to_string(i);
  }
  json += R"(},"merges":[)";
  for (size_t i = 0; i < merges.size(); ++i) {
    if (i) json += ',';
    json += json_string(merges[i]);
  }
  json += "]}}";
  return json;
}

}  // namespace

std::unique_ptr<TokenizerImpl> load_gguf_tokenizer(const io::GgufFile& f, int bos_id) {
  const std::string where = f.path().string();
  const std::string model = f.get_string("tokenizer.ggml.model");
  const std::vector<std::string> tokens = f.get_string_array("tokenizer.ggml.tokens");
  const int n = static_cast<int>(tokens.size());
  std::vector<int64_t> types(tokens.size(), Normal);
  if (f.has("tokenizer.ggml.token_type")) {
    types = f.get_int_array("tokenizer.ggml.token_type");
    if (types.size() != tokens.size()) {
      throw Error(where + ": tokenizer.ggml.token_type has " + std::to_string(types.size()) +
                  " entries, tokenizer.ggml.tokens " + std::to_string(tokens.size()));
    }
  }
  auto token = [&](const char* key) -> int {
    const std::optional<uint64_t> id = f.find_uint(key);
    if (!id) return -1;
    if (*id >= tokens.size()) {
      throw Error(where + ": " + key + " is " + std::to_string(*id) + ", outside the " +
                  std::to_string(n) + "-token vocabulary");
    }
    return static_cast<int>(*id);
  };
  const int bos = bos_id >= 0 ? bos_id : token("tokenizer.ggml.bos_token_id");
  const int eos = token("tokenizer.ggml.eos_token_id");
  TokenizerConfig cfg;
  std::string json;
  if (model == "llama") {
    // Sentencepiece pieces, read as transformers reads a tokenizer.model. llama.cpp puts its
    // space before the text and after every special token, as LlamaTokenizer's legacy mode does.
    cfg.tokenizer_class = "LlamaTokenizer";
    cfg.legacy = true;
    if (!f.find_bool("tokenizer.ggml.add_space_prefix").value_or(true)) {
      cfg.add_prefix_space = false;
    }
    // A file loom wrote from a folder keeps that folder's scheme.
    if (const auto scheme = f.find_string("loom.tokenizer.prepend_scheme")) {
      if (*scheme == "first") {
        cfg.legacy = false;
      } else if (*scheme == "never") {
        cfg.add_prefix_space = false;
      } else if (*scheme != "always") {
        throw Error(where + ": loom.tokenizer.prepend_scheme is '" + *scheme +
                    "' (want always, first or never)");
      }
    }
    cfg.add_bos_token = f.find_bool("tokenizer.ggml.add_bos_token").value_or(true);
    cfg.add_eos_token = f.find_bool("tokenizer.ggml.add_eos_token").value_or(false);
    std::vector<bool> special(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) {
      special[i] = types[i] == Control || types[i] == Unknown;
    }
    json = sentencepiece_pieces_to_tokenizer_json(tokens, special, bos, eos, cfg);
  } else if (model == "gpt2") {
    const bool add_bos = f.find_bool("tokenizer.ggml.add_bos_token").value_or(false);
    json = gpt2_json(f, tokens, types, bos, add_bos);
  } else {
    throw Error(where + ": tokenizer.ggml.model is '" + model +
                "'; loom reads llama (sentencepiece) and gpt2 (byte-level BPE) tokenizers");
  }
  return load_tokenizer_json_text(json, where + " (tokenizer.ggml)", bos, cfg);
}

}  // namespace loom::detail
