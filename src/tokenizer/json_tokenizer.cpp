#include "tokenizer/json_tokenizer.h"

#include <algorithm>

#include "loom/error.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/decoders.h"
#include "tokenizer/json_value.h"
#include "tokenizer/normalizers.h"
#include "tokenizer/post_processors.h"
#include "tokenizer/pre_tokenizers.h"
#include "tokenizer/sentencepiece_convert.h"
#include "tokenizer/tokenizer_config.h"
#include "tokenizer/unicode.h"

namespace loom::detail {
namespace fs = std::filesystem;

namespace {

class JsonTokenizer final : public TokenizerImpl {
 public:
  // DOC: the tokenizer.json to read instead of DIR's (a converted tokenizer.model or GGUF
  // metadata), or null; CFG: the settings tokenizer_config.json would give.
  JsonTokenizer(const fs::path& dir, int bos_id, std::unique_ptr<JsonDocument> doc,
                const TokenizerConfig& cfg);

  std::vector<int> encode(std::string_view text, bool add_special,
                          bool parse_special) const override;
  std::string decode(std::span<const int> ids, bool skip_special) const override;
  std::string_view token_bytes(int id) const override { return bytes_[id]; }
  std::optional<int> token_id(std::string_view token) const override {
    if (const int id = added_by_content_.find(token); id >= 0) return id;
    return model_->find(token);
  }
  bool is_special(int id) const override { return special_[id]; }
  int vocab_size() const override { return static_cast<int>(tokens_.size()); }
  int bos_id() const override { return bos_id_; }
  bool add_bos() const override { return add_bos_; }
  bool strips_leading_space() const override {
    return decoder_ && decoder_->strips_leading_space();
  }
  std::string describe() const override { return describe_; }

 private:
  void encode_text(std::string_view text, bool origin, bool parse_special, std::vector<int>& ids,
                   Pieces& pieces, std::string& norm) const;

