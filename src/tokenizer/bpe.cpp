#include "tokenizer/bpe.h"

#include <algorithm>
#include <atomic>
#include <queue>

#include "loom/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/unicode.h"

namespace loom::detail {

void MergeMap::reserve(size_t n) {
  size_t cap = 16;
  int bits = 4;
  while (cap * 2 < n * 3) {  // load factor at most 2/3
    cap *= 2;
    ++bits;
  }
  std::vector<Entry> old;
  old.swap(table_);
  table_.assign(cap, Entry{});
  mask_ = cap - 1;
  shift_ = 64 - bits;
  size_ = 0;
  for (const Entry& e : old) {
    if (e.key != kEmpty) insert(static_cast<int>(e.key >> 32), static_cast<int>(e.key), e.v);
  }
}

void MergeMap::insert(int a, int b, Value v) {
  if ((size_ + 1) * 3 > table_.size() * 2) reserve(size_ * 2 + 1);
  const uint64_t k = key(a, b);
  for (size_t i = slot(k);; i = (i + 1) & mask_) {
    Entry& e = table_[i];
    if (e.key == k) {
      e.v = v;
      return;
    }
    if (e.key == kEmpty) {
      e = {k, v};
      ++size_;
      return;
    }
  }
}

namespace {

std::string in_quotes(std::string_view s) {
  return "'" + std::string(s) + "'";
}

}  // namespace

namespace {

std::atomic<uint64_t> next_serial{1};

// Each thread keeps the ids of the words it merged lately, as tokenizers does: running text
// repeats its words, and a lookup costs less than merging again. Entries belong to one model.
struct WordCache {
  static constexpr size_t kMaxWords = 1 << 16;
  static constexpr size_t kMaxWordBytes = 64;
  uint64_t owner = 0;
  VocabTable index;             // word -> entry
  std::vector<uint32_t> begin;  // entry -> its first id in ids, and one past the last entry
  std::vector<int> ids;
  void reset(uint64_t serial) {
    owner = serial;
    index = VocabTable();
    index.reserve(kMaxWords);
    begin.assign(1, 0);
    ids.clear();
  }
};

WordCache& word_cache(uint64_t serial) {
  thread_local WordCache c;
  if (c.owner != serial || c.begin.size() > WordCache::kMaxWords) c.reset(serial);
  return c;
}

}  // namespace

Bpe::Bpe(const JsonValue& model, bool byte_level)
    : byte_level_(byte_level), serial_(next_serial++) {
  const std::string file = model.file().string();
  if (auto d = model.get("dropout"); d && d->number() != 0.0) {
    d->fail("is " + d->dump() + "; loom supports BPE without dropout only (null)");
  }
  fuse_unk_ = model.get_bool("fuse_unk", false);
  byte_fallback_ = model.get_bool("byte_fallback", false);
  ignore_merges_ = model.get_bool("ignore_merges", false);
  if (auto p = model.get_str("continuing_subword_prefix")) prefix_ = *p;
  if (auto s = model.get_str("end_of_word_suffix")) suffix_ = *s;

  // The vocabulary.
  const JsonValue vocab_v = model.at("vocab");
  simdjson::dom::object vocab_obj;
  if (vocab_v.raw().get_object().get(vocab_obj)) vocab_v.fail("must be an object");
  vocab_.reserve(vocab_obj.size());
  int64_t max_id = -1;
  for (auto [key, value] : vocab_obj) {
    int64_t id = -1;
    if (value.get_int64().get(id) || id < 0 || id >= (int64_t{1} << 30)) {
      throw Error(file + ": key 'model.vocab' gives token " + in_quotes(key) + " the id " +
                  json_text(value) + ", not a token id");
    }
    vocab_.insert(key, static_cast<int>(id));
    max_id = std::max(max_id, id);
  }
  tokens_.resize(static_cast<size_t>(max_id + 1));
  has_id_.assign(tokens_.size(), false);
  vocab_.for_each([&](std::string_view k, int id) {
    tokens_[id] = k;
    has_id_[id] = true;
  });

  if (auto u = model.get_str("unk_token")) {
    const int id = vocab_.find(*u);
    if (id < 0) {
      throw Error(file + ": key 'model.unk_token' names " + in_quotes(*u) +
                  ", which is not in model.vocab");
    }
    unk_ = id;
  }

  // The merges, ranked by their order.
  const JsonValue merges_v = model.at("merges");
  simdjson::dom::array merges;
  if (merges_v.raw().get_array().get(merges)) merges_v.fail("must be an array");
  merges_.reserve(merges.size());
  std::string joined;
  uint32_t rank = 0;
  size_t index = 0;
  for (simdjson::dom::element m : merges) {
    std::string_view a, b, line;
    const auto where = [&] {
      return file + ": key 'model.merges[" + std::to_string(index) + "]' (" + json_text(m) + ")";
    };
    if (m.get_string().get(line) == simdjson::SUCCESS) {
      if (line.starts_with("#version")) {
        ++index;
        continue;
      }
      const size_t sp = line.find(' ');
      if (sp == std::string_view::npos || line.find(' ', sp + 1) != std::string_view::npos) {
        throw Error(where() + " must be two tokens separated by one space");
      }
      a = line.substr(0, sp);
      b = line.substr(sp + 1);
    } else {
      simdjson::dom::array pair;
      if (m.get_array().get(pair) || pair.size() != 2 || pair.at(0).get_string().get(a) ||
          pair.at(1).get_string().get(b)) {
        throw Error(where() + " must be \"a b\" or a pair of two token strings");
      }
    }
    const int ia = vocab_.find(a);
    if (ia < 0) {
      throw Error(where() + " names token " + in_quotes(a) + ", which is not in model.vocab");
    }
    const int ib = vocab_.find(b);
    if (ib < 0) {
      throw Error(where() + " names token " + in_quotes(b) + ", which is not in model.vocab");
    }
    joined.assign(a);
    joined.append(b.substr(std::min(prefix_.size(), b.size())));
    const int ij = vocab_.find(std::string_view(joined));
    if (ij < 0) {
      throw Error(where() + " merges into " + in_quotes(joined) + ", which is not in model.vocab");
    }
    merges_.insert(ia, ib, {rank++, ij});
    ++index;
  }

  // Lookup tables for the common cases.
  std::fill(std::begin(ascii_id_), std::end(ascii_id_), -1);
  std::fill(std::begin(fallback_id_), std::end(fallback_id_), -1);
  std::fill(std::begin(byte_id_), std::end(byte_id_), -1);
  for (int c = 0; c < 128; ++c) {
    if (auto id = find(std::string(1, static_cast<char>(c)))) ascii_id_[c] = *id;
  }
  if (byte_fallback_) {
    static const char* hex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
      const std::string name = std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">";
      if (auto id = find(name)) fallback_id_[b] = *id;
    }
  }
  if (byte_level_) {
    fast_bytes_ = prefix_.empty() && suffix_.empty();
    for (int b = 0; b < 256; ++b) {
      std::string ch;
      append_utf8(ch, byte_level_char(static_cast<uint8_t>(b)));
      if (auto id = find(ch)) {
        byte_id_[b] = *id;
      } else {
        fast_bytes_ = false;
      }
    }
    if (fast_bytes_ && ignore_merges_) {
      raw_vocab_.reserve(vocab_.size());
      std::string raw;
      vocab_.for_each([&](std::string_view k, int id) {
        if (from_byte_level(k, raw)) raw_vocab_.insert(raw, id);
      });
    }
  }
}

