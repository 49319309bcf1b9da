#include "tokenizer/vocab_table.h"

#include <algorithm>

namespace loom::detail {

void VocabTable::reserve(size_t n) {
  size_t cap = 16;
  while (cap * 2 < n * 3) cap *= 2;  // load factor at most 2/3
  if (cap <= slots_.size()) return;
  std::vector<Slot> old(cap);
  old.swap(slots_);
  mask_ = cap - 1;
  for (const Slot& x : old) {
    if (x.id < 0) continue;
    size_t i = hash(key(x)) & mask_;
    while (slots_[i].id >= 0) i = (i + 1) & mask_;
    slots_[i] = x;
  }
}

void VocabTable::insert(std::string_view s, int id) {
  if ((size_ + 1) * 3 > slots_.size() * 2) reserve(std::max<size_t>(16, size_ * 2 + 1));
  size_t i = hash(s) & mask_;
  for (; slots_[i].id >= 0; i = (i + 1) & mask_) {
    if (key(slots_[i]) == s) {
      slots_[i].id = id;
      return;
    }
  }
  Slot& x = slots_[i];
  x.id = id;
  if (s.size() <= kInline) {
    x.len = static_cast<uint8_t>(s.size());
    std::memcpy(x.s, s.data(), s.size());
  } else {
    x.len = kLong;
    const auto off = static_cast<uint32_t>(chars_.size()), len = static_cast<uint32_t>(s.size());
    std::memcpy(x.s, &off, 4);
    std::memcpy(x.s + 4, &len, 4);
    chars_.append(s);
  }
  ++size_;
}

}  // namespace loom::detail
