#!/usr/bin/env bash
# Sets everything up, builds slimpipe and runs every test (ctest over GoogleTest).
# Usage: bash scripts/test.sh [extra ctest arguments]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
# The tree first (seconds, no build): every C++ file as .clang-format says, layering (who may include and link
# what), no machine paths or work notes in any file.
bash "$root/scripts/check_tree.sh" format layering docs
bash "$root/scripts/build.sh"
cd "$root/build"
ctest --output-on-failure -j "$(nproc)" -LE 'bench|realdata' "$@"
# Every oracle test must have run: a skip for a missing plugin or tool fails the run (data skips are fine).
bash "$root/scripts/check_skips.sh" "$root/build"
# The runtime without LibTorch (build-rt/: configure with Torch unfindable, build, test, install, ldd); about a
# minute with ccache warm, as it compiles no LibTorch code.
bash "$root/scripts/runtime_only_check.sh" "$root/build-rt"
