#include "tokenizer/sentencepiece_convert.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "loom/error.h"

namespace loom::detail {
namespace fs = std::filesystem;

namespace {

// trainer_spec.model_type of a serialized ModelProto (field 2, then field 3 inside it; absent
// means UNIGRAM = 1, protobuf's default for it). sentencepiece's C++ API does not expose it, and
// Debian ships no sentencepiece_model.pb.h, so the few wire-format fields are read here.
int model_type(std::string_view proto, const fs::path& file) {
  const auto fail = [&]() -> int {
    throw Error(file.string() + ": malformed sentencepiece model (cannot read its trainer_spec)");
  };
  const auto varint = [&](std::string_view s, size_t& at) -> uint64_t {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && at < s.size(); shift += 7) {
      const auto b = static_cast<uint8_t>(s[at++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    return fail();
  };
  // Message S's field WANT: with NESTED, the payload of that length-delimited field into OUT;
  // without, that varint field's value into VALUE (the last one wins, as protobuf reads it).
  // Returns whether S had it.
  const auto walk = [&](std::string_view s, uint64_t want, bool nested, std::string_view& out,
                        uint64_t& value) {
    bool found = false;
    for (size_t at = 0; at < s.size();) {
      const uint64_t tag = varint(s, at);
      switch (tag & 7) {
        case 0: {
          const uint64_t v = varint(s, at);
          if (!nested && tag >> 3 == want) value = v, found = true;
          break;
        }
        case 1:
          at += 8;
          break;
        case 5:
          at += 4;
          break;
        case 2: {
          const uint64_t len = varint(s, at);
          if (len > s.size() - at) fail();
          if (nested && tag >> 3 == want) out = s.substr(at, len), found = true;
          at += len;
          break;
        }
        default:
          fail();
      }
      if (at > s.size()) fail();
    }
    return found;
  };
  std::string_view trainer;
  uint64_t type = 1;
  if (walk(proto, 2, true, trainer, type)) walk(trainer, 3, false, trainer, type);
  return static_cast<int>(type);
}

size_t code_points(std::string_view s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<uint8_t>(c) & 0xC0) != 0x80; }));
}

struct Merge {
  int left, right;  // piece ids
  int piece;        // the piece they make
  size_t left_len, right_len;
};

// transformers 5's generate_merges without scores (its SentencePieceExtractor passes none):
// every split of every piece into two pieces, a piece's splits ordered by (left id, right id),
// then all of them by (merged piece's id, left length, right length), ties kept in that order.
// A BPE model's ids follow its merge order, so the id is the merge's rank.
std::vector<Merge> merges_of(const std::vector<std::string>& pieces) {
  std::unordered_map<std::string_view, int> id_of;
  id_of.reserve(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) id_of.emplace(pieces[i], static_cast<int>(i));
  std::vector<Merge> merges;
  std::vector<Merge> local;
  for (size_t id = 0; id < pieces.size(); ++id) {
    const std::string_view p = pieces[id];
    local.clear();
    for (size_t cut = 1; cut < p.size(); ++cut) {
      if ((static_cast<uint8_t>(p[cut]) & 0xC0) == 0x80) continue;  // inside a character
      const auto l = id_of.find(p.substr(0, cut));
      if (l == id_of.end()) continue;
      const auto r = id_of.find(p.substr(cut));
      if (r == id_of.end()) continue;
      local.push_back({l->second, r->second, static_cast<int>(id), code_points(p.substr(0, cut)),
                       code_points(p.substr(cut))});
    }
    std::sort(local.begin(), local.end(), [](const Merge& a, const Merge& b) {
      return a.left != b.left ? a.left < b.left : a.right < b.right;
    });
    merges.insert(merges.end(), local.begin(), local.end());
  }
  std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) {
    if (a.piece != b.piece) return a.piece < b.piece;
    if (a.left_len != b.left_len) return a.left_len < b.left_len;
    return a.right_len < b.right_len;
  });
  return merges;
}

