#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang into build-fuzz/ (-DSLIMPIPE_FUZZ=ON: the code under test
# with -fsanitize=fuzzer-no-link,address,undefined, the targets with -fsanitize=fuzzer) and runs each for a while.
# Usage: bash scripts/fuzz.sh [seconds-per-target (default 60)] [target...]   (default: every target)
# Environment: FUZZ_PARALLEL (targets run at once, default 1), FUZZ_JOBS (build parallelism, default nproc),
#   FUZZ_BUILD_DIR (default build-fuzz), FUZZ_NO_BUILD=1 (run what is built).
# Per target it prints the executions, the final coverage (cov: / ft: of libFuzzer's last status line) and the
# crashes found. A target stops at its first crash (libFuzzer's default); the input is kept as
# build-fuzz/fuzz/artifacts/<target>/{crash,leak,timeout,oom}-<sha1>, the log as build-fuzz/fuzz/<target>.log.
# Reproduce: build-fuzz/bin/<target> <artifact>. The corpus grown by a run stays in build-fuzz/fuzz/corpus/<target>
# and is used again by the next run; the committed seeds are tests/fuzz/corpus/<target> (tests/fuzz/make_seeds.py).
# Exit status: 1 when any target crashed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${1:-60}"
shift || true
all=(fuzz_pipeline fuzz_safetensors fuzz_pytorch_bin fuzz_config_json fuzz_data_readers fuzz_vocab fuzz_runtime_model)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
parallel="${FUZZ_PARALLEL:-1}"
export CCACHE_BASEDIR="$root"

# Debian's clang 14 with its sanitizer and libFuzzer runtimes, and LLVM's OpenMP for the runtime library.
need=()
command -v clang++ >/dev/null 2>&1 || need+=(clang)
compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null || need+=(libclang-rt-14-dev)
compgen -G "/usr/lib/llvm-*/lib/libomp.so" >/dev/null || need+=(libomp-14-dev)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "fuzz: installing ${need[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi

if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
  # -O1 and line tables: readable stacks at a small cost in speed. Bench off; the test plugins are built because
  # fuzz_pipeline checks pipelines against their schemas too.
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" \
    -DSLIMPIPE_FUZZ=ON -DSLIMPIPE_BUILD_BENCH=OFF >/dev/null
  cmake --build "$build" -j "${FUZZ_JOBS:-$(nproc)}" --target "${targets[@]}"
fi

supp="$root/tests/sanitizers"
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:allocator_may_return_null=0:symbolize=1:detect_odr_violation=2"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"

out="$build/fuzz"
mkdir -p "$out"
run_one() {
  local t="$1"
  local corpus="$out/corpus/$t" artifacts="$out/artifacts/$t" log="$out/$t.log"
  mkdir -p "$corpus" "$artifacts"
  local before
  before=$(ls "$artifacts" | wc -l)
  local start=$(date +%s)
  # fuzz_pytorch_bin: LibTorch's zip reader leaks miniz's state when a damaged archive makes its constructor throw
  # (lsan.supp: mz_zip_reader_init). Suppressions match function names, which only the slow unwinder finds inside
  # LibTorch (built without frame pointers); it costs a factor 4 elsewhere, so only this target uses it.
  local asan="$ASAN_OPTIONS"
  [ "$t" = fuzz_pytorch_bin ] && asan="$asan:fast_unwind_on_malloc=0"
  set +e
  ASAN_OPTIONS="$asan" "$build/bin/$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1
  local rc=$?
  set -e
  local took=$(( $(date +%s) - start ))
  local execs cov ft crashes
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  cov=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 | sed -E 's/.*cov: ([0-9]+).*/\1/')
  ft=$(grep -E '^#[0-9]+.*ft: ' "$log" | tail -1 | sed -E 's/.*ft: ([0-9]+).*/\1/')
  crashes=$(( $(ls "$artifacts" | wc -l) - before ))
  printf '%-20s %6ss  executions %-10s cov %-6s ft %-7s crashes %s%s\n' "$t" "$took" "${execs:-?}" "${cov:-?}" \
    "${ft:-?}" "$crashes" "$( [ "$rc" -ne 0 ] && echo "  (exit $rc; $(ls -t "$artifacts" | head -1); log $log)")"
  [ "$rc" -eq 0 ]
}

status=0
running=0
for t in "${targets[@]}"; do
  if [ "$parallel" -le 1 ]; then
    run_one "$t" || status=1
  else
    # A slot frees as soon as any target finishes (wait -n), not only the oldest.
    if [ "$running" -ge "$parallel" ]; then
      wait -n || status=1
      running=$((running - 1))
    fi
    run_one "$t" &
    running=$((running + 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || status=1
  running=$((running - 1))
done
exit "$status"
