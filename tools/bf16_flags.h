// --exact and --bf16-activations, in every tool that evaluates prompts: how prompts' products
// with bf16 weights take their activations (loom::Bf16Prompts; by default what is faster here).
#pragma once

#include <CLI/CLI.hpp>

#include "loom/config.h"

namespace loom::tools {

struct Bf16Flags {
  bool exact = false, bf16 = false;

  void add(CLI::App& app) {
    auto* e = app.add_flag("--exact", exact,
                           "prompts' products with bf16 weights take fp32 activations (the path "
                           "held to transformers' fp32 logits; the default except on AMD Zen 4/5)");
    app.add_flag("--bf16-activations", bf16,
                 "prompts' products with bf16 weights round the activations to bf16 (AVX-512 "
                 "BF16 only; the default on AMD Zen 4/5; logits move, see docs/performance.md)")
        ->excludes(e);
  }
  Bf16Prompts value() const {
    return exact ? Bf16Prompts::Exact : bf16 ? Bf16Prompts::Bf16Activations : Bf16Prompts::Auto;
  }
};

}  // namespace loom::tools
