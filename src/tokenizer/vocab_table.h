// A string -> id table for vocabularies of a few hundred thousand tokens. Loading a
// tokenizer.json looks up every merge's three tokens, so the table is built for few cache misses:
// open addressing over 16-byte slots that hold short strings (most tokens) inline; longer ones
// live in one shared buffer.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace loom::detail {

class VocabTable {
 public:
  void reserve(size_t n);
  // Maps S to ID; a later insert of the same string replaces the id, as a JSON object's later
  // duplicate key does.
  void insert(std::string_view s, int id);
  // The id of S, or -1.
  int find(std::string_view s) const {
    if (slots_.empty()) return -1;
    for (size_t i = hash(s) & mask_;; i = (i + 1) & mask_) {
      const Slot& x = slots_[i];
      if (x.id < 0) return -1;
      if (key(x) == s) return x.id;
    }
  }
  size_t size() const { return size_; }
  // Calls F(string, id) for every entry.
  template <typename F>
  void for_each(F&& f) const {
    for (const Slot& x : slots_) {
      if (x.id >= 0) f(key(x), x.id);
    }
  }

 private:
  static constexpr uint8_t kLong = 0xFF;
  static constexpr size_t kInline = 11;
  struct Slot {
    int32_t id = -1;
    uint8_t len = 0;  // kLong: the string is chars_[off, off + long_len), both stored in s
    char s[kInline] = {};
  };
  static size_t hash(std::string_view s) { return std::hash<std::string_view>{}(s); }
  std::string_view key(const Slot& x) const {
    if (x.len != kLong) return std::string_view(x.s, x.len);
    uint32_t off, len;
    std::memcpy(&off, x.s, 4);
    std::memcpy(&len, x.s + 4, 4);
    return std::string_view(chars_).substr(off, len);
  }
  std::string chars_;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace loom::detail
