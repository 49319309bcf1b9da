#!/usr/bin/env bash
# Installs the HTTP clients the server tests drive loom-server with: the official `openai` npm
# package (pinned), into CACHE/node_modules. A second run with the right version there fetches
# nothing.
#
# Usage: scripts/fetch_test_clients.sh [CACHE]
# CACHE defaults to $LOOM_CLIENTS_CACHE, else ~/.cache/loom-test-clients.
set -euo pipefail

cache="${1:-${LOOM_CLIENTS_CACHE:-$HOME/.cache/loom-test-clients}}"
openai_version=7.60.0

have="$(node -p "require('$cache/node_modules/openai/package.json').version" 2>/dev/null || true)"
if [ "$have" != "$openai_version" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "fetch_test_clients: npm is needed to install openai@$openai_version (install Node.js)" >&2
    exit 1
  fi
  echo "fetching openai@$openai_version"
  mkdir -p "$cache"
  npm install --prefix "$cache" "openai@$openai_version" --no-audit --no-fund --ignore-scripts \
    --silent
fi
