#include "tokenizer/pre_tokenizers.h"

#include <algorithm>

#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

namespace loom::detail {

namespace {

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

struct Seg {
  uint32_t begin, end;
  bool match;
};

// Cuts piece P at SEGS (contiguous, covering P, in text offsets) as tokenizers'
// NormalizedString::split does for behavior B, appending the non-empty results to OUT.
void cut(const Piece& p, std::vector<Seg>& segs, Behavior b, std::vector<Piece>& out) {
  const auto emit = [&](uint32_t begin, uint32_t end) {
    if (end > begin) out.push_back({begin, end, p.origin && begin == p.begin});
  };
  switch (b) {
    case Behavior::Isolated:
      for (const Seg& s : segs) emit(s.begin, s.end);
      return;
    case Behavior::Removed:
      for (const Seg& s : segs) {
        if (!s.match) emit(s.begin, s.end);
      }
      return;
    default:
      break;
  }
  thread_local std::vector<Seg> r;
  r.clear();
  if (b == Behavior::Contiguous) {
    bool prev = false;
    for (const Seg& s : segs) {
      if (s.match == prev && !r.empty()) {
        r.back().end = s.end;
      } else {
        r.push_back({s.begin, s.end, false});
      }
      prev = s.match;
    }
  } else if (b == Behavior::MergedWithPrevious) {
    bool prev = false;
    for (const Seg& s : segs) {
      if (s.match && !prev && !r.empty()) {
        r.back().end = s.end;
      } else {
        r.push_back({s.begin, s.end, false});
      }
      prev = s.match;
    }
  } else {  // MergedWithNext: the same from the right
    bool prev = false;
    for (size_t i = segs.size(); i-- > 0;) {
      const Seg& s = segs[i];
      if (s.match && !prev && !r.empty()) {
        r.back().begin = s.begin;
      } else {
        r.push_back({s.begin, s.end, false});
      }
      prev = s.match;
    }
    std::reverse(r.begin(), r.end());
  }
  for (const Seg& s : r) emit(s.begin, s.end);
}

// Splits every piece of P by what FIND marks as matches (FIND(text, piece, segs) fills SEGS).
template <typename Find>
void split_all(Pieces& p, Behavior b, bool invert, Find&& find) {
  p.list2.clear();
  thread_local std::vector<Seg> segs;
  for (const Piece& piece : p.list) {
    segs.clear();
    find(std::string_view(p.text).substr(piece.begin, piece.end - piece.begin), piece.begin, segs);
    if (invert) {
      for (Seg& s : segs) s.match = !s.match;
    }
    cut(piece, segs, b, p.list2);
  }
  p.list.swap(p.list2);
}

void regex_segs(const Regex& re, std::string_view s, uint32_t base, std::vector<Seg>& segs) {
  thread_local std::vector<Match> m;
  m.clear();
  re.find_all(s, m);
  uint32_t prev = 0;
  for (const Match& x : m) {
    const auto b = static_cast<uint32_t>(x.begin), e = static_cast<uint32_t>(x.end);
    if (prev != b) segs.push_back({base + prev, base + b, false});
    segs.push_back({base + b, base + e, true});
    prev = e;
  }
  if (prev != s.size())
    segs.push_back({base + prev, base + static_cast<uint32_t>(s.size()), false});
}

// Each character for which PRED holds is a match of its own (tokenizers' Fn(char) pattern).
template <typename Pred>
void char_segs(Pred&& pred, std::string_view s, uint32_t base, std::vector<Seg>& segs) {
  uint32_t last = 0;
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<uint32_t>(i);
    const char32_t c = next_char(s, i);
    if (pred(c)) {
      if (last < b) segs.push_back({base + last, base + b, false});
      segs.push_back({base + b, base + static_cast<uint32_t>(i), true});
      last = static_cast<uint32_t>(i);
    }
  }
  if (last < s.size()) segs.push_back({base + last, base + static_cast<uint32_t>(s.size()), false});
}

class Split final : public PreTokenizer {
 public:
  Split(Regex re, Behavior b, bool invert) : re_(std::move(re)), b_(b), invert_(invert) {}
  void apply(Pieces& p) const override {
    split_all(p, b_, invert_, [&](std::string_view s, uint32_t base, std::vector<Seg>& segs) {
      regex_segs(re_, s, base, segs);
    });
  }
  // Whether each piece it cuts depends on its own match alone, not on its neighbours'.
  bool batchable() const { return b_ == Behavior::Isolated || b_ == Behavior::Removed; }
  void run_batches(std::string_view text, bool origin, Pieces& p, const PreTokenizer* rest,
                   const std::function<void(const Pieces&)>& emit) const;

