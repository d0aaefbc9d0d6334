#!/usr/bin/env bash
# Fails when a test skipped for any reason other than the absent real datasets (../shared/data): a missing
# plugin, node/onnxruntime-node or python3-torch/onnx would otherwise turn an oracle test into a silent pass.
# Usage: bash scripts/check_skips.sh BUILD_DIR   (reads BUILD_DIR/Testing/Temporary/LastTest.log)
set -euo pipefail
log="${1:?usage: check_skips.sh BUILD_DIR}/Testing/Temporary/LastTest.log"
[ -f "$log" ] || { echo "check_skips: $log not found (run ctest first)" >&2; exit 1; }
# GoogleTest prints "<file>:<line>: Skipped" and then the reason on the next line.
bad=$(awk '/^[0-9]+\/[0-9]+ Test: /{name=$3} skipped{ if ($0 !~ /shared\/data/) print name ": " $0; skipped=0 }
           /: Skipped$/{skipped=1}' "$log")
if [ -n "$bad" ]; then
  echo "check_skips: tests skipped for a reason other than absent ../shared/data (a missing dependency):" >&2
  echo "$bad" >&2
  exit 1
fi
echo "check_skips: no test skipped except for absent ../shared/data"
