#include "model/kv_pool.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "loom/error.h"

namespace loom::model {

KvPool::KvPool(const ModelConfig& c, int blocks, DType type)
    : type_(type),
      row_bytes_(static_cast<size_t>(c.head_dim) * dtype_size(type)),
      head_bytes_(row_bytes_ * kBlockTokens),
      layer_bytes_(head_bytes_ * c.n_kv_heads),
      block_bytes_(layer_bytes_ * c.n_layers),
      ref_(blocks, 0),
      cached_at_(blocks),
      key_(blocks, 0),
      tokens_(blocks) {
  if (blocks <= 0) throw Error("a KV pool needs at least one block");
  try {
    k_.reset(new std::byte[block_bytes_ * blocks]);
    v_.reset(new std::byte[block_bytes_ * blocks]);
  } catch (const std::bad_alloc&) {
    throw Error("cannot allocate a KV pool of " + std::to_string(blocks) + " blocks (" +
                std::to_string(2.0 * block_bytes_ * blocks / (1u << 30)).substr(0, 6) +
                " GiB): use fewer pool tokens or a 16-bit KV type");
  }
  free_.resize(blocks);
  // Lowest first off the back: blocks are handed out from the start of the pool.
  for (int b = 0; b < blocks; ++b) free_[b] = blocks - 1 - b;
}

int KvPool::take() {
  int b;
  if (!free_.empty()) {
    b = free_.back();
    free_.pop_back();
  } else if (!cached_.empty()) {
    b = cached_.front();
    cached_.pop_front();
    by_key_.erase(key_[b]);
    key_[b] = 0;
    tokens_[b].clear();
  } else {
    throw Error("the KV pool is full (" + std::to_string(blocks()) + " blocks of " +
                std::to_string(kBlockTokens) + " tokens)");
  }
  ref_[b] = 1;
  return b;
}

void KvPool::release(int block) {
  if (--ref_[block] > 0) return;
  if (key_[block] != 0) {
    cached_at_[block] = cached_.insert(cached_.end(), block);
  } else {
    free_.push_back(block);
  }
}

int KvPool::copy(int block) {
  const int b = take();
  std::memcpy(k_.get() + b * block_bytes_, k_.get() + block * block_bytes_, block_bytes_);
  std::memcpy(v_.get() + b * block_bytes_, v_.get() + block * block_bytes_, block_bytes_);
  return b;
}

uint64_t KvPool::key_of(uint64_t parent, std::span<const int> tokens) {
  // FNV-1a over the parent's key and the tokens; a key is only a hint (find compares the
  // tokens), and 0 means unregistered.
  uint64_t h = 1469598103934665603ull ^ parent;
  for (int t : tokens) {
    for (int i = 0; i < 4; ++i)
      h = (h ^ ((static_cast<uint32_t>(t) >> (8 * i)) & 0xff)) * 1099511628211ull;
  }
  return h == 0 ? 1 : h;
}

uint64_t KvPool::publish(int block, uint64_t parent, std::span<const int> tokens) {
  const uint64_t key = key_of(parent, tokens);
  if (key_[block] == 0 && !by_key_.contains(key)) {
    key_[block] = key;
    tokens_[block].assign(tokens.begin(), tokens.end());
    by_key_.emplace(key, block);
  }
  return key;
}

int KvPool::find(uint64_t parent, std::span<const int> tokens, uint64_t* key) {
  *key = key_of(parent, tokens);
  const auto it = by_key_.find(*key);
  if (it == by_key_.end()) return -1;
  const int b = it->second;
  if (!std::equal(tokens.begin(), tokens.end(), tokens_[b].begin(), tokens_[b].end())) return -1;
  if (ref_[b]++ == 0) cached_.erase(cached_at_[b]);
  return b;
}

void KvPool::unpublish(int block) {
  if (key_[block] == 0) return;
  by_key_.erase(key_[block]);
  key_[block] = 0;
  tokens_[block].clear();
}

ops::KvView KvPool::view(int layer, const int* blocks) const {
  const size_t at = static_cast<size_t>(layer) * layer_bytes_;
  return ops::KvView{k_.get() + at, v_.get() + at, blocks,    INT32_MAX,
                     block_bytes_,  head_bytes_,   row_bytes_};
}

}  // namespace loom::model
