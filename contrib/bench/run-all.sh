#!/bin/sh
# run-all.sh - the REST API benchmarks on this machine: starts a throwaway
# PostgreSQL and vssgated (env.sh), then prints one line per measurement.
# Not a test: the numbers depend on the machine and on what else runs.
#
#   sh contrib/bench/run-all.sh            # VSSGATED=... to pick a binary
set -eu
here=$(cd "$(dirname "$0")" && pwd)
command -v h2load >/dev/null && command -v wrk >/dev/null || { echo "install nghttp2-client and wrk"; exit 1; }
BENCH_HERE=$here
. "$here/env.sh"
echo "vssgated $("$VSSGATED" --version | cut -d' ' -f2), $(nproc) cores, $CAMERAS cameras"
sh "$here/h2load-cameras.sh"
sh "$here/wrk-cameras.sh"
sh "$here/h2load-grants.sh"
sh "$here/revocation.sh"
