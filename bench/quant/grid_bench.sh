#!/usr/bin/env bash
# grid_bench: wall time of a 12-cell PTQ grid (4 algos x 3 batch sizes) with max_parallel = 1 and 2, from the
# same fp32 model, and whether every cell's metrics and thresholds agree between the two runs.
# Usage: bash bench/quant/grid_bench.sh BUILD_DIR [WORK_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:?usage: grid_bench.sh BUILD_DIR [WORK_DIR]}"
if [ -n "${2:-}" ]; then
  work="$2"  # kept: a rerun reuses the trained model
else
  work="$(mktemp -d /tmp/slimpipe_grid_bench.XXXXXX)"
  trap 'rm -rf "$work"' EXIT
fi
cli="$build/bin/slimpipe"
mkdir -p "$work"
cat > "$work/grid.toml" <<'TOML'
[pipeline]
name = "ptq_grid_bench"
output_dir = "out"
seed = 1

[task]
type = "seq_cls"
source = "synthetic"
synthetic_train_size = 2000
synthetic_eval_size = 500
max_seq_length = 64

[nodes.train]
type = "finetune"
inputs = []
from_scratch = true
hidden_size = 128
num_hidden_layers = 2
num_attention_heads = 4
intermediate_size = 512
max_position_embeddings = 64
learning_rate = 1e-3
num_train_epochs = 3
per_device_train_batch_size = 32
per_device_eval_batch_size = 128
save_steps = 1000

[nodes.quant]
type = "ptq"
inputs = ["train"]
algo_list = ["abs_max", "mse", "KL", "hist"]
batch_size_list = [4, 8, 16]
batch_num_list = [1]
per_device_eval_batch_size = 128
TOML
echo "grid_bench: training the fp32 model once (cached on reruns)"
"$cli" run "$work/grid.toml" --only train -q >/dev/null
declare -A secs
for mp in 1 2; do
  # A fresh grid each time: --force reruns the 12 ptq cells, the trained model stays cached.
  start=$(date +%s.%N)
  "$cli" run "$work/grid.toml" --max-parallel $mp --force quant -q >/dev/null
  end=$(date +%s.%N)
  secs[$mp]=$(echo "$end - $start" | bc -l)
  rm -rf "$work/cells_mp$mp"
  mkdir -p "$work/cells_mp$mp"
  for d in "$work"/out/quant/*/; do
    name=$(basename "$d")
    python3 -c "import json,sys; m=json.load(open('$d/manifest.json')); print(json.dumps(m['metrics'], sort_keys=True))" \
      > "$work/cells_mp$mp/$name.metrics"
    cp "$d/calibration.json" "$work/cells_mp$mp/$name.calibration.json"
  done
done
cells=$(ls "$work/cells_mp1"/*.metrics | wc -l)
same=yes
diff -r "$work/cells_mp1" "$work/cells_mp2" >/dev/null || same=no
ratio=$(echo "${secs[2]} / ${secs[1]}" | bc -l)
printf 'grid_bench: %d cells, %d cores, load %s\n' "$cells" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  max_parallel=1: %8.1f s\n  max_parallel=2: %8.1f s\n  ratio mp2/mp1: %.2f\n  identical metrics and thresholds: %s\n' \
  "${secs[1]}" "${secs[2]}" "$ratio" "$same"
[ "$same" = yes ]