 private:
  Regex re_;
  Behavior b_;
  bool invert_;
};

void Split::run_batches(std::string_view text, bool origin, Pieces& p, const PreTokenizer* rest,
                        const std::function<void(const Pieces&)>& emit) const {
  constexpr size_t kBatch = 4096;  // matches
  thread_local std::vector<Match> m;
  thread_local std::vector<Seg> segs;
  RegexCursor cur;
  size_t begin = 0;  // where the current batch starts
  while (!cur.done) {
    m.clear();
    re_.find_some(text, cur, m, kBatch);
    const size_t end = cur.done ? text.size() : (m.empty() ? begin : m.back().end);
    segs.clear();
    auto prev = static_cast<uint32_t>(0);
    for (const Match& x : m) {
      const auto b = static_cast<uint32_t>(x.begin - begin),
                 e = static_cast<uint32_t>(x.end - begin);
      if (prev != b) segs.push_back({prev, b, invert_});
      segs.push_back({b, e, !invert_});
      prev = e;
    }
    if (prev != end - begin) segs.push_back({prev, static_cast<uint32_t>(end - begin), invert_});
    p.text.assign(text.substr(begin, end - begin));
    p.list.clear();
    cut({0, static_cast<uint32_t>(end - begin), origin && begin == 0}, segs, b_, p.list);
    if (rest) rest->apply(p);
    if (!p.list.empty()) emit(p);
    begin = end;
  }
}

template <typename Pred>
class CharSplit final : public PreTokenizer {
 public:
  CharSplit(Pred pred, Behavior b) : pred_(pred), b_(b) {}
  void apply(Pieces& p) const override {
    split_all(p, b_, false, [&](std::string_view s, uint32_t base, std::vector<Seg>& segs) {
      char_segs(pred_, s, base, segs);
    });
  }

 private:
  Pred pred_;
  Behavior b_;
};
template <typename Pred>
std::unique_ptr<PreTokenizer> char_split(Pred pred, Behavior b) {
  return std::make_unique<CharSplit<Pred>>(pred, b);
}

// Rewrites every piece: REWRITE(piece_text, origin, out) appends the new text of the piece.
template <typename Rewrite>
void rewrite_all(Pieces& p, Rewrite&& rewrite) {
  p.text2.clear();
  p.list2.clear();
  for (const Piece& piece : p.list) {
    const auto b = static_cast<uint32_t>(p.text2.size());
    rewrite(std::string_view(p.text).substr(piece.begin, piece.end - piece.begin), piece.origin,
            p.text2);
    p.list2.push_back({b, static_cast<uint32_t>(p.text2.size()), piece.origin});
  }
  p.text.swap(p.text2);
  p.list.swap(p.list2);
}

class Metaspace final : public PreTokenizer {
 public:
  enum class Prepend { Always, First, Never };
  Metaspace(std::string replacement, Prepend prepend, bool split)
      : rep_(std::move(replacement)), prepend_(prepend), split_(split) {}
  void apply(Pieces& p) const override {
    rewrite_all(p, [&](std::string_view s, bool origin, std::string& out) {
      const size_t start = out.size();
      for (char c : s) {
        if (c == ' ') {
          out.append(rep_);
        } else {
          out.push_back(c);
        }
      }
      const bool starts = std::string_view(out).substr(start).starts_with(rep_);
      if (!starts && (prepend_ == Prepend::Always || (prepend_ == Prepend::First && origin))) {
        out.insert(start, rep_);
      }
    });
    if (!split_) return;
    split_all(p, Behavior::MergedWithNext, false,
              [&](std::string_view s, uint32_t base, std::vector<Seg>& segs) {
                uint32_t last = 0;
                for (size_t i = s.find(rep_); i != std::string_view::npos; i = s.find(rep_, i)) {
                  const auto b = static_cast<uint32_t>(i),
                             e = static_cast<uint32_t>(i + rep_.size());
                  if (last < b) segs.push_back({base + last, base + b, false});
                  segs.push_back({base + b, base + e, true});
                  last = e;
                  i = e;
                }
                if (last < s.size()) {
                  segs.push_back({base + last, base + static_cast<uint32_t>(s.size()), false});
                }
              });
  }

