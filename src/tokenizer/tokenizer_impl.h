// The interface every tokenizer file format implements behind loom::Tokenizer. Virtual calls are
// fine here: tokenizing is not on the forward pass's hot path.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace loom::detail {

class TokenizerImpl {
 public:
  virtual ~TokenizerImpl() = default;
  virtual std::vector<int> encode(std::string_view text, bool add_special,
                                  bool parse_special) const = 0;
  // IDS are known to lie in [0, vocab_size()).
  virtual std::string decode(std::span<const int> ids, bool skip_special) const = 0;
  // ID is known to lie in [0, vocab_size()).
  virtual std::string_view token_bytes(int id) const = 0;
  virtual std::optional<int> token_id(std::string_view token) const = 0;
  virtual bool is_special(int id) const = 0;
  virtual int vocab_size() const = 0;
  virtual int bos_id() const = 0;
  virtual bool add_bos() const = 0;
  virtual bool strips_leading_space() const = 0;
  virtual std::string describe() const = 0;
};

}  // namespace loom::detail
