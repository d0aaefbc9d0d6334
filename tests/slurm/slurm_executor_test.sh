#!/usr/bin/env bash
# `slimpipe run --executor slurm` on the single-node test cluster (slurm_cluster.sh): a three-cell matrix node (one job
# array) and a collect node after it (an afterok dependency) finish as Slurm jobs; `slimpipe status` shows the job ids
# while they run; the artifacts (their hashes in pipeline.lock) and the run report equal those of a local run of the
# same pipeline. Then a failing cell: the run fails, names the job's log, and the collect job never runs; and Ctrl-C in
# the submitter cancels its jobs.
#   bash slurm_executor_test.sh SLIMPIPE_BINARY TEST_PLUGIN_DIR
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cli=$1
plugins=$2
S=$(mktemp -d -t slimpipe-slurm-exec-XXXXXX)
trap 'bash "$here/slurm_cluster.sh" stop "$S/cluster"; rm -rf "$S"' EXIT
fail() {
  echo "slurm_executor_test: FAIL: $*"
  tail -n 20 "$S"/*.log "$S"/slurm/.slurm/logs/* 2> /dev/null
  exit 1
}

line=$(bash "$here/slurm_cluster.sh" start "$S/cluster") || fail "the cluster did not start"
export "${line?}"
mkdir -p "$S/model" && echo '{}' > "$S/model/config.json"
cat > "$S/p.toml" << 'TOML'
[pipeline]
name = "slurm-check"
output_dir = "out"
[model]
path = "model"
[nodes.cell]
type = "sleep_record"
inputs = ["model"]
sleep_ms = 200
[nodes.cell.matrix]
x = [1, 2, 3]
[nodes.sum]
type = "sleep_record"
inputs = ["cell"]
collect = true
sleep_ms = 3000
payload = "collected"
TOML
sp() { "$cli" --plugin-path "$plugins" "$@"; }  # (a function runs in a subshell when put in the background)

sp run "$S/p.toml" --set 'pipeline.output_dir="'"$S"'/local"' -q > "$S/local.log" 2>&1 || fail "the local run failed"

sp run "$S/p.toml" --set 'pipeline.output_dir="'"$S"'/slurm"' --executor slurm --slurm-opt=--time=5 \
  --slurm-opt=cpus-per-task=1 > "$S/slurm.log" 2>&1 &
run_pid=$!
seen=""
for _ in $(seq 1 100); do
  kill -0 $run_pid 2> /dev/null || break
  status=$(sp status "$S/p.toml" --set 'pipeline.output_dir="'"$S"'/slurm"' 2> /dev/null)
  if grep -q "Slurm job [0-9]" <<< "$status"; then
    seen=$status
    break
  fi
  sleep 0.1
done
wait $run_pid || fail "slimpipe run --executor slurm exited $?: $(cat "$S/slurm.log")"
[ -n "$seen" ] || fail "slimpipe status never showed a Slurm job id"
grep -q "node cell: 3 instances submitted as Slurm job" "$S/slurm.log" || fail "no job array for node cell"
grep -q "4 ran, 0 cached, 0 failed" "$S/slurm.log" || fail "unexpected summary: $(cat "$S/slurm.log")"
[ -s "$S/slurm/report.md" ] || fail "no run report"
[ -s "$S/slurm/.slurm/jobs.json" ] || fail "no .slurm/jobs.json"

# The same artifacts (content hashes) and the same report rows as the local run.
python3 - "$S/local" "$S/slurm" << 'PY' || fail "the Slurm run differs from the local run"
import csv, json, sys
def outputs(d):
    lock = json.load(open(d + "/pipeline.lock"))
    return {e["id"]: (e["status"], {k: v["hash"] for k, v in e["outputs"].items()}) for e in lock["instances"]}
def rows(d):
    return sorted({k: v for k, v in r.items() if k != "seconds"}.__repr__() for r in csv.DictReader(open(d + "/summary.csv")))
a, b = sys.argv[1], sys.argv[2]
assert outputs(a) == outputs(b), (outputs(a), outputs(b))
assert rows(a) == rows(b), (rows(a), rows(b))
print("slurm_executor_test: %d instances, artifacts and report rows equal to the local run's" % len(outputs(a)))
PY
echo "slurm_executor_test: status while running:"
sed 's/^/  /' <<< "$seen"

# A cell that fails: the run exits 1 naming the job's log; the collect job is cancelled by its dependency.
sp run "$S/p.toml" --set 'pipeline.output_dir="'"$S"'/failing"' --set 'nodes.cell.fail_on=[2]' --executor slurm > "$S/failing.log" 2>&1
rc=$?
[ $rc = 1 ] || fail "a failing cell gave exit status $rc: $(cat "$S/failing.log")"
grep -q "failed: cell@x=2: instance cell@x=2 told to fail.*log .*/failing/.slurm/logs/cell_" "$S/failing.log" ||
  fail "the failure does not name its log: $(cat "$S/failing.log")"
grep -q "skipped: sum: input cell@x=2 failed" "$S/failing.log" || fail "sum was not skipped: $(cat "$S/failing.log")"
[ -z "$(squeue -h -o %i)" ] || fail "jobs left in the queue: $(squeue -h -o '%i %T %r')"
sp status "$S/p.toml" --set 'pipeline.output_dir="'"$S"'/failing"' --set 'nodes.cell.fail_on=[2]' 2> /dev/null |
  grep -q "cell@x=2  failed: instance cell@x=2 told to fail (x = 2) (log .slurm/logs/cell_" ||
  fail "status does not show the failure with its log"
echo "slurm_executor_test: a failing cell is reported with its log; its dependant never ran"

# Ctrl-C in the submitter cancels every job it submitted.
"$cli" --plugin-path "$plugins" run "$S/p.toml" --set 'pipeline.output_dir="'"$S"'/cancelled"' \
  --set 'nodes.sum.sleep_ms=30000' \
  --executor slurm > "$S/cancelled.log" 2>&1 &
run_pid=$!
for _ in $(seq 1 200); do
  [ "$(squeue -h -t RUNNING -n slimpipe-sum -o %i)" != "" ] && break
  sleep 0.1
done
kill -INT $run_pid
wait $run_pid
rc=$?
[ $rc = 130 ] || fail "an interrupted Slurm run gave exit status $rc: $(cat "$S/cancelled.log")"
grep -q "slimpipe: scancel [0-9]" "$S/cancelled.log" || fail "no scancel: $(cat "$S/cancelled.log")"
for _ in $(seq 1 100); do
  [ -z "$(squeue -h -o %i)" ] && break
  sleep 0.1
done
[ -z "$(squeue -h -o %i)" ] || fail "jobs left after Ctrl-C: $(squeue -h -o '%i %T %r')"
echo "slurm_executor_test: Ctrl-C cancelled the submitted jobs"
