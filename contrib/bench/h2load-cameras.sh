#!/bin/sh
# h2load-cameras.sh - GET /api/v1/cameras over HTTP/2 with prior knowledge
# (h2c): the API's hot path (served from the in-memory model, no query).
#   BENCH_URL BENCH_TOKEN   from env.sh;  N requests, C clients, M streams each
set -eu
N=${N:-100000}; C=${C:-10}; M=${M:-10}
for limit in ${LIMITS:-10 100}; do
	printf 'h2load GET /api/v1/cameras?limit=%s (h2c, %s clients x %s streams): ' "$limit" "$C" "$M"
	h2load -n "$N" -c "$C" -m "$M" -H "authorization: Bearer $BENCH_TOKEN" \
		"$BENCH_URL/api/v1/cameras?limit=$limit" | awk '/^finished in/ { printf "%s req/s, ", $4 } /^status codes/ { print $3 " 2xx" }'
done
