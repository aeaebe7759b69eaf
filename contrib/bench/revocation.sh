#!/bin/sh
# revocation.sh - revoke $R grants one after the other and print the time
# from each request to this node's policy model denying the grant (grants.c
# logs it), as p50/p99/max.
#   BENCH_URL BENCH_TOKEN BENCH_DIR   from env.sh
set -eu
R=${R:-200}
before=$(grep -c "policy model .* denies it" "$BENCH_DIR/vssgated.log" || true)
i=0
while [ "$i" -lt "$R" ]; do
	id=$(curl -sf -H "Authorization: Bearer $BENCH_TOKEN" -H 'Content-Type: application/json' \
		-d '{"authority_id":1,"levels":["1V"],"scope":"cameras","camera_ids":[1],"duration_s":600,"reason":"r"}' \
		"$BENCH_URL/api/v1/grants" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["grant"]["id"])')
	curl -sf -H "Authorization: Bearer $BENCH_TOKEN" -H 'Content-Type: application/json' -d '{"reason":"bench"}' \
		"$BENCH_URL/api/v1/grants/$id/revoke" >/dev/null
	i=$((i + 1))
done
grep "policy model .* denies it" "$BENCH_DIR/vssgated.log" | tail -n +"$((before + 1))" |
	sed 's/.* denies it \([0-9.]*\) ms.*/\1/' | sort -n | awk '{ v[NR] = $1 } END {
		p50 = int(NR * 0.5); if (p50 < 1) p50 = 1
		p99 = int(NR * 0.99); if (p99 < 1) p99 = 1
		printf "revocation -> policy model (%d grants): p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
		    NR, v[p50], v[p99], v[NR] }'
