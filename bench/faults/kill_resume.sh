#!/usr/bin/env bash
# Kill-and-resume check: runs pipelines/quickstart.toml once without interruption for the reference ranking
# and wall time, then N times: a fresh run into a new folder is killed with SIGKILL after i/(N+1) of the
# expected wall time, the same command is run again to completion, and the result must match: the same
# ranking (rank/ranking.json: candidate ids in rank order with their metric) and a clean `slimpipe verify`.
# The expected wall time starts as the reference's and follows the machine: a run that finishes before its
# kill (the machine got faster) sets it anew and the trial is tried again at the same fraction (3 tries), so
# that every moment is a real kill wherever the load changes.
#
#   bench/faults/kill_resume.sh build/bin/slimpipe [N=20]
#
# Prints one line per trial and "N passed, M failed; K of N trials killed mid-run"; exit status 0 when every
# trial passed. Keeps the folders of failed trials (their path is printed) and removes the rest.
set -u

if [ $# -lt 1 ]; then
  echo "usage: $0 PATH/TO/slimpipe [N=20]" >&2
  exit 2
fi
SLIMPIPE=$(realpath "$1")
N=${2:-20}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PIPELINE=${PIPELINE:-$ROOT/pipelines/quickstart.toml}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/slimpipe-kill-resume.XXXXXX")

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# "id=metric id=metric ..." in rank order.
ranking_of() {
  local f="$1/rank/ranking.json"
  [ -f "$f" ] || { echo "(no ranking.json)"; return; }
  python3 - "$f" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(" ".join("%s=%.4f" % (c["id"], c[r["primary"]]) for c in r["candidates"]))
PY
}

# A process that has not ended (a zombie, ended but not yet waited for, has).
alive() { [ -r "/proc/$1/stat" ] && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2> /dev/null)" != Z ]; }

# "3 ran, 5 cached" from a run's summary line.
counts_of() { grep -o '[0-9]* ran, [0-9]* cached' "$1" | tail -1; }

run() {  # run OUTPUT_DIR LOG: the pipeline into OUTPUT_DIR, in the foreground
  "$SLIMPIPE" run "$PIPELINE" --set "pipeline.output_dir=\"$1\"" -q > "$2" 2>&1
}

echo "reference: $PIPELINE into $WORK/reference"
t0=$(now)
if ! run "$WORK/reference" "$WORK/reference.log"; then
  echo "reference run failed; see $WORK/reference.log" >&2
  exit 1
fi
REF_SECONDS=$(elapsed "$t0" "$(now)")
REFERENCE=$(ranking_of "$WORK/reference")
echo "reference: ${REF_SECONDS} s; ranking: $REFERENCE"

passed=0
failed=0
EXPECTED=$REF_SECONDS
kills=0
for i in $(seq 1 "$N"); do
  dir="$WORK/trial-$i"
  for try in 1 2 3; do
    rm -rf "$dir"
    delay=$(awk -v t="$EXPECTED" -v i="$i" -v n="$N" 'BEGIN { printf "%.2f", t * i / (n + 1) }')
    t0=$(now)
    "$SLIMPIPE" run "$PIPELINE" --set "pipeline.output_dir=\"$dir\"" -q > "$dir.killed.log" 2>&1 &
    pid=$!
    # Polled, so that a run that ends early is seen at once and its wall time is known.
    while alive "$pid" && awk -v a="$t0" -v b="$(now)" -v d="$delay" 'BEGIN { exit !(b - a < d) }'; do
      sleep 0.05
    done
    if alive "$pid" && kill -KILL "$pid" 2> /dev/null; then
      wait "$pid" 2> /dev/null
      killed="killed at ${delay} s"
      kills=$((kills + 1))
      break
    fi
    wait "$pid" 2> /dev/null
    EXPECTED=$(elapsed "$t0" "$(now)")
    killed="finished before ${delay} s (a run now takes ${EXPECTED} s)"
  done
  t0=$(now)
  run "$dir" "$dir.resume.log"
  rc=$?
  resumed=$(elapsed "$t0" "$(now)")
  got=$(ranking_of "$dir")
  "$SLIMPIPE" verify "$dir" > "$dir.verify.log" 2>&1
  vrc=$?
  problems=""
  [ "$rc" -eq 0 ] || problems="$problems resume exit $rc;"
  [ "$got" = "$REFERENCE" ] || problems="$problems ranking differs: $got;"
  [ "$vrc" -eq 0 ] || problems="$problems verify: $(grep -m1 damaged "$dir.verify.log");"
  line="trial $i/$N: $killed, resumed in ${resumed} s ($(counts_of "$dir.resume.log"))"
  if [ -z "$problems" ]; then
    passed=$((passed + 1))
    echo "$line: ok"
    rm -rf "$dir" "$dir".*.log
  else
    failed=$((failed + 1))
    echo "$line: FAILED:$problems (kept $dir)"
  fi
done
echo "$passed passed, $failed failed; $kills of $N trials killed mid-run"
[ "$failed" -eq 0 ] && rm -rf "$WORK/reference" "$WORK/reference.log" && rmdir "$WORK" 2> /dev/null
[ "$failed" -eq 0 ]
