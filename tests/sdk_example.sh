#!/usr/bin/env bash
# Installs slimpipe into a temporary prefix, builds sdk/examples/inventory against the installed
# SDK (as a third party would), loads it into a pipeline and runs it.
set -euo pipefail
src="$1"; build="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
cmake -S "$src/sdk/examples/inventory" -B "$work/plugin" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_TYPE=Release > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/plugin" > "$work/build.log" || { cat "$work/build.log"; exit 1; }
mkdir -p "$work/model"
printf '{"hidden_size": 8}\n' > "$work/model/config.json"
printf 'weights' > "$work/model/model.safetensors"
cp "$src/sdk/examples/inventory/pipeline.toml" "$work/pipeline.toml"
"$work/prefix/bin/slimpipe" plugins --plugin-path "$work/plugin" | grep -E '^inventory +strategy +1\.0\.0'
INVENTORY_MODEL="$work/model" "$work/prefix/bin/slimpipe" run "$work/pipeline.toml" --plugin-path "$work/plugin"
out="$work/runs/inventory/list/inventory.json"
grep -q '"path": "config.json"' "$out"
grep -q '"sha1"' "$out"
grep -q '"total_bytes": 26.0' "$work/runs/inventory/list/manifest.json"
echo "sdk example: built against the installed SDK, loaded and ran"