void Bpe::encode(std::string_view piece, std::vector<int>& out) const {
  if (piece.empty()) return;
  if (piece.size() == 1 && fast_bytes_) {
    out.push_back(byte_id_[static_cast<uint8_t>(piece[0])]);
    return;
  }
  const bool cache = piece.size() <= WordCache::kMaxWordBytes;
  if (cache) {
    WordCache& c = word_cache(serial_);
    if (const int e = c.index.find(piece); e >= 0) {
      out.insert(out.end(), c.ids.begin() + c.begin[e], c.ids.begin() + c.begin[e + 1]);
      return;
    }
  }
  const size_t first = out.size();
  if (!byte_level_) {
    encode_chars(piece, out);
  } else if (fast_bytes_) {
    encode_bytes(piece, out);
  } else {
    // A byte-level vocabulary missing some byte's character, or with a prefix or suffix: spell
    // the piece in byte-level characters and take the general path.
    encode_chars(to_byte_level(piece), out);
  }
  if (cache) {
    WordCache& c = word_cache(serial_);
    c.index.insert(piece, static_cast<int>(c.begin.size() - 1));
    c.ids.insert(c.ids.end(), out.begin() + static_cast<ptrdiff_t>(first), out.end());
    c.begin.push_back(static_cast<uint32_t>(c.ids.size()));
  }
}

