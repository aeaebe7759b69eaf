#!/bin/sh
# Runs the integration tests (pytest, Debian's /usr/bin/python3) against the
# freshly built vssgated. Called by `make check`; also runnable by hand:
#   VSSGATED=./vssgated sh t/integration.sh -k foundation
set -eu
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${PYTHON3:=/usr/bin/python3}"
export top_srcdir
cd "$top_srcdir/t/integration"
# A base directory of our own: pytest's default one is shared by every run of the same user and
# prunes older runs' directories, which pulls the files from under a concurrent run.
base=$(mktemp -d "${TMPDIR:-/tmp}/vssgate-pytest.XXXXXX")
exec "$PYTHON3" -m pytest -p no:cacheprovider --basetemp="$base" -q -ra ${PYTEST_ARGS:-} "$@" .
