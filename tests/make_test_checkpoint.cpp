// Writes one of the random-weight checkpoints of support/arch_checkpoint.h into a folder, for
// scripts/make_arch_goldens.py to run transformers on:
//
//   make_test_checkpoint NAME OUT_DIR [TOKENIZERS_DIR]
//   make_test_checkpoint --list
//
// TOKENIZERS_DIR defaults to ../shared/fixtures/tokenizers as configured at build time. Built by
// CMake, or on its own: g++ -std=c++20 -I tests tests/make_test_checkpoint.cpp.
#include <cstdio>
#include <exception>
#include <string>

#include "support/arch_checkpoint.h"

#ifndef LOOM_SHARED_DIR
#define LOOM_SHARED_DIR "../shared"
#endif

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--list") {
    for (const std::string& n : loom::test::arch_checkpoint_names()) std::printf("%s\n", n.c_str());
    return 0;
  }
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: %s NAME OUT_DIR [TOKENIZERS_DIR] | --list\n", argv[0]);
    return 2;
  }
  try {
    const std::string tokenizers =
        argc == 4 ? argv[3] : std::string(LOOM_SHARED_DIR) + "/fixtures/tokenizers";
    loom::test::write_arch_checkpoint(argv[1], argv[2], tokenizers);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_test_checkpoint: %s\n", e.what());
    return 1;
  }
  return 0;
}
