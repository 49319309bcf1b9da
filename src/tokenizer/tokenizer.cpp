#include "loom/tokenizer.h"

#include "io/gguf.h"
#include "loom/error.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/json_tokenizer.h"
#include "tokenizer/sentencepiece_tokenizer.h"
#include "tokenizer/tokenizer_impl.h"

namespace loom {
namespace fs = std::filesystem;

Tokenizer::Tokenizer(std::unique_ptr<detail::TokenizerImpl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const fs::path& dir, int bos_id, const TokenizerOptions& options) {
  using Source = TokenizerOptions::Source;
  if (dir.extension() == ".gguf" && fs::is_regular_file(dir)) {
    return Tokenizer(detail::load_gguf_tokenizer(io::GgufFile::open(dir), bos_id));
  }
  const bool has_json = fs::exists(dir / "tokenizer.json");
  const bool has_model = fs::exists(dir / "tokenizer.model");
  switch (options.source) {
    case Source::Auto:
      if (has_json) return Tokenizer(detail::load_json_tokenizer(dir, bos_id));
      if (has_model) {
        // As transformers: a BPE tokenizer.model converted to tokenizer.json's pipeline; others
        // (Unigram) through sentencepiece.
        if (auto t = detail::load_converted_sentencepiece(dir, bos_id))
          return Tokenizer(std::move(t));
        return Tokenizer(detail::load_sentencepiece_tokenizer(dir, bos_id));
      }
      throw Error("no tokenizer.json or tokenizer.model in " + dir.string());
    case Source::Json:
      if (!has_json) throw Error("no tokenizer.json in " + dir.string());
      return Tokenizer(detail::load_json_tokenizer(dir, bos_id));
    case Source::SentencePiece:
      if (!has_model) throw Error("no tokenizer.model in " + dir.string());
      return Tokenizer(detail::load_sentencepiece_tokenizer(dir, bos_id));
  }
  throw Error("unknown tokenizer source");
}

std::vector<int> Tokenizer::encode(std::string_view text, bool add_special,
                                   bool parse_special) const {
  return impl_->encode(text, add_special, parse_special);
}

std::string Tokenizer::decode(std::span<const int> ids, bool skip_special) const {
  const int n = impl_->vocab_size();
  for (int id : ids) {
    if (id < 0 || id >= n) {
      throw Error("token id " + std::to_string(id) + " is outside the tokenizer's vocabulary of " +
                  std::to_string(n));
    }
  }
  return impl_->decode(ids, skip_special);
}

std::string_view Tokenizer::token_bytes(int id) const {
  if (id < 0 || id >= impl_->vocab_size()) return {};
  return impl_->token_bytes(id);
}

std::optional<int> Tokenizer::token_id(std::string_view token) const {
  return impl_->token_id(token);
}
bool Tokenizer::is_special(int id) const {
  return id >= 0 && id < impl_->vocab_size() && impl_->is_special(id);
}
int Tokenizer::vocab_size() const {
  return impl_->vocab_size();
}
int Tokenizer::bos_id() const {
  return impl_->bos_id();
}
bool Tokenizer::add_bos() const {
  return impl_->add_bos();
}
bool Tokenizer::strips_leading_space() const {
  return impl_->strips_leading_space();
}
std::string Tokenizer::describe() const {
  return impl_->describe();
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
