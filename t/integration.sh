#!/bin/sh
# Runs the integration tests (pytest, Debian's /usr/bin/python3) against the
# freshly built vssgated. Called by `make check`; also runnable by hand:
#   VSSGATED=./vssgated sh t/integration.sh -k foundation
set -eu
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${PYTHON3:=/usr/bin/python3}"
export top_srcdir
cd "$top_srcdir/t/integration"
[ $# -gt 0 ] || set -- .
# A private base directory: pytest prunes old ones, and other runs may be going on.
base=$(mktemp -d /tmp/vssgate-it.XXXXXX)
trap 'rm -rf "$base"' EXIT
"$PYTHON3" -m pytest -p no:cacheprovider -q -ra --basetemp="$base/t" ${PYTEST_ARGS:-} "$@"
