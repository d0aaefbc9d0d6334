#!/usr/bin/env bash
# Installs everything slimpipe needs to build and test on a fresh Debian 12 machine.
# Idempotent: packages already present are skipped by apt. Run as root (or with sudo available).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libopenblas0-pthread libopenblas-dev
  libboost-dev libboost-program-options-dev libboost-graph-dev libboost-filesystem-dev
  libtbb-dev libtomlplusplus-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libdnnl-dev ocl-icd-opencl-dev
  graphviz time
  python3-torch python3-onnx python3-numpy libonnx-dev libprotobuf-dev protobuf-compiler
)
# libdnnl-dev's CMake config requires OpenCL (ocl-icd-opencl-dev), a package it only recommends.
# Node.js: Debian 12's (v18) is enough for the oracles; a newer one already installed is used as it is.
command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

# Oracles for the tests (ONNX Runtime, the Hugging Face tokenizer), from npm, into scripts/npm.
# --ignore-scripts: onnxruntime-node ships its Linux x64 library in the package itself.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Reinstalled whenever package.json changes (the stamp holds the package.json it was installed from).
if ! cmp -s "$here/npm/package.json" "$here/npm/node_modules/.slimpipe-package.json"; then
  echo "setup: installing npm oracles into scripts/npm"
  rm -rf "$here/npm/node_modules" "$here/npm/package-lock.json"
  (cd "$here/npm" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error)
  cp "$here/npm/package.json" "$here/npm/node_modules/.slimpipe-package.json"
fi
