#include "tokenizer/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include <charconv>

#include "loom/error.h"
#include "tokenizer/tokenizer_config.h"

namespace loom::detail {
namespace fs = std::filesystem;

namespace {

class SentencePieceTokenizer final : public TokenizerImpl {
 public:
  SentencePieceTokenizer(const fs::path& dir, int bos_id);

  std::vector<int> encode(std::string_view text, bool add_special, bool) const override {
    // A sentencepiece model has no added tokens: "<s>" in the text is always text.
    std::vector<int> ids;
    if (add_special && add_bos_ && bos_id_ >= 0) ids.push_back(bos_id_);
    std::vector<int> body;
    auto status = sp_.Encode(text, &body);
    if (!status.ok()) throw Error("cannot tokenize text: " + status.ToString());
    ids.insert(ids.end(), body.begin(), body.end());
    return ids;
  }
  std::string decode(std::span<const int> ids, bool skip_special) const override {
    std::vector<int> v;
    v.reserve(ids.size());
    for (int id : ids) {
      if (!skip_special || !sp_.IsControl(id)) v.push_back(id);
    }
    std::string text;
    auto status = sp_.Decode(v, &text);
    if (!status.ok()) throw Error("cannot decode ids: " + status.ToString());
    return text;
  }
  std::string_view token_bytes(int id) const override { return bytes_[id]; }
  std::optional<int> token_id(std::string_view token) const override {
    const int id = sp_.PieceToId(token);
    // PieceToId answers unk_id for any unknown piece.
    if (id < 0 || (id == sp_.unk_id() && sp_.IdToPiece(id) != token)) return std::nullopt;
    return id;
  }
  bool is_special(int id) const override { return sp_.IsControl(id); }
  int vocab_size() const override { return sp_.GetPieceSize(); }
  int bos_id() const override { return bos_id_; }
  bool add_bos() const override { return add_bos_ && bos_id_ >= 0; }
  bool strips_leading_space() const override { return true; }
  std::string describe() const override {
    return "tokenizer.model (sentencepiece, " + std::to_string(vocab_size()) + " pieces)";
  }

 private:
  sentencepiece::SentencePieceProcessor sp_;
  std::vector<std::string> bytes_;  // per id: what the token adds to a text
  int bos_id_ = -1;
  bool add_bos_ = true;
};

SentencePieceTokenizer::SentencePieceTokenizer(const fs::path& dir, int bos_id) {
  const fs::path model = dir / "tokenizer.model";
  if (!fs::exists(model)) throw Error("no tokenizer.model in " + dir.string());
  auto status = sp_.Load(model.string());
  if (!status.ok()) {
    throw Error(model.string() + ": not a sentencepiece model (" + status.ToString() +
                "); Llama 3's tokenizer.model is a tiktoken file, which loom reads only through "
                "the folder's tokenizer.json");
  }
  bos_id_ = bos_id >= 0 ? bos_id : sp_.bos_id();
  const TokenizerConfig cfg = read_tokenizer_config(dir);
  if (cfg.add_bos_token) add_bos_ = *cfg.add_bos_token;

  const int n = sp_.GetPieceSize();
  bytes_.resize(n);
  for (int id = 0; id < n; ++id) {
    std::string& b = bytes_[id];
    if (sp_.IsControl(id)) continue;
    if (sp_.IsByte(id)) {
      // "<0x0A>" -> the byte 0x0A. sentencepiece checks the form on load; checked again here
      // because std::stoi would throw something less helpful than a loom::Error.
      const std::string piece = sp_.IdToPiece(id);
      unsigned byte = 0;
      const char* end = piece.data() + piece.size();
      if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece.back() != '>' ||
          std::from_chars(piece.data() + 3, end - 1, byte, 16).ptr != end - 1) {
        throw Error(model.string() + ": byte piece " + std::to_string(id) + " is '" + piece +
                    "', not of the form <0xAB>");
      }
      b.push_back(static_cast<char>(byte));
      continue;
    }
    if (sp_.IsUnknown(id)) {
      b = " \xE2\x81\x87 ";  // " ⁇ ", as sentencepiece decodes <unk>
      continue;
    }
    const std::string piece = sp_.IdToPiece(id);
    for (size_t i = 0; i < piece.size(); ++i) {
      if (piece.compare(i, 3, "\xE2\x96\x81") == 0) {  // U+2581, sentencepiece's space
        b.push_back(' ');
        i += 2;
      } else {
        b.push_back(piece[i]);
      }
    }
  }
}

}  // namespace

std::unique_ptr<TokenizerImpl> load_sentencepiece_tokenizer(const fs::path& dir, int bos_id) {
  return std::make_unique<SentencePieceTokenizer>(dir, bos_id);
}

}  // namespace loom::detail
