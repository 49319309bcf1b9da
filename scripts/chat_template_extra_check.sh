#!/usr/bin/env bash
# A local check beyond the committed corpus: renders every .jinja file of a folder (templates read
# as data, for instance llama.cpp's models/templates) times tests/data/chat/conversations.json
# with Python's jinja2 in transformers' environment and with loom, and counts how many cases agree.
# A .json file instead of a folder holds {name: {chat_template, data, target}} cases with their own
# variables (huggingface.js's packages/jinja/test/e2e.test.js, its TEST_CUSTOM_TEMPLATES).
# Nothing it reads or writes is committed.
#
# Usage: scripts/chat_template_extra_check.sh DIR|CASES.json [BUILD_DIR] [--verbose]
# BUILD_DIR (default build) must hold bin/chat_template_check (cmake --build BUILD_DIR
# --target chat_template_check).
set -euo pipefail

src="${1:?usage: $0 DIR|CASES.json [BUILD_DIR] [--verbose]}"
build="${2:-build}"
root="$(cd "$(dirname "$0")/.." && pwd)"
checker="$build/bin/chat_template_check"
[[ -x "$checker" ]] || { echo "chat_template_extra_check: build $checker first" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [[ -d "$src" ]]; then
  python3 "$root/scripts/chat_template_goldens.py" --extra "$src" --out "$work/goldens.json"
else
  python3 "$root/scripts/chat_template_goldens.py" --extra-cases "$src" --out "$work/goldens.json"
fi
"$checker" "$work/goldens.json" ${3:-}
