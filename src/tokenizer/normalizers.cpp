#include "tokenizer/normalizers.h"

#include <vector>

#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace loom::detail {

namespace {

class UnicodeForm final : public Normalizer {
 public:
  explicit UnicodeForm(NormalForm f) : form_(f) {}
  void apply(std::string& t) const override { t = normalize(t, form_); }

 private:
  NormalForm form_;
};

class Lowercase final : public Normalizer {
 public:
  void apply(std::string& t) const override { t = to_lower(t); }
};

class Strip final : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  void apply(std::string& t) const override {
    size_t b = 0, e = t.size();
    if (left_) {
      while (b < e) {
        size_t i = b;
        if (!is_whitespace(next_char(t, i))) break;
        b = i;
      }
    }
    if (right_) {
      while (e > b) {
        size_t s = prev_char_start(t, e), i = s;
        if (!is_whitespace(next_char(t, i))) break;
        e = s;
      }
    }
    t = t.substr(b, e - b);
  }

 private:
  bool left_, right_;
};

class StripAccents final : public Normalizer {
 public:
  void apply(std::string& t) const override {
    std::string out;
    out.reserve(t.size());
    for (size_t i = 0; i < t.size();) {
      const size_t b = i;
      if (!is_combining_mark(next_char(t, i))) out.append(t, b, i - b);
    }
    t.swap(out);
  }
};

class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string s) : s_(std::move(s)) {}
  void apply(std::string& t) const override {
    if (!t.empty()) t.insert(0, s_);
  }

 private:
  std::string s_;
};

class Replace final : public Normalizer {
 public:
  Replace(Regex re, std::string content) : re_(std::move(re)), content_(std::move(content)) {}
  void apply(std::string& t) const override {
    std::vector<Match> m;
    re_.find_all(t, m);
    if (m.empty()) return;
    std::string out;
    out.reserve(t.size());
    size_t prev = 0;
    for (const Match& x : m) {
      out.append(t, prev, x.begin - prev);
      out.append(content_);
      prev = x.end;
    }
    out.append(t, prev, std::string::npos);
    t.swap(out);
  }

 private:
  Regex re_;
  std::string content_;
};

class Sequence final : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> s) : s_(std::move(s)) {}
  void apply(std::string& t) const override {
    for (const auto& n : s_) n->apply(t);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> s_;
};

}  // namespace

// The regex of a {"String": s} or {"Regex": r} pattern (Replace, Split).
Regex parse_pattern(const JsonValue& p) {
  const std::string where = p.file().string() + ": key '" + p.path() + "'";
  if (auto s = p.get("String")) return Regex::literal(s->str(), where);
  if (auto r = p.get("Regex")) return Regex(r->str(), where + ".Regex");
  p.fail("must be {\"String\": ...} or {\"Regex\": ...}, got " + p.dump());
}

std::unique_ptr<Normalizer> parse_normalizer(const JsonValue& v) {
  if (v.is_null()) return nullptr;
  const std::string_view type = v.at("type").str();
  if (type == "NFC") return std::make_unique<UnicodeForm>(NormalForm::NFC);
  if (type == "NFD") return std::make_unique<UnicodeForm>(NormalForm::NFD);
  if (type == "NFKC") return std::make_unique<UnicodeForm>(NormalForm::NFKC);
  if (type == "NFKD") return std::make_unique<UnicodeForm>(NormalForm::NFKD);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "StripAccents") return std::make_unique<StripAccents>();
  if (type == "Strip") {
    return std::make_unique<Strip>(v.get_bool("strip_left", true), v.get_bool("strip_right", true));
  }
  if (type == "Prepend") return std::make_unique<Prepend>(std::string(v.at("prepend").str()));
  if (type == "Replace") {
    return std::make_unique<Replace>(parse_pattern(v.at("pattern")),
                                     std::string(v.at("content").str()));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> s;
    for (const JsonValue& c : v.at("normalizers").items()) {
      if (auto n = parse_normalizer(c)) s.push_back(std::move(n));
    }
    return std::make_unique<Sequence>(std::move(s));
  }
  v.at("type").fail("names normalizer type '" + std::string(type) +
                    "', which loom does not support (supported: NFC, NFD, NFKC, NFKD, Lowercase, "
                    "Strip, StripAccents, Prepend, Replace, Sequence)");
}

}  // namespace loom::detail