 private:
  std::string rep_;
  Prepend prepend_;
  bool split_;
};

// GPT-2's pattern, which ByteLevel's use_regex applies.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevel final : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, bool use_regex)
      : prefix_(add_prefix_space),
        re_(use_regex ? std::make_unique<Regex>(kGpt2Pattern, "ByteLevel") : nullptr) {}
  void apply(Pieces& p) const override {
    if (prefix_) {
      rewrite_all(p, [](std::string_view s, bool, std::string& out) {
        if (!s.starts_with(' ')) out.push_back(' ');
        out.append(s);
      });
    }
    if (re_) {
      split_all(p, Behavior::Isolated, false,
                [&](std::string_view s, uint32_t base, std::vector<Seg>& segs) {
                  regex_segs(*re_, s, base, segs);
                });
    }
  }

 private:
  bool prefix_;
  std::unique_ptr<Regex> re_;
};

class Sequence final : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> s) : s_(std::move(s)) {}
  void apply(Pieces& p) const override {
    for (const auto& t : s_) t->apply(p);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> s_;
};

Behavior parse_behavior(const JsonValue& v) {
  const std::string_view s = v.str();
  if (s == "Removed") return Behavior::Removed;
  if (s == "Isolated") return Behavior::Isolated;
  if (s == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (s == "MergedWithNext") return Behavior::MergedWithNext;
  if (s == "Contiguous") return Behavior::Contiguous;
  v.fail("must be Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous, got " +
         v.dump());
}

// Appends the pre-tokenizers V describes to OUT (a Sequence's members in order); sets BYTE_LEVEL
// when a ByteLevel is among them, which must then be the last.
void parse_into(const JsonValue& v, std::vector<std::unique_ptr<PreTokenizer>>& out,
                bool& byte_level) {
  const JsonValue type_v = v.at("type");
  const std::string_view type = type_v.str();
  if (byte_level) {
    type_v.fail("is a '" + std::string(type) +
                "' pre-tokenizer after a ByteLevel one, which loom does not support (ByteLevel "
                "must come last)");
  }
  if (type == "Sequence") {
    for (const JsonValue& c : v.at("pretokenizers").items()) parse_into(c, out, byte_level);
  } else if (type == "Split") {
    const bool invert = v.get_bool("invert", false);
    out.push_back(std::make_unique<Split>(parse_pattern(v.at("pattern")),
                                          parse_behavior(v.at("behavior")), invert));
  } else if (type == "ByteLevel") {
    out.push_back(std::make_unique<ByteLevel>(v.get_bool("add_prefix_space", true),
                                              v.get_bool("use_regex", true)));
    byte_level = true;
  } else if (type == "Metaspace") {
    const JsonValue rep = v.at("replacement");
    if (rep.str().empty() ||
        char_len(static_cast<unsigned char>(rep.str()[0])) != rep.str().size()) {
      rep.fail("must be a single character, got " + rep.dump());
    }
    auto prepend = Metaspace::Prepend::Always;
    if (auto s = v.get("prepend_scheme")) {
      if (s->str() == "always") {
        prepend = Metaspace::Prepend::Always;
      } else if (s->str() == "first") {
        prepend = Metaspace::Prepend::First;
      } else if (s->str() == "never") {
        prepend = Metaspace::Prepend::Never;
      } else {
        s->fail("must be always, first or never, got " + s->dump());
      }
    }
    if (!v.get_bool("add_prefix_space", true)) prepend = Metaspace::Prepend::Never;
    out.push_back(
        std::make_unique<Metaspace>(std::string(rep.str()), prepend, v.get_bool("split", true)));
  } else if (type == "Digits") {
    out.push_back(char_split(is_numeric, v.get_bool("individual_digits", false)
                                             ? Behavior::Isolated
                                             : Behavior::Contiguous));
  } else if (type == "WhitespaceSplit") {
    out.push_back(char_split(is_whitespace, Behavior::Removed));
  } else if (type == "Whitespace") {
    out.push_back(
        std::make_unique<Split>(Regex(R"(\w+|[^\w\s]+)", "Whitespace"), Behavior::Removed, true));
  } else if (type == "Punctuation") {
    auto b = Behavior::Isolated;
    if (auto s = v.get("behavior")) b = parse_behavior(*s);
    out.push_back(char_split(is_punctuation, b));
  } else if (type == "BertPreTokenizer") {
    out.push_back(char_split(is_whitespace, Behavior::Removed));
    out.push_back(char_split(is_punctuation, Behavior::Isolated));
  } else if (type == "CharDelimiterSplit") {
    const JsonValue d = v.at("delimiter");
    size_t i = 0;
    const std::string_view s = d.str();
    if (s.empty()) d.fail("must be a single character");
    const char32_t c = next_char(s, i);
    if (i != s.size()) d.fail("must be a single character, got " + d.dump());
    out.push_back(char_split([c](char32_t x) { return x == c; }, Behavior::Removed));
  } else {
    type_v.fail("names pre-tokenizer type '" + std::string(type) +
                "', which loom does not support (supported: Split, ByteLevel, Metaspace, Digits, "
                "Whitespace, WhitespaceSplit, Punctuation, BertPreTokenizer, CharDelimiterSplit, "
                "Sequence)");
  }
}

}  // namespace

