#!/usr/bin/env bash
# Builds slimpipe with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/ (-DSLIMPIPE_SANITIZE=ON) and
# runs the suites that exercise the parsers and the host: test_core, test_sdk_data, test_sdk_text, test_sdk_nn
# (checkpoint / safetensors / config.json) and test_runtime, plus the CLI and plugins they run. Any ASan report,
# leak or UB fails the run (UB aborts: -fno-sanitize-recover). See docs/testing.md.
# Usage: bash scripts/sanitize.sh [extra ctest arguments]     (CXX=clang++ for a clang build; a build folder keeps
# the compiler it was configured with)
# Environment: JOBS (build and test parallelism, default nproc), SANITIZE_BUILD_DIR (default build-asan).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SANITIZE_BUILD_DIR:-$root/build-asan}"
jobs="${JOBS:-$(nproc)}"
export CCACHE_BASEDIR="$root"
start=$(date +%s)

programs=(test_core test_sdk_data test_sdk_text test_sdk_nn test_runtime)
# -O1: the usual sanitizer optimization level (readable stacks, a fraction of -O0's slowdown), with line tables
# only (-g1 / -gline-tables-only: line numbers in reports at a fraction of -g's compile time). With clang these are
# scripts/fuzz.sh's flags, so SANITIZE_BUILD_DIR=build-fuzz CXX=clang++ reuses the fuzz build's objects (the
# libraries there also carry libFuzzer's coverage instrumentation, which changes nothing for the tests).
# The compiler is named only to a new build folder (naming another one to an existing folder makes CMake start over).
compiler="${CXX:-c++}"
compiler_arg=(-DCMAKE_CXX_COMPILER="$compiler")
if [ -f "$build/CMakeCache.txt" ]; then
  compiler=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
  compiler_arg=()
fi
debug=-g1
case "$compiler" in *clang*) debug=-gline-tables-only ;; esac
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 $debug -DNDEBUG" \
  -DSLIMPIPE_SANITIZE=ON -DSLIMPIPE_BUILD_BENCH=OFF "${compiler_arg[@]}"
# The test programs depend on the CLI, the in-tree plugins and the test plugins.
cmake --build "$build" -j "$jobs" --target "${programs[@]}"
built=$(date +%s)

supp="$root/tests/sanitizers"
# halt_on_error: the first report ends the process, so no test passes over one. detect_leaks: LeakSanitizer at
# exit; LibTorch's, OpenMP's, oneDNN's and protobuf's own allocations kept until exit are suppressed by library
# (lsan.supp), not by turning leak checks off. ODR checks stay on (they see only instrumented globals).
# The runtime's allocation-count test (RuntimeMemory.*) replaces malloc, which ASan owns: under ASan that test skips
# and its allocator is compiled out (tests/runtime/runtime_test.cpp).
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=0:strict_string_checks=1:check_initialization_order=1:detect_odr_violation=2:allocator_may_return_null=0:symbolize=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"

cd "$build"
# Only the programs built above: every other test program has a placeholder test <program>_NOT_BUILT. The two
# non-GoogleTest checks need targets not built here (the installed SDK, the runtime example).
set +e
ctest --output-on-failure -j "$jobs" -LE 'bench|realdata' \
  -E '(_NOT_BUILT$|^SdkExample\.|^Runtime\.ExampleLinksWithoutLibTorch$)' "$@" 2>&1 | tee "$build/sanitize.log"
rc=${PIPESTATUS[0]}
set -e
end=$(date +%s)
echo "sanitize: build $((built - start)) s, tests $((end - built)) s, total $((end - start)) s; ctest exit status $rc"
exit "$rc"