// S as a JSON string: quotes, backslashes and control characters escaped, everything else as
// is (sentencepiece's pieces are UTF-8). By hand, not through a JSON library's value per piece
// and merge: 150 thousand of those were most of the conversion's time (docs/tokenizers.md).
std::string json_quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[(c >> 4) & 0xf];
      out += kHex[c & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace

std::optional<std::string> sentencepiece_to_tokenizer_json(const fs::path& model,
                                                           const TokenizerConfig& cfg) {
  sentencepiece::SentencePieceProcessor sp;
  if (const auto status = sp.Load(model.string()); !status.ok()) {
    throw Error(model.string() + ": not a sentencepiece model (" + status.ToString() + ")");
  }
  constexpr int kBpe = 2;
  if (model_type(sp.serialized_model_proto(), model) != kBpe) return std::nullopt;

  const int n = sp.GetPieceSize();
  std::vector<std::string> pieces(n);
  std::vector<bool> special(n);
  for (int i = 0; i < n; ++i) {
    pieces[i] = sp.IdToPiece(i);
    special[i] = sp.IsControl(i) || sp.IsUnknown(i);
  }
  return sentencepiece_pieces_to_tokenizer_json(pieces, special, sp.bos_id(), sp.eos_id(), cfg);
}

std::string sentencepiece_pieces_to_tokenizer_json(const std::vector<std::string>& pieces,
                                                   const std::vector<bool>& special, int bos,
                                                   int eos, const TokenizerConfig& cfg) {
  const int n = static_cast<int>(pieces.size());
  // The pieces sentencepiece never makes from text (control and unknown: <s>, </s>, <unk>) are
  // special added tokens, split out of a text before the model sees it.
  std::string added = "[";
  for (int i = 0; i < n; ++i) {
    if (!special[i]) continue;
    if (added.size() > 1) added += ',';
    added += R"({"id":)" + std::to_string(i) + R"(,"content":)" + json_quote(pieces[i]) +
             R"(,"single_word":false,"lstrip":false,"rstrip":false,"normalized":false,)" +
             R"("special":true})";
  }
  added += ']';

  std::string json = R"({"version":"1.0","added_tokens":)" + added + R"(,"normalizer":null,)";
  json += llama_pipeline_json(cfg) + ",";

  // BOS/EOS around a text as the config asks (LlamaTokenizer's defaults: BOS, no EOS).
  const auto special_step = [&](int id) {
    return R"({"SpecialToken":{"id":)" + json_quote(pieces[id]) + R"(,"type_id":0}})";
  };
  std::string single, special_tokens;
  const auto add_special = [&](int id) {
    if (id < 0 || id >= n) return;
    single += special_step(id) + ",";
    if (!special_tokens.empty()) special_tokens += ',';
    special_tokens += json_quote(pieces[id]) + R"(:{"id":)" + json_quote(pieces[id]) +
                      R"(,"ids":[)" + std::to_string(id) + R"(],"tokens":[)" +
                      json_quote(pieces[id]) + "]}";
  };
  if (cfg.add_bos_token.value_or(true)) add_special(bos);
  single += R"({"Sequence":{"id":"A","type_id":0}})";
  if (cfg.add_eos_token.value_or(false)) {
    single += ",";
    add_special(eos);
    single.pop_back();
  }
  json += R"("post_processor":{"type":"TemplateProcessing","single":[)" + single +
          R"(],"special_tokens":{)" + special_tokens + "}},";

  json += R"("model":{"type":"BPE","dropout":null,"unk_token":null,"fuse_unk":true,)";
  json += R"("byte_fallback":true,"ignore_merges":false,"vocab":{)";
  for (int i = 0; i < n; ++i) {
    if (i) json += ',';
    json += json_quote(pieces[i]);
    json += ':';
    json += std::to_string(i);
  }
  json += R"(},"merges":[)";
  bool first = true;
  for (const Merge& m : merges_of(pieces)) {
    if (!first) json += ',';
    first = false;
    json += '[';
    json += json_quote(pieces[m.left]);
    json += ',';
    json += json_quote(pieces[m.right]);
    json += ']';
  }
  json += "]}}";
  return json;
}

std::string json_string(std::string_view s) {
  return json_quote(s);
}

}  // namespace loom::detail
