// tokenizer.json's BPE model: vocabulary, ranked merges, unknown and byte-fallback handling.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/json_value.h"
#include "tokenizer/vocab_table.h"

namespace loom::detail {

// (left id, right id) -> (rank, merged id), open addressing: looked up for every pair of
// neighbouring symbols while merging.
class MergeMap {
 public:
  struct Value {
    uint32_t rank;
    int32_t id;
  };
  void reserve(size_t n);
  void insert(int a, int b, Value v);  // a later insert of the same pair replaces the earlier
  const Value* find(int a, int b) const {
    const uint64_t k = key(a, b);
    for (size_t i = slot(k);; i = (i + 1) & mask_) {
      const Entry& e = table_[i];
      if (e.key == k) return &e.v;
      if (e.key == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  struct Entry {
    uint64_t key = kEmpty;
    Value v{};
  };
  static uint64_t key(int a, int b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  size_t slot(uint64_t k) const { return (k * 0x9E3779B97F4A7C15ull) >> shift_; }
  std::vector<Entry> table_ = std::vector<Entry>(1);
  size_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
};

class Bpe {
 public:
  // Reads tokenizer.json's "model" (type BPE). BYTE_LEVEL: pieces will arrive as raw bytes, each
  // standing for its byte-level character. Throws loom::Error naming the file and key.
  Bpe(const JsonValue& model, bool byte_level);

  // Appends the ids of one pre-tokenized piece.
  void encode(std::string_view piece, std::vector<int>& out) const;

  std::optional<int> find(std::string_view token) const {
    const int id = vocab_.find(token);
    if (id < 0) return std::nullopt;
    return id;
  }
  // Vocabulary entries by id (empty where the vocabulary has no such id), handed over once:
  // the tokenizer keeps them with the added tokens.
  std::vector<std::string> take_tokens() { return std::move(tokens_); }
  size_t id_count() const { return has_id_.size(); }
  // Whether the vocabulary has an entry of id ID.
  bool has_id(size_t id) const { return id < has_id_.size() && has_id_[id]; }
  bool byte_fallback() const { return byte_fallback_; }

 private:
  struct Symbol {
    int id;
    int prev, next;
  };
  // Merges SYMS (a linked list over the vector) as tokenizers does: always the pair of lowest
  // rank, the leftmost of equal ones; appends the resulting ids.
  void merge(std::vector<Symbol>& syms, std::vector<int>& out) const;
  void encode_chars(std::string_view word, std::vector<int>& out) const;
  void encode_bytes(std::string_view word, std::vector<int>& out) const;

  VocabTable vocab_;
  std::vector<std::string> tokens_;
  std::vector<bool> has_id_;
  MergeMap merges_;
  std::optional<int> unk_;
  std::string prefix_, suffix_;  // continuing_subword_prefix, end_of_word_suffix
  bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
  bool byte_level_ = false;
  // Byte-level fast path: the id of each byte's character, and the vocabulary by raw bytes (for
  // ignore_merges), used when every byte has a token and there is no prefix or suffix.
  bool fast_bytes_ = false;
  int byte_id_[256];
  VocabTable raw_vocab_;
  int ascii_id_[128];     // single ASCII characters' ids (-1: none)
  int fallback_id_[256];  // byte_fallback's <0xAB> tokens (-1: none)
  uint64_t serial_;       // tells this model's entries in the per-thread cache from others'
};

}  // namespace loom::detail
