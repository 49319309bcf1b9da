// Keys and values of many sequences in one pool of fixed-size blocks, shared among them.
//
// A block holds kAttentionSpan positions of every layer and KV head, K and V apart, so that each
// span attention reads lies in one block (ops::KvView). A sequence is a list of blocks; blocks
// are counted by reference, so a fork shares its parent's blocks and copies one only when it
// writes into it (copy on write). A block whose positions are all written is registered under
// the tokens that produced it (and all tokens before them), so that a later sequence starting
// with the same tokens takes it instead of evaluating them again; when no sequence holds it any
// more it stays cached, and is reused for new positions least recently released first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "loom/config.h"
#include "ops/attention.h"

namespace loom::model {

class KvPool {
 public:
  static constexpr int kBlockTokens = ops::kAttentionSpan;

  KvPool(const ModelConfig& c, int blocks, DType type);

  int blocks() const { return static_cast<int>(ref_.size()); }
  int free_blocks() const { return static_cast<int>(free_.size() + cached_.size()); }
  int used_blocks() const { return blocks() - free_blocks(); }
  int cached_blocks() const { return static_cast<int>(cached_.size()); }
  DType type() const { return type_; }
  size_t block_bytes() const { return block_bytes_; }  // of K (V is as large)

  // A block for new positions: a free one, or else the least recently released cached one
  // (forgotten as a prefix). The caller checks free_blocks() first; none left throws.
  int take();
  // One reference more / less; at none, a registered block is cached, any other freed.
  void retain(int block) { ++ref_[block]; }
  void release(int block);
  int refs(int block) const { return ref_[block]; }
  // A copy of BLOCK's keys and values in a block taken for it (BLOCK keeps its references).
  int copy(int block);

  // Registers a full BLOCK as the keys of TOKENS (its kBlockTokens tokens) after the prefix whose
  // last block's key is PARENT (0 for the first block); returns the block's key. A block of the
  // same key already registered is kept (BLOCK stays unregistered).
  uint64_t publish(int block, uint64_t parent, std::span<const int> tokens);
  // The block registered for TOKENS after PARENT, or -1; a hit is retained for the caller.
  int find(uint64_t parent, std::span<const int> tokens, uint64_t* key);
  // Before writing into BLOCK (held once): it no longer holds what it was registered for.
  void unpublish(int block);

  // Layer L's keys and values over the blocks BLOCKS (a sequence's, in position order).
  ops::KvView view(int layer, const int* blocks) const;

 private:
  static uint64_t key_of(uint64_t parent, std::span<const int> tokens);

  DType type_;
  size_t row_bytes_, head_bytes_, layer_bytes_, block_bytes_;
  std::unique_ptr<std::byte[]> k_, v_;
  std::vector<int> ref_;
  std::vector<int> free_;  // blocks with no reference and no registration
  std::list<int> cached_;  // registered blocks with no reference, oldest first
  std::vector<std::list<int>::iterator> cached_at_;  // [blocks]: place in cached_, if there
  std::vector<uint64_t> key_;                        // [blocks]: its registration key, 0 if none
  std::vector<std::vector<int>> tokens_;             // [blocks]: the tokens it was registered for
  std::unordered_map<uint64_t, int> by_key_;
};

}  // namespace loom::model
