#!/usr/bin/env bash
# Configures and builds slimpipe into build/ (CLI in build/bin, plugins in build/lib/slimpipe/plugins).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# ccache: relative paths, so clones in other folders (CI) reuse earlier compilations.
export CCACHE_BASEDIR="$root"
werror=OFF
[ "${CI:-}" = "true" ] && werror=ON
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLIMPIPE_WERROR=$werror
cmake --build "$root/build" -j "$(nproc)"
