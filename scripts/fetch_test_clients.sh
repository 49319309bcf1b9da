#!/usr/bin/env bash
# Installs the HTTP clients the server tests drive loom-server with, pinned, into
# CACHE/node_modules: the official `openai` npm package, and playwright-core (which drives
# Debian's chromium, installed by scripts/install-deps.sh, for the chat page's test; it downloads
# no browser of its own). A second run with the right versions there fetches nothing.
#
# Usage: scripts/fetch_test_clients.sh [CACHE]
# CACHE defaults to $LOOM_CLIENTS_CACHE, else ~/.cache/loom-test-clients.
set -euo pipefail

cache="${1:-${LOOM_CLIENTS_CACHE:-$HOME/.cache/loom-test-clients}}"
packages=(openai@7.60.0 playwright-core@1.65.2)

missing=()
for p in "${packages[@]}"; do
  name="${p%@*}"
  want="${p##*@}"
  have="$(node -p "require('$cache/node_modules/$name/package.json').version" 2>/dev/null || true)"
  [ "$have" = "$want" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "fetch_test_clients: npm is needed to install ${missing[*]} (install Node.js)" >&2
    exit 1
  fi
  echo "fetching ${missing[*]}"
  mkdir -p "$cache"
  npm install --prefix "$cache" "${missing[@]}" --no-audit --no-fund --ignore-scripts --silent
fi
