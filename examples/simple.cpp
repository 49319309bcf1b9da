// The smallest program using loom: load a model, prefill a prompt, decode greedily.
// Usage: loom-example MODEL_DIR [PROMPT]
#include <algorithm>
#include <cstdio>

#include "loom/loom.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL_DIR [PROMPT]\n", argv[0]);
    return 2;
  }
  try {
    loom::Model model = loom::Model::load(argv[1]);
    loom::Session session(model, {.ctx_size = 256});
    const loom::Tokenizer& tok = model.tokenizer();
    std::vector<int> ids = tok.encode(argc > 2 ? argv[2] : "Once upon a time", true);

    std::span<const float> logits = session.prefill(ids);
    loom::TextStream text(tok, false);
    for (int i = 0; i < 32; ++i) {
      int next = static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      std::string_view piece = text.push(next);
      std::printf("%.*s", static_cast<int>(piece.size()), piece.data());
      logits = session.decode(next);
    }
    std::printf("\n");
  } catch (const loom::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
