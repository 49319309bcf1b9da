// tokenizer.json's "added_tokens": tokens matched in the text before the model sees it, longest
// match first, with their lstrip/rstrip/single_word rules.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace loom::detail {

struct AddedToken {
  int id = -1;
  std::string content;
  bool special = false, lstrip = false, rstrip = false, single_word = false, normalized = false;
};

// A set of literal strings matched leftmost-longest (the longest of those starting first).
class TokenMatcher {
 public:
  void add(std::string_view pattern, int token);  // TOKEN: an index into the caller's tokens
  bool empty() const { return nodes_.size() <= 1; }
  // The longest pattern that starts at TEXT[AT]: its token and end, or token -1.
  std::pair<int, size_t> longest_at(std::string_view text, size_t at) const;
  bool may_start(unsigned char c) const { return first_[c]; }

 private:
  struct Node {
    int token = -1;
  };
  std::vector<Node> nodes_ = std::vector<Node>(1);
  std::unordered_map<uint64_t, int> children_;  // (node << 8 | byte) -> node
  bool first_[256] = {};
};

// A stretch of a text: [begin, end) and the added token it is (-1: plain text).
struct Segment {
  size_t begin, end;
  int id;
};

class AddedTokens {
 public:
  // TOKENS' normalized forms (what the normalizer makes of each content, for those marked
  // normalized) are NORMALIZED_CONTENT, parallel to TOKENS.
  AddedTokens(std::vector<AddedToken> tokens, const std::vector<std::string>& normalized_content);
  AddedTokens() = default;

  // Splits TEXT at the tokens of one of the two sets (NORMALIZED: the tokens matched in
  // normalized text, else those matched in the raw text), appending the stretches in order.
  // Special tokens are matched only when PARSE_SPECIAL.
  void split(std::string_view text, bool normalized, bool parse_special,
             std::vector<Segment>& out) const;

  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  std::vector<AddedToken> tokens_;
  TokenMatcher raw_, normalized_;
};

}  // namespace loom::detail