void Bpe::encode_bytes(std::string_view word, std::vector<int>& out) const {
  if (ignore_merges_) {
    if (const int id = raw_vocab_.find(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  thread_local std::vector<Symbol> syms;
  syms.clear();
  const int n = static_cast<int>(word.size());
  for (int i = 0; i < n; ++i) {
    syms.push_back({byte_id_[static_cast<uint8_t>(word[i])], i - 1, i + 1 < n ? i + 1 : -1});
  }
  merge(syms, out);
}

void Bpe::encode_chars(std::string_view word, std::vector<int>& out) const {
  if (ignore_merges_) {
    if (const int id = vocab_.find(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  thread_local std::vector<Symbol> syms;
  thread_local std::string buf;
  syms.clear();
  const auto add = [&](int id) {
    const int i = static_cast<int>(syms.size());
    if (i > 0) syms.back().next = i;
    syms.push_back({id, i - 1, -1});
  };
  int unk = -1;  // a pending unknown symbol, fused with the next one when fuse_unk
  for (size_t i = 0; i < word.size();) {
    const size_t b = i;
    i += char_len(static_cast<unsigned char>(word[i]));
    const bool first = b == 0, last = i == word.size();
    std::string_view s = word.substr(b, i - b);
    if ((!first && !prefix_.empty()) || (last && !suffix_.empty())) {
      buf.clear();
      if (!first) buf += prefix_;
      buf += s;
      if (last) buf += suffix_;
      s = buf;
    }
    int id = -1;
    if (s.size() == 1 && static_cast<unsigned char>(s[0]) < 0x80) {
      id = ascii_id_[static_cast<unsigned char>(s[0])];
    } else {
      id = vocab_.find(s);
    }
    if (id >= 0) {
      if (unk >= 0) {
        add(unk);
        unk = -1;
      }
      add(id);
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (char c : s) all &= fallback_id_[static_cast<uint8_t>(c)] >= 0;
      if (all) {
        // As tokenizers does, a pending unknown symbol is not flushed here: byte tokens come
        // before it.
        for (char c : s) add(fallback_id_[static_cast<uint8_t>(c)]);
        continue;
      }
    }
    if (unk_) {
      if (unk >= 0 && !fuse_unk_) add(unk);
      unk = *unk_;
    }
    // No unk_token: the character is dropped, as tokenizers drops it.
  }
  if (unk >= 0) add(unk);
  merge(syms, out);
}

void Bpe::merge(std::vector<Symbol>& syms, std::vector<int>& out) const {
  const int n = static_cast<int>(syms.size());
  if (n == 0) return;
  constexpr uint32_t kNone = ~uint32_t{0};
  if (n <= 64) {
    // Short words: find the best pair by a scan; the same order as the queue below.
    thread_local std::vector<uint32_t> rank;
    thread_local std::vector<int> merged;
    rank.assign(n, kNone);
    merged.assign(n, -1);
    const auto update = [&](int i) {
      const int j = syms[i].next;
      rank[i] = kNone;
      if (j < 0) return;
      if (const MergeMap::Value* v = merges_.find(syms[i].id, syms[j].id)) {
        rank[i] = v->rank;
        merged[i] = v->id;
      }
    };
    for (int i = 0; i < n; ++i) update(i);
    for (;;) {
      int best = -1;
      uint32_t best_rank = kNone;
      for (int i = 0; i >= 0; i = syms[i].next) {
        if (rank[i] < best_rank) {
          best_rank = rank[i];
          best = i;
        }
      }
      if (best < 0) break;
      const int j = syms[best].next;
      syms[best].id = merged[best];
      syms[best].next = syms[j].next;
      if (syms[j].next >= 0) syms[syms[j].next].prev = best;
      update(best);
      if (syms[best].prev >= 0) update(syms[best].prev);
    }
  } else {
    // tokenizers' algorithm: a queue of candidate merges by (rank, position); entries that no
    // longer match the symbols are skipped when they come up.
    struct Cand {
      uint32_t rank;
      int pos;
      int id;
      bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Cand, std::vector<Cand>, std::greater<>> q;
    std::vector<bool> gone(n, false);
    for (int i = 0; i + 1 < n; ++i) {
      if (const MergeMap::Value* v = merges_.find(syms[i].id, syms[i + 1].id)) {
        q.push({v->rank, i, v->id});
      }
    }
    while (!q.empty()) {
      const Cand c = q.top();
      q.pop();
      if (gone[c.pos]) continue;
      const int j = syms[c.pos].next;
      if (j < 0) continue;
      const MergeMap::Value* v = merges_.find(syms[c.pos].id, syms[j].id);
      if (!v || v->id != c.id) continue;
      syms[c.pos].id = c.id;
      syms[c.pos].next = syms[j].next;
      gone[j] = true;
      if (syms[j].next >= 0) syms[syms[j].next].prev = c.pos;
      const int p = syms[c.pos].prev;
      if (p >= 0) {
        if (const MergeMap::Value* w = merges_.find(syms[p].id, syms[c.pos].id)) {
          q.push({w->rank, p, w->id});
        }
      }
      const int nx = syms[c.pos].next;
      if (nx >= 0) {
        if (const MergeMap::Value* w = merges_.find(syms[c.pos].id, syms[nx].id)) {
          q.push({w->rank, c.pos, w->id});
        }
      }
    }
  }
  for (int i = 0; i >= 0; i = syms[i].next) out.push_back(syms[i].id);
}

}  // namespace loom::detail
