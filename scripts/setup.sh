#!/usr/bin/env bash
# Installs everything slimpipe needs to build and test on a fresh Debian 12 machine.
# Idempotent: packages already present are skipped by apt. Run as root (or with sudo available).
#   bash scripts/setup.sh                 # everything (LibTorch, the test oracles from npm, ...)
#   bash scripts/setup.sh --runtime-only  # only what the runtime, its C API, slimpipe-serve and their tests
#                                         # need (no LibTorch, no npm): then scripts/runtime_only_check.sh
set -euo pipefail

runtime_only=0
case "${1:-}" in
  "") ;;
  --runtime-only) runtime_only=1 ;;
  *) echo "setup: unknown option '$1' (expected nothing or --runtime-only)" >&2; exit 2 ;;
esac

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libopenblas0-pthread libopenblas-dev
  libboost-dev libboost-program-options-dev libboost-graph-dev libboost-filesystem-dev
  libtbb-dev libtomlplusplus-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libdnnl-dev ocl-icd-opencl-dev
  graphviz time clang-format-14
  chromium fonts-liberation
  python3-torch python3-onnx python3-numpy libonnx-dev libprotobuf-dev protobuf-compiler
  slurm-wlm munge libgloo-dev
)
# clang-format-14: scripts/check_tree.sh checks the whole tree's format against .clang-format.
# slurm-wlm, munge: the single-node cluster of the Slurm tests (tests/slurm/slurm_cluster.sh); libgloo-dev: the
# header LibTorch's c10d ProcessGroupGloo needs, which libtorch-dev does not pull in.
# chromium: the headless browser that checks report.html (tests/train/quickstart_e2e_test.cpp).
# libdnnl-dev's CMake config requires OpenCL (ocl-icd-opencl-dev), a package it only recommends.
# Node.js: Debian 12's (v18) is enough for the oracles; a newer one already installed is used as it is.
command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)
if [ "$runtime_only" = 1 ]; then
  # The runtime-only build (-DSLIMPIPE_RUNTIME_ONLY=ON): oneDNN (with the OpenCL headers its CMake config
  # requires), OpenBLAS, Boost's headers (Beast for slimpipe-serve), nlohmann-json, GoogleTest, and python3
  # for the Python binding's and the server's tests.
  PACKAGES=(
    build-essential cmake ninja-build ccache pkg-config
    libopenblas0-pthread libopenblas-dev libdnnl-dev ocl-icd-opencl-dev
    libboost-dev nlohmann-json3-dev libgtest-dev python3
  )
fi

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

[ "$runtime_only" = 1 ] && exit 0

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
