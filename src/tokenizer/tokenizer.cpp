#include "loom/tokenizer.h"

#include <sentencepiece_processor.h>

#include <charconv>
#include <fstream>
#include <nlohmann/json.hpp>

#include "loom/error.h"

namespace loom {
namespace fs = std::filesystem;

struct Tokenizer::Impl {
  sentencepiece::SentencePieceProcessor sp;
  std::vector<std::string> bytes;  // per id: what the token adds to a text
};

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const fs::path& dir, int bos_id) {
  const fs::path model = dir / "tokenizer.model";
  if (!fs::exists(model)) {
    if (fs::exists(dir / "tokenizer.json")) {
      throw Error(dir.string() +
                  " has only tokenizer.json (a byte-level BPE tokenizer, as Llama 3 uses), which "
                  "loom does not support yet; it needs a sentencepiece tokenizer.model");
    }
    throw Error("no tokenizer.model in " + dir.string());
  }
  Tokenizer t;
  auto status = t.impl_->sp.Load(model.string());
  if (!status.ok()) {
    throw Error(model.string() + ": not a sentencepiece model (" + status.ToString() +
                "); Llama 3's tokenizer.model is a tiktoken file, which loom does not read yet");
  }
  t.bos_id_ = bos_id;
  const fs::path cfg = dir / "tokenizer_config.json";
  if (fs::exists(cfg)) {
    std::ifstream in(cfg);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw Error(cfg.string() + ": invalid JSON: " + e.what());
    }
    if (j.contains("add_bos_token")) {
      if (!j["add_bos_token"].is_boolean()) {
        throw Error(cfg.string() + ": key 'add_bos_token' must be true or false, got " +
                    j["add_bos_token"].dump());
      }
      t.add_bos_ = j["add_bos_token"].get<bool>();
    }
  }

  auto& sp = t.impl_->sp;
  const int n = sp.GetPieceSize();
  t.impl_->bytes.resize(n);
  for (int id = 0; id < n; ++id) {
    std::string& b = t.impl_->bytes[id];
    if (sp.IsControl(id)) continue;
    if (sp.IsByte(id)) {
      // "<0x0A>" -> the byte 0x0A. sentencepiece checks the form on load; checked again here
      // because std::stoi would throw something less helpful than a loom::Error.
      const std::string piece = sp.IdToPiece(id);
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
    if (sp.IsUnknown(id)) {
      b = " \xE2\x81\x87 ";  // " ⁇ ", as sentencepiece decodes <unk>
      continue;
    }
    const std::string piece = sp.IdToPiece(id);
    for (size_t i = 0; i < piece.size(); ++i) {
      if (piece.compare(i, 3, "\xE2\x96\x81") == 0) {  // U+2581, sentencepiece's space
        b.push_back(' ');
        i += 2;
      } else {
        b.push_back(piece[i]);
      }
    }
  }
  return t;
}

std::vector<int> Tokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int> ids;
  if (add_bos && bos_id_ >= 0) ids.push_back(bos_id_);
  std::vector<int> body;
  auto status = impl_->sp.Encode(text, &body);
  if (!status.ok()) throw Error("cannot tokenize text: " + status.ToString());
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

std::string Tokenizer::decode(std::span<const int> ids) const {
  std::vector<int> v;
  v.reserve(ids.size());
  for (int id : ids) {
    if (id < 0 || id >= vocab_size()) {
      throw Error("token id " + std::to_string(id) + " is outside the tokenizer's vocabulary of " +
                  std::to_string(vocab_size()));
    }
    v.push_back(id);
  }
  std::string text;
  auto status = impl_->sp.Decode(v, &text);
  if (!status.ok()) throw Error("cannot decode ids: " + status.ToString());
  return text;
}

std::string_view Tokenizer::token_bytes(int id) const {
  if (id < 0 || id >= static_cast<int>(impl_->bytes.size())) return {};
  return impl_->bytes[id];
}

int Tokenizer::vocab_size() const {
  return impl_->sp.GetPieceSize();
}

namespace {
// Length of the UTF-8 sequence a lead byte starts (1 for ASCII and for stray bytes).
int utf8_len(unsigned char c) {
  if (c >= 0xF0 && c < 0xF8) return 4;
  if (c >= 0xE0) return c < 0xF0 ? 3 : 1;
  if (c >= 0xC0) return 2;
  return 1;
}
}  // namespace

std::string_view TextStream::push(int id) {
  std::string_view b = tok_->token_bytes(id);
  if (at_start_ && !b.empty()) {
    if (b.front() == ' ') b.remove_prefix(1);
    at_start_ = false;
  }
  pending_.append(b);
  // Emit everything up to the start of a character whose bytes have not all arrived.
  size_t cut = pending_.size();
  for (size_t i = pending_.size(); i-- > 0 && pending_.size() - i < 4;) {
    const auto c = static_cast<unsigned char>(pending_[i]);
    if ((c & 0xC0) != 0x80) {  // a lead byte (or ASCII)
      if (i + utf8_len(c) > pending_.size()) cut = i;
      break;
    }
  }
  out_.assign(pending_, 0, cut);
  pending_.erase(0, cut);
  return out_;
}

std::string_view TextStream::flush() {
  out_.swap(pending_);
  pending_.clear();
  return out_;
}

}  // namespace loom
