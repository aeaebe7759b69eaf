#!/bin/sh
# test-all.sh - install, build and run every test of vssgate on Debian 12.
#
#   1. install the packages (contrib/install-deps.sh)
#   2. build with -Werror and run `make check` (unit + integration tests)
#   3. build with ASan + UBSan (clang) and run `make check` again
#   4. run each fuzz target for a short while
#   5. `make distcheck`
#
# Build trees go to ./_build/{release,asan,fuzz}; the source tree stays clean.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)

sh contrib/install-deps.sh
autoreconf -fi >/dev/null

build() {	# build DIR CONFIGURE-ARGS...
	dir=$1; shift
	mkdir -p "$dir"
	(cd "$dir" && "$top/configure" -q "$@" && make -j"$jobs" >/dev/null)
}

step() { printf '\n==> %s\n' "$*"; }

step "release build with -Werror, make check"
build _build/release --enable-werror
(cd _build/release && make -j"$jobs" check) || { cat _build/release/test-suite.log; exit 1; }

step "ASan + UBSan build, make check"
build _build/asan --enable-werror --enable-asan CC=clang
(cd _build/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	make -j"$jobs" check) || { cat _build/asan/test-suite.log; exit 1; }

step "fuzz targets, a short run each"
build _build/fuzz --enable-fuzzing CC=clang
(cd _build/fuzz && make -j"$jobs" fuzz-smoke FUZZ_TIME=10)

step "make distcheck"
(cd _build/release && make -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS="--enable-werror --disable-integration-tests" >/dev/null) \
	|| { echo "distcheck failed"; exit 1; }

printf '\nAll tests passed.\n'
