#!/bin/sh
# wrk-cameras.sh - GET /api/v1/cameras over HTTP/1.1 with keep-alive.
#   BENCH_URL BENCH_TOKEN   from env.sh;  C connections, D duration
set -eu
C=${C:-20}; D=${D:-10s}
for limit in ${LIMITS:-10 100}; do
	printf 'wrk GET /api/v1/cameras?limit=%s (HTTP/1.1, %s connections, %s): ' "$limit" "$C" "$D"
	wrk -t2 -c"$C" -d"$D" -H "Authorization: Bearer $BENCH_TOKEN" "$BENCH_URL/api/v1/cameras?limit=$limit" |
		awk '/^Requests\/sec/ { r = $2 } /Non-2xx/ { bad = $NF } END { printf "%s req/s, %s non-2xx\n", r, bad ? bad : 0 }'
done
