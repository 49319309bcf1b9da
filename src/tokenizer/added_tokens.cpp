#include "tokenizer/added_tokens.h"

#include "tokenizer/unicode.h"

namespace loom::detail {

void TokenMatcher::add(std::string_view pattern, int token) {
  if (pattern.empty()) return;
  int node = 0;
  for (char c : pattern) {
    const uint64_t key = (static_cast<uint64_t>(node) << 8) | static_cast<uint8_t>(c);
    auto it = children_.find(key);
    if (it == children_.end()) {
      nodes_.push_back({});
      it = children_.emplace(key, static_cast<int>(nodes_.size() - 1)).first;
    }
    node = it->second;
  }
  // Two tokens with the same text: the first one listed keeps it.
  if (nodes_[node].token < 0) nodes_[node].token = token;
  first_[static_cast<uint8_t>(pattern[0])] = true;
}

std::pair<int, size_t> TokenMatcher::longest_at(std::string_view text, size_t at) const {
  std::pair<int, size_t> best{-1, 0};
  int node = 0;
  for (size_t i = at; i < text.size(); ++i) {
    auto it = children_.find((static_cast<uint64_t>(node) << 8) | static_cast<uint8_t>(text[i]));
    if (it == children_.end()) break;
    node = it->second;
    if (nodes_[node].token >= 0) best = {nodes_[node].token, i + 1};
  }
  return best;
}

AddedTokens::AddedTokens(std::vector<AddedToken> tokens,
                         const std::vector<std::string>& normalized_content)
    : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (tokens_[i].normalized) {
      normalized_.add(normalized_content[i], static_cast<int>(i));
    } else {
      raw_.add(tokens_[i].content, static_cast<int>(i));
    }
  }
}

namespace {

bool word_char_before(std::string_view s, size_t at) {
  if (at == 0) return false;
  size_t i = prev_char_start(s, at);
  return is_word_char(next_char(s, i));
}
bool word_char_at(std::string_view s, size_t at) {
  if (at >= s.size()) return false;
  return is_word_char(next_char(s, at));
}

}  // namespace

void AddedTokens::split(std::string_view text, bool normalized, bool parse_special,
                        std::vector<Segment>& out) const {
  const TokenMatcher& m = normalized ? normalized_ : raw_;
  size_t start_offset = 0;
  if (!m.empty()) {
    for (size_t i = 0; i < text.size();) {
      if (!m.may_start(static_cast<unsigned char>(text[i]))) {
        ++i;
        continue;
      }
      const auto [t, end] = m.longest_at(text, i);
      if (t < 0) {
        ++i;
        continue;
      }
      size_t start = i, stop = end;
      i = end;  // matches never overlap, also when one is discarded below
      const AddedToken& tok = tokens_[t];
      if (tok.special && !parse_special) continue;
      if (tok.single_word && (word_char_before(text, start) || word_char_at(text, stop))) continue;
      if (tok.lstrip) {
        size_t s = start;
        while (s > 0) {
          const size_t p = prev_char_start(text, s);
          size_t q = p;
          if (!is_whitespace(next_char(text, q))) break;
          s = p;
        }
        start = s;
      }
      if (tok.rstrip) {
        while (stop < text.size()) {
          size_t q = stop;
          if (!is_whitespace(next_char(text, q))) break;
          stop = q;
        }
      }
      // Whitespace an earlier match already took stays with it.
      start = std::max(start, start_offset);
      if (start_offset < start) out.push_back({start_offset, start, -1});
      out.push_back({start, stop, tok.id});
      start_offset = stop;
    }
  }
  if (start_offset < text.size()) out.push_back({start_offset, text.size(), -1});
}

}  // namespace loom::detail
