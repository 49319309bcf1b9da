#include "tokenizer/json_tokenizer.h"

#include "loom/error.h"

namespace loom::detail {

std::unique_ptr<TokenizerImpl> load_json_tokenizer(const std::filesystem::path& dir, int) {
  throw Error((dir / "tokenizer.json").string() + ": tokenizer.json is not supported yet");
}

}  // namespace loom::detail
