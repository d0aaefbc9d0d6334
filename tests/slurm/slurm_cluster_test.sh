#!/usr/bin/env bash
# The test cluster (tests/slurm/slurm_cluster.sh) really schedules: a job, a job array whose cells run, and a job
# that waits for the array with --dependency=afterok; then scancel of a pending job. Stops the daemons whatever
# happens.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
S=$(mktemp -d -t slimpipe-slurm-XXXXXX)  # under $TMPDIR, else /tmp
trap 'bash "$here/slurm_cluster.sh" stop "$S"; rm -rf "$S"' EXIT
fail() { echo "slurm_cluster_test: FAIL: $*"; tail -n 20 "$S/log/"*.log 2> /dev/null; exit 1; }

start=$SECONDS
line=$(bash "$here/slurm_cluster.sh" start "$S") || fail "the cluster did not start"
export "${line?}"
echo "slurm_cluster_test: cluster up in $((SECONDS - start)) s ($(sinfo -h -o '%N %c CPUs %T'))"

mkdir -p "$S/out"
one=$(sbatch --parsable -o "$S/out/one.log" --wrap "echo one > $S/out/one") || fail "sbatch refused a job"
arr=$(sbatch --parsable --array=0-2 -o "$S/out/cell_%a.log" --wrap "echo \$SLURM_ARRAY_TASK_ID > $S/out/cell_\$SLURM_ARRAY_TASK_ID") ||
  fail "sbatch refused an array"
after=$(sbatch --parsable --dependency=afterok:"$arr" -o "$S/out/after.log" \
  --wrap "cat $S/out/cell_0 $S/out/cell_1 $S/out/cell_2 > $S/out/after") || fail "sbatch refused a dependency"
held=$(sbatch --parsable --hold -o "$S/out/held.log" --wrap "touch $S/out/held") || fail "sbatch refused a held job"
scancel "$held" || fail "scancel $held"

for _ in $(seq 1 600); do
  [ -z "$(squeue -h -o %i)" ] && break
  sleep 0.1
done
[ -z "$(squeue -h -o %i)" ] || fail "jobs still queued after 60 s: $(squeue -h -o '%i %T %r')"
[ "$(cat "$S/out/one" 2> /dev/null)" = one ] || fail "job $one did not run"
for i in 0 1 2; do [ "$(cat "$S/out/cell_$i" 2> /dev/null)" = "$i" ] || fail "array cell $i of $arr did not run"; done
[ "$(tr '\n' ' ' < "$S/out/after" 2> /dev/null)" = "0 1 2 " ] || fail "job $after did not run after the whole array"
[ ! -e "$S/out/held" ] || fail "the cancelled job $held ran"
echo "slurm_cluster_test: job $one, array $arr (3 cells), dependent job $after ran; cancelled job $held did not;" \
  "$((SECONDS - start)) s in all"
