#!/usr/bin/env bash
# Sets everything up, builds slimpipe and runs pipelines/quickstart.toml.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
"$root/build/bin/slimpipe" run "$root/pipelines/quickstart.toml" "$@"
