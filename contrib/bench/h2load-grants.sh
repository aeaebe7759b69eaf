#!/bin/sh
# h2load-grants.sh - POST /api/v1/grants over HTTP/2: one SQL statement per
# grant (grant + credential + audit row), no KDF; each answer carries the
# credentials. Starts from the grants already there.
#   BENCH_URL BENCH_TOKEN   from env.sh;  N grants, C clients, M streams each
set -eu
N=${N:-10000}; C=${C:-10}; M=${M:-10}
body=$(mktemp)
echo '{"authority_id":1,"levels":["1V"],"scope":"cameras","camera_ids":[1,2,3],"duration_s":7200,"reason":"benchmark"}' > "$body"
printf 'h2load POST /api/v1/grants (%s grants, %s clients x %s streams): ' "$N" "$C" "$M"
h2load -n "$N" -c "$C" -m "$M" -d "$body" -H 'content-type: application/json' -H "authorization: Bearer $BENCH_TOKEN" \
	"$BENCH_URL/api/v1/grants" | awk '/^finished in/ { printf "%s req/s, ", $4 } /^status codes/ { print $3 " 2xx" }'
rm -f "$body"
