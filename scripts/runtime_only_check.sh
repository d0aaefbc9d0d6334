#!/usr/bin/env bash
# The runtime without LibTorch: configures the runtime-only build (-DSLIMPIPE_RUNTIME_ONLY=ON) in its own folder
# with Torch made unfindable, builds it, runs its tests, installs it and builds a program against the installed
# package with find_package(slimpipe_runtime). Fails when any compiled file included a LibTorch header (the
# compiler's dependency records) or when any built or installed binary or library has LibTorch in ldd.
# Usage: bash scripts/runtime_only_check.sh [BUILD_DIR]   (default: build-rt beside build/)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build-rt}"
export CCACHE_BASEDIR="$root"
werror=OFF
[ "${CI:-}" = "true" ] && werror=ON
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
torch_pattern='libtorch|libc10|libcaffe2'

step() { echo "runtime_only_check: $*"; }

step "configure $build (Torch disabled)"
# CMAKE_DISABLE_FIND_PACKAGE_Torch: a find_package(Torch) anywhere in this configuration would fail it.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLIMPIPE_RUNTIME_ONLY=ON \
  -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON -DSLIMPIPE_WERROR=$werror > "$work/configure.log" \
  || { cat "$work/configure.log"; exit 1; }
if grep -iE 'torch' "$build/CMakeCache.txt" | grep -vE '^//|CMAKE_DISABLE_FIND_PACKAGE_Torch' | grep -q .; then
  step "$build/CMakeCache.txt mentions Torch:"; grep -i torch "$build/CMakeCache.txt"; exit 1
fi

step "build"
cmake --build "$build" -j "$(nproc)"

step "no compiled file included a LibTorch header"
if ninja -C "$build" -t deps | grep -E '/(torch|ATen|c10|caffe2)/' > "$work/torch_headers.txt"; then
  head -5 "$work/torch_headers.txt"; exit 1
fi

step "tests"
(cd "$build" && ctest --output-on-failure -j "$(nproc)")

step "install and build against find_package(slimpipe_runtime)"
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
mkdir -p "$work/app"
cat > "$work/app/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.22)
project(runtime_app LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 17)
find_package(slimpipe_runtime REQUIRED)
add_executable(classify "$root/runtime/examples/classify.cpp")
target_link_libraries(classify PRIVATE slimpipe_runtime::runtime)
EOF
cmake -S "$work/app" -B "$work/app/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  --no-warn-unused-cli -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON > "$work/app.log" || { cat "$work/app.log"; exit 1; }
cmake --build "$work/app/build" > "$work/app_build.log" || { cat "$work/app_build.log"; exit 1; }

step "a C program against the installed slimpipe_runtime.h and libslimpipe_runtime_c.so"
cc -std=c11 -Wall -Werror "$root/tests/deploy/c_api_test.c" -I"$work/prefix/include" -L"$work/prefix/lib" \
  -Wl,-rpath,"$work/prefix/lib" -lslimpipe_runtime_c -lpthread -lm -o "$work/app/c_api_test"
"$build/bin/make_test_package" --all "$work/pkg" > /dev/null
"$work/app/c_api_test" "$work/pkg"

step "ldd: no LibTorch in any binary or library"
found=0
checked=0
while IFS= read -r -d '' f; do
  # ELF by its magic number (`file` is not part of a minimal Debian).
  [ "$(head -c 4 "$f" | tail -c 3)" = "ELF" ] || continue
  checked=$((checked + 1))
  deps="$(LD_LIBRARY_PATH="$work/prefix/lib:$build/lib" ldd "$f" 2>&1 || true)"
  if grep -qE "$torch_pattern" <<< "$deps"; then
    echo "$f:"; grep -E "$torch_pattern" <<< "$deps"; found=1
  fi
  if grep -q 'not found' <<< "$deps"; then
    echo "$f: unresolved libraries:"; grep 'not found' <<< "$deps"; found=1
  fi
done < <(find "$build/bin" "$build/lib" "$work/prefix" "$work/app/build/classify" "$work/app/c_api_test" -type f -print0)
[ "$found" = 0 ] || exit 1
[ "$checked" -gt 0 ] || { step "no binary found to check"; exit 1; }
step "ok: $checked binaries and libraries without LibTorch"