  std::unique_ptr<JsonDocument> doc_;  // only while loading
  std::unique_ptr<Normalizer> normalizer_;
  PreTokenizerChain pre_;
  std::unique_ptr<Bpe> model_;
  AddedTokens added_;
  VocabTable added_by_content_;
  PostProcessor post_;
  std::unique_ptr<Decoder> decoder_;
  std::vector<std::string> tokens_;  // by id: the added token's content or the vocabulary entry
  std::vector<uint8_t> present_;     // whether an id has a token at all
  std::vector<std::string> bytes_;
  std::vector<uint8_t> special_;
  int bos_id_ = -1;
  bool add_bos_ = false;
  std::string describe_;
};

namespace {

// transformers 5.17 reads a tokenizer.json through the class tokenizer_config.json names, and
// LlamaTokenizer (LlamaTokenizerFast is an alias of it) does not keep the file's pipeline: its
// __init__ builds a BPE from the file's vocabulary and merges and gives it no normalizer, a
// Metaspace pre-tokenizer ("▁", no split) and a Replace/ByteFallback/Fuse(/Strip) decoder; only
// the file's post-processor and added tokens survive. Its Metaspace prepends "▁" at the text's
// start only ("first") unless the config says legacy: true ("always", after every special token
// too), and not at all with add_prefix_space: false (which also drops the Strip). This differs
// from the legacy Prepend("▁") + Replace(" ", "▁") normalizer of Llama 2 / Mistral v0.1 files:
// " " is "▁" there, not "▁▁", and "x</s>y" gives "y", not "▁y". Loom does the same, so ids match
// what transformers feeds the model. Only for sentencepiece-style files (a byte_fallback model):
// on a byte-level file (DeepSeek V3 names LlamaTokenizerFast) the rebuild loses every space,
// which no model was trained on, so loom keeps the file's pipeline there. The model stays the
// file's: transformers' BPE drops the file's unk_token, which byte fallback never reaches.
std::unique_ptr<JsonDocument> llama_pipeline(const TokenizerConfig& cfg, const fs::path& file) {
  std::string json = "{";  // (appended: GCC 12 warns falsely on "{" + std::string)
  json += llama_pipeline_json(cfg);
  json += "}";
  return JsonDocument::parse(json, file.string() + " (as transformers' LlamaTokenizer)");
}

}  // namespace

JsonTokenizer::JsonTokenizer(const fs::path& dir, int bos_id, std::unique_ptr<JsonDocument> doc,
                             const TokenizerConfig& cfg) {
  const bool converted = doc != nullptr;
  const fs::path file = converted ? doc->file() : dir / "tokenizer.json";
  doc_ = converted ? std::move(doc) : JsonDocument::load(file);
  const JsonValue root = doc_->root();
  if (!root.is_object()) root.fail("must be a JSON object");

  const JsonValue model_v = root.at("model");
  std::string_view model_type = "BPE";
  if (auto t = model_v.get_str("type")) {
    model_type = *t;
  } else if (!model_v.get("merges")) {
    model_v.fail("has no \"type\" and no merges; loom reads BPE models only");
  }
  if (model_type != "BPE") {
    model_v.at("type").fail("names model type '" + std::string(model_type) +
                            "', which loom does not support yet (it reads BPE models only)");
  }

  const bool llama =
      is_llama_class(cfg.tokenizer_class) && model_v.get_bool("byte_fallback", false);
  if (llama) {
    const std::unique_ptr<JsonDocument> d = llama_pipeline(cfg, file);
    pre_ = parse_pre_tokenizer(d->root().at("pre_tokenizer"));
    decoder_ = parse_decoder(d->root().at("decoder"));
  } else {
    normalizer_ = root.get("normalizer") ? parse_normalizer(root.at("normalizer")) : nullptr;
    pre_ = root.get("pre_tokenizer") ? parse_pre_tokenizer(root.at("pre_tokenizer"))
                                     : PreTokenizerChain{};
    decoder_ = root.get("decoder") ? parse_decoder(root.at("decoder")) : nullptr;
  }
  model_ = std::make_unique<Bpe>(model_v, pre_.byte_level);

  // Added tokens: ids may lie inside the model's vocabulary or follow it.
  std::vector<AddedToken> added;
  std::vector<std::string> added_norm;
  const size_t model_size = model_->id_count();
  std::vector<JsonValue> added_v;
  if (auto a = root.get("added_tokens")) added_v = a->items();
  const int64_t id_limit = static_cast<int64_t>(model_size + added_v.size());
  for (const JsonValue& a : added_v) {
    AddedToken t;
    t.content = std::string(a.at("content").str());
    const int64_t id = a.at("id").integer();
    if (id < 0 || id >= id_limit) {
      a.at("id").fail("gives added token '" + t.content + "' the id " + std::to_string(id) +
                      ", outside 0.." + std::to_string(id_limit - 1) + " (the model's " +
                      std::to_string(model_size) + " tokens and " + std::to_string(added_v.size()) +
                      " added ones)");
    }
    t.id = static_cast<int>(id);
    t.special = a.get_bool("special", false);
    t.lstrip = a.get_bool("lstrip", false);
    t.rstrip = a.get_bool("rstrip", false);
    t.single_word = a.get_bool("single_word", false);
    t.normalized = a.get_bool("normalized", !t.special);
    std::string norm = t.content;
    if (t.normalized && normalizer_) normalizer_->apply(norm);
    added_norm.push_back(std::move(norm));
    added.push_back(std::move(t));
  }

  // Every id's token: added tokens take precedence over the model's entry, as in tokenizers.
  size_t n = model_size;
  for (const AddedToken& t : added) n = std::max(n, static_cast<size_t>(t.id) + 1);
  tokens_ = model_->take_tokens();
  tokens_.resize(n);
  present_.assign(n, 0);
  special_.assign(n, 0);
  for (size_t id = 0; id < model_size; ++id) present_[id] = model_->has_id(id);
  for (const AddedToken& t : added) {
    tokens_[t.id] = t.content;
    present_[t.id] = 1;
    special_[t.id] = t.special;
    added_by_content_.insert(t.content, t.id);
  }
  added_ = AddedTokens(std::move(added), added_norm);
  // Special for decode and streaming; the input is still split on them as the file says.
  for (const std::string& t : config_special_tokens(cfg)) {
    if (const std::optional<int> id = token_id(t)) special_[*id] = 1;
  }

  bytes_.resize(n);
  for (size_t id = 0; id < n; ++id) {
    if (!present_[id] || special_[id]) continue;
    bytes_[id] = tokens_[id];
    if (decoder_) decoder_->token_bytes(bytes_[id]);
  }

  post_ = root.get("post_processor") ? parse_post_processor(root.at("post_processor"))
                                     : PostProcessor{};
  for (const auto* list : {&post_.before, &post_.after}) {
    for (int id : *list) {
      if (id >= static_cast<int>(n)) {
        root.at("post_processor")
            .fail("adds token id " + std::to_string(id) + ", outside the vocabulary of " +
                  std::to_string(n));
      }
    }
  }

  const auto config_token = [&](const std::optional<std::string>& t) {
    return t ? token_id(*t).value_or(-1) : -1;
  };
  // tokenizer_config.json's add_bos_token/add_eos_token do not apply: with a tokenizer.json,
  // transformers drops them when loading (PreTrainedTokenizerBase._from_pretrained) and the file's
  // post-processor decides.
  bos_id_ = bos_id;
  if (bos_id_ < 0) bos_id_ = config_token(cfg.bos_token);
  add_bos_ = bos_id_ >= 0 &&
             std::find(post_.before.begin(), post_.before.end(), bos_id_) != post_.before.end();

  describe_ = converted ? "tokenizer.model (sentencepiece BPE converted as transformers does, "
                        : "tokenizer.json (BPE, ";
  if (pre_.byte_level) {
    describe_ += "byte-level, ";
  } else if (model_->byte_fallback()) {
    describe_ += "byte-fallback, ";
  }
  describe_ += std::to_string(n) + " tokens";
  describe_ += llama ? ", read as transformers' LlamaTokenizer)" : ")";
  doc_.reset();
}

void JsonTokenizer::encode_text(std::string_view text, bool origin, bool parse_special,
                                std::vector<int>& ids, Pieces& pieces, std::string& norm) const {
  norm.assign(text);
  if (normalizer_) normalizer_->apply(norm);
  thread_local std::vector<Segment> segs;
  segs.clear();
  added_.split(norm, true, parse_special, segs);
  for (const Segment& s : segs) {
    if (s.id >= 0) {
      ids.push_back(s.id);
      continue;
    }
    pre_.run(std::string_view(norm).substr(s.begin, s.end - s.begin), origin && s.begin == 0,
             pieces, [&](const Pieces& batch) {
               for (const Piece& p : batch.list) {
                 model_->encode(std::string_view(batch.text).substr(p.begin, p.end - p.begin), ids);
               }
             });
  }
}

std::vector<int> JsonTokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  if (const size_t bad = invalid_utf8_at(text); bad != std::string_view::npos) {
    throw Error("cannot tokenize text: it is not valid UTF-8 (byte " + std::to_string(bad) +
                " of " + std::to_string(text.size()) + ")");
  }
  std::vector<int> ids;
  ids.reserve(text.size() / 3 + post_.before.size() + post_.after.size() + 4);
  if (add_special) ids = post_.before;
  // Scratch kept per thread: its memory is reused from call to call.
  thread_local std::vector<Segment> segs;
  thread_local Pieces pieces;
  thread_local std::string norm;
  segs.clear();
  added_.split(text, false, parse_special, segs);
  for (const Segment& s : segs) {
    if (s.id >= 0) {
      ids.push_back(s.id);
    } else {
      encode_text(text.substr(s.begin, s.end - s.begin), s.begin == 0, parse_special, ids, pieces,
                  norm);
    }
  }
  if (add_special) ids.insert(ids.end(), post_.after.begin(), post_.after.end());
  return ids;
}

std::string JsonTokenizer::decode(std::span<const int> ids, bool skip_special) const {
  std::vector<std::string> toks;
  toks.reserve(ids.size());
  for (int id : ids) {
    if (!present_[id] || (skip_special && special_[id])) continue;
    toks.push_back(tokens_[id]);
  }
  std::string text;
  if (decoder_) {
    decoder_->decode_chain(toks);
    for (const std::string& t : toks) text += t;
  } else {
    for (size_t i = 0; i < toks.size(); ++i) {
      if (i) text += ' ';
      text += toks[i];
    }
  }
  // No clean_up_tokenization_spaces: transformers (5.7 on) skips it for BPE models whatever
  // tokenizer_config.json says, and every model read here is BPE.
  return text;
}

}  // namespace

std::unique_ptr<TokenizerImpl> load_json_tokenizer(const fs::path& dir, int bos_id) {
  return std::make_unique<JsonTokenizer>(dir, bos_id, nullptr, read_tokenizer_config(dir));
}

std::unique_ptr<TokenizerImpl> load_converted_sentencepiece(const fs::path& dir, int bos_id) {
  const fs::path model = dir / "tokenizer.model";
  const TokenizerConfig cfg = read_tokenizer_config(dir);
  const std::optional<std::string> json = sentencepiece_to_tokenizer_json(model, cfg);
  if (!json) return nullptr;
  return std::make_unique<JsonTokenizer>(
      dir, bos_id, JsonDocument::parse(*json, model.string() + " (converted)"), cfg);
}

std::unique_ptr<TokenizerImpl> load_tokenizer_json_text(const std::string& json,
                                                        const fs::path& name, int bos_id,
                                                        const TokenizerConfig& cfg) {
  return std::make_unique<JsonTokenizer>(name.parent_path(), bos_id,
                                         JsonDocument::parse(json, name), cfg);
}

}  // namespace loom::detail