namespace {
std::unique_ptr<PreTokenizer> sequence_of(std::vector<std::unique_ptr<PreTokenizer>> list) {
  if (list.empty()) return nullptr;
  if (list.size() == 1) return std::move(list[0]);
  return std::make_unique<Sequence>(std::move(list));
}
}  // namespace

PreTokenizerChain parse_pre_tokenizer(const JsonValue& v) {
  PreTokenizerChain chain;
  if (v.is_null()) return chain;
  std::vector<std::unique_ptr<PreTokenizer>> list;
  parse_into(v, list, chain.byte_level);
  const auto* split = list.empty() ? nullptr : dynamic_cast<const Split*>(list[0].get());
  if (split && split->batchable()) {
    chain.head = std::move(list[0]);
    list.erase(list.begin());
    chain.rest = sequence_of(std::move(list));
  } else {
    chain.all = sequence_of(std::move(list));
  }
  return chain;
}

void PreTokenizerChain::run(std::string_view text, bool origin, Pieces& p,
                            const std::function<void(const Pieces&)>& emit) const {
  if (head) {
    static_cast<const Split&>(*head).run_batches(text, origin, p, rest.get(), emit);
    return;
  }
  p.text.assign(text);
  p.list.assign(1, {0, static_cast<uint32_t>(text.size()), origin});
  if (all) all->apply(p);
  emit(p);
}

}  // namespace loom::detail
