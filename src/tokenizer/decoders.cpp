#include "tokenizer/decoders.h"

#include "tokenizer/byte_level.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace loom::detail {

namespace {

constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// "<0x0A>" -> 0x0A, as tokenizers' ByteFallback reads it.
int byte_token(std::string_view t) {
  if (t.size() != 6 || !t.starts_with("<0x") || t.back() != '>') return -1;
  int v = 0;
  for (char c : t.substr(3, 2)) {
    v <<= 4;
    if (c >= '0' && c <= '9') {
      v |= c - '0';
    } else if (c >= 'A' && c <= 'F') {
      v |= c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      v |= c - 'a' + 10;
    } else {
      return -1;
    }
  }
  return v;
}

class ByteLevel final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes, tmp;
    for (const std::string& t : tokens) {
      // A token with a character outside the alphabet (an added token) passes as it is.
      if (from_byte_level(t, tmp)) {
        bytes += tmp;
      } else {
        bytes += t;
      }
    }
    tokens.assign(1, utf8_lossy(bytes));
  }
  void token_bytes(std::string& t) const override {
    std::string tmp;
    if (from_byte_level(t, tmp)) t.swap(tmp);
  }
  bool byte_level() const override { return true; }
};

class ByteFallback final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string bytes;
    const auto flush = [&] {
      if (bytes.empty()) return;
      if (invalid_utf8_at(bytes) == std::string::npos) {
        out.push_back(bytes);
      } else {
        for (size_t i = 0; i < bytes.size(); ++i) out.emplace_back(kReplacementChar);
      }
      bytes.clear();
    };
    for (std::string& t : tokens) {
      const int b = byte_token(t);
      if (b >= 0) {
        bytes.push_back(static_cast<char>(b));
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens.swap(out);
  }
  void token_bytes(std::string& t) const override {
    const int b = byte_token(t);
    if (b >= 0) t.assign(1, static_cast<char>(b));
  }
};

class Fuse final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const std::string& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
  void token_bytes(std::string&) const override {}
};

class Strip final : public Decoder {
 public:
  Strip(std::string content, size_t start, size_t stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) {
      size_t b = 0, e = t.size();
      for (size_t k = 0; k < start_ && std::string_view(t).substr(b).starts_with(content_); ++k) {
        b += content_.size();
      }
      for (size_t k = 0; k < stop_ && e >= b + content_.size() &&
                         std::string_view(t).substr(0, e).ends_with(content_);
           ++k) {
        e -= content_.size();
      }
      t = t.substr(b, e - b);
    }
  }
  void token_bytes(std::string&) const override {}
  bool strips_leading_space() const override { return content_ == " " && start_ > 0; }

 private:
  std::string content_;
  size_t start_, stop_;
};

class Replace final : public Decoder {
 public:
  Replace(Regex re, std::string content) : re_(std::move(re)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) token_bytes(t);
  }
  void token_bytes(std::string& t) const override {
    std::vector<Match> m;
    re_.find_all(t, m);
    if (m.empty()) return;
    std::string out;
    size_t prev = 0;
    for (const Match& x : m) {
      out.append(t, prev, x.begin - prev);
      out += content_;
      prev = x.end;
    }
    out.append(t, prev, std::string::npos);
    t.swap(out);
  }

 private:
  Regex re_;
  std::string content_;
};

class Metaspace final : public Decoder {
 public:
  Metaspace(std::string rep, bool prepend) : rep_(std::move(rep)), prepend_(prepend) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      // tokenizers drops every replacement character of the first token, not only the first.
      replace(tokens[i], i == 0 && prepend_ ? "" : " ");
    }
  }
  void token_bytes(std::string& t) const override { replace(t, " "); }
  bool strips_leading_space() const override { return prepend_; }

 private:
  void replace(std::string& t, std::string_view with) const {
    std::string out;
    for (size_t i = 0; i < t.size();) {
      if (std::string_view(t).substr(i).starts_with(rep_)) {
        out += with;
        i += rep_.size();
      } else {
        out.push_back(t[i++]);
      }
    }
    t.swap(out);
  }
  std::string rep_;
  bool prepend_;
};

// The BPE decoder: end_of_word_suffix becomes a space, except at the end.
class BpeSuffix final : public Decoder {
 public:
  explicit BpeSuffix(std::string suffix) : suffix_(std::move(suffix)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      replace(tokens[i], i + 1 == tokens.size() ? "" : " ");
    }
  }
  void token_bytes(std::string& t) const override { replace(t, " "); }

 private:
  void replace(std::string& t, std::string_view with) const {
    if (suffix_.empty()) return;
    std::string out;
    size_t prev = 0;
    for (size_t i = t.find(suffix_); i != std::string::npos; i = t.find(suffix_, prev)) {
      out.append(t, prev, i - prev);
      out += with;
      prev = i + suffix_.size();
    }
    out.append(t, prev, std::string::npos);
    t.swap(out);
  }
  std::string suffix_;
};

class Sequence final : public Decoder {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Decoder>> s) : s_(std::move(s)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& d : s_) d->decode_chain(tokens);
  }
  void token_bytes(std::string& t) const override {
    for (const auto& d : s_) d->token_bytes(t);
  }
  bool strips_leading_space() const override {
    for (const auto& d : s_) {
      if (d->strips_leading_space()) return true;
    }
    return false;
  }
  bool byte_level() const override {
    for (const auto& d : s_) {
      if (d->byte_level()) return true;
    }
    return false;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> s_;
};

}  // namespace

std::unique_ptr<Decoder> parse_decoder(const JsonValue& v) {
  if (v.is_null()) return nullptr;
  const JsonValue type_v = v.at("type");
  const std::string_view type = type_v.str();
  if (type == "ByteLevel") return std::make_unique<ByteLevel>();
  if (type == "ByteFallback") return std::make_unique<ByteFallback>();
  if (type == "Fuse") return std::make_unique<Fuse>();
  if (type == "Strip") {
    const JsonValue c = v.at("content");
    const auto count = [&](const char* key) {
      const int64_t n = v.at(key).integer();
      if (n < 0) v.at(key).fail("must be >= 0");
      return static_cast<size_t>(n);
    };
    return std::make_unique<Strip>(std::string(c.str()), count("start"), count("stop"));
  }
  if (type == "Replace") {
    return std::make_unique<Replace>(parse_pattern(v.at("pattern")),
                                     std::string(v.at("content").str()));
  }
  if (type == "Metaspace") {
    bool prepend = true;
    if (auto s = v.get_str("prepend_scheme")) prepend = *s != "never";
    if (!v.get_bool("add_prefix_space", true)) prepend = false;
    return std::make_unique<Metaspace>(std::string(v.at("replacement").str()), prepend);
  }
  if (type == "BPEDecoder") {
    return std::make_unique<BpeSuffix>(std::string(v.get_str("suffix").value_or("</w>")));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> s;
    for (const JsonValue& c : v.at("decoders").items()) {
      if (auto d = parse_decoder(c)) s.push_back(std::move(d));
    }
    return std::make_unique<Sequence>(std::move(s));
  }
  type_v.fail("names decoder type '" + std::string(type) +
              "', which loom does not support (supported: ByteLevel, ByteFallback, Fuse, Strip, "
              "Replace, Metaspace, BPEDecoder, Sequence)");
}

}  // namespace loom::detail
