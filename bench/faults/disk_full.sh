#!/usr/bin/env bash
# Full-disk check: runs a small version of pipelines/quickstart.toml with its output folder on a tmpfs of
# 64K .. 3M (10 sizes), so that the disk fills up at a different point of the run each time, and checks
#   - slimpipe exits by itself (exit status < 128: no signal, no std::terminate),
#   - every artifact that has a manifest.json passes `slimpipe verify` (nothing half-written looks finished),
# then remounts the tmpfs bigger, runs the same command again to completion and checks that it exits 0,
# that `slimpipe verify` is clean and that the ranking equals an unconstrained run's.
#
#   sudo bench/faults/disk_full.sh build/bin/slimpipe
#
# Needs root (mount -t tmpfs). Prints one line per size and "N passed, M failed".
set -u

if [ $# -lt 1 ]; then
  echo "usage: $0 PATH/TO/slimpipe" >&2
  exit 2
fi
SLIMPIPE=$(realpath "$1")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PIPELINE=$ROOT/pipelines/quickstart.toml
# 560k and 568k: here the disk fills up while the journal records train, and while evaluate's manifest is
# written (measured on the 2-core development machine; other builds may shift them a little).
SIZES=${SIZES:-"64k 128k 256k 512k 560k 568k 1m 1536k 2m 3m"}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/slimpipe-disk-full.XXXXXX")
MNT=$WORK/mnt
mkdir -p "$MNT"

# The quickstart made small: less data, one epoch, two PTQ cells, a short bench.
SMALL=(--set task.synthetic_train_size=256 --set task.synthetic_eval_size=128
       --set nodes.train.num_train_epochs=1 --set nodes.prune.num_train_epochs=1
       --set 'nodes.quant.algo_list=["KL", "mse"]' --set 'nodes.quant.batch_size_list=[4]'
       --set nodes.rank.bench_iters=1 --set nodes.rank.bench_rounds=1 --set 'nodes.rank.bench_batches=[1]')

run() {  # run OUTPUT_DIR LOG
  "$SLIMPIPE" run "$PIPELINE" "${SMALL[@]}" --set "pipeline.output_dir=\"$1\"" -q > "$2" 2>&1
}

ranking_of() {
  local f="$1/rank/ranking.json"
  [ -f "$f" ] || { echo "(no ranking.json)"; return; }
  python3 - "$f" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(" ".join("%s=%.4f" % (c["id"], c[r["primary"]]) for c in r["candidates"]))
PY
}

counts_of() { grep -o '[0-9]* ran, [0-9]* cached, [0-9]* failed' "$1" | tail -1; }

cleanup() {
  mountpoint -q "$MNT" && umount "$MNT"
}
trap cleanup EXIT

if ! run "$WORK/reference" "$WORK/reference.log"; then
  echo "reference run failed; see $WORK/reference.log" >&2
  exit 1
fi
REFERENCE=$(ranking_of "$WORK/reference")
echo "reference: $(du -sh --exclude=.tmp "$WORK/reference" | cut -f1) of output; ranking: $REFERENCE"

passed=0
failed=0
for size in $SIZES; do
  if ! mount -t tmpfs -o "size=$size" tmpfs "$MNT"; then
    echo "cannot mount a tmpfs (needs root)" >&2
    exit 2
  fi
  out=$MNT/run
  log=$WORK/full-$size.log
  run "$out" "$log"
  rc=$?
  first_error=$(grep -m1 -E 'No space left|cannot write|error' "$log" | cut -c1-160)
  "$SLIMPIPE" verify "$out" > "$WORK/verify-full-$size.log" 2>&1
  vrc=$?
  problems=""
  [ "$rc" -lt 128 ] || problems="$problems exit $rc (a signal);"
  grep -q "terminate called" "$log" && problems="$problems std::terminate;"
  [ "$vrc" -eq 0 ] || problems="$problems verify on the full disk: $(grep -m1 damaged "$WORK/verify-full-$size.log");"

  mount -o remount,size=256m "$MNT"
  run "$out" "$log.again"
  rc2=$?
  "$SLIMPIPE" verify "$out" > "$WORK/verify-again-$size.log" 2>&1
  vrc2=$?
  got=$(ranking_of "$out")
  [ "$rc2" -eq 0 ] || problems="$problems rerun exit $rc2;"
  [ "$vrc2" -eq 0 ] || problems="$problems verify after the rerun: $(grep -m1 damaged "$WORK/verify-again-$size.log");"
  [ "$got" = "$REFERENCE" ] || problems="$problems ranking differs: $got;"
  line="$size: exit $rc ($(counts_of "$log"))${first_error:+ first error: $first_error}; rerun exit $rc2 ($(counts_of "$log.again"))"
  if [ -z "$problems" ]; then
    passed=$((passed + 1))
    echo "$line: ok"
  else
    failed=$((failed + 1))
    cp -a "$out" "$WORK/kept-$size" 2> /dev/null
    echo "$line: FAILED:$problems (logs in $WORK)"
  fi
  umount "$MNT"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && rm -rf "$WORK"
[ "$failed" -eq 0 ]
