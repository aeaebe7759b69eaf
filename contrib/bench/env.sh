#!/bin/sh
# env.sh - start a throwaway PostgreSQL and vssgated for the API benchmarks,
# with an admin, an authority and $CAMERAS cameras. Sourced by run-all.sh;
# defines BENCH_URL, BENCH_TOKEN, BENCH_DIR and bench_cleanup.
#
#   VSSGATED   the daemon to measure (default: ./_build/vssgated)
#   CAMERAS    cameras to create (default 100)
set -eu
top=$(cd "${BENCH_HERE:-$(dirname "$0")}/../.." && pwd)
VSSGATED=${VSSGATED:-$top/_build/vssgated}
CAMERAS=${CAMERAS:-100}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | tail -1)
BENCH_DIR=$(mktemp -d /tmp/vssgate-bench.XXXXXX)
chmod 755 "$BENCH_DIR"
as=""
if [ "$(id -u)" = 0 ]; then as="runuser -u postgres --"; chown postgres "$BENCH_DIR"; fi
BENCH_PID=""

# Set first, so that a failure anywhere below still stops what was started.
bench_cleanup() {
	[ -n "$BENCH_PID" ] && kill -TERM "$BENCH_PID" 2>/dev/null && wait "$BENCH_PID" 2>/dev/null || true
	[ -f "$BENCH_DIR/pg/postmaster.pid" ] &&
		(cd / && $as "$PGBIN/pg_ctl" -D "$BENCH_DIR/pg" -m immediate -w stop >/dev/null) || true
	rm -rf "$BENCH_DIR"
}
trap bench_cleanup EXIT INT TERM
(cd / && $as "$PGBIN/initdb" -D "$BENCH_DIR/pg" -U bench --auth=trust --no-sync -E UTF8 --locale=C >/dev/null)
(cd / && $as "$PGBIN/pg_ctl" -D "$BENCH_DIR/pg" -l "$BENCH_DIR/pg.log" -w -o "-k $BENCH_DIR -c listen_addresses='' \
	-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50" start >/dev/null)
(cd / && $as "$PGBIN/createdb" -h "$BENCH_DIR" -U bench bench)
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
openssl rand -hex 32 > "$BENCH_DIR/key"
mkdir -p "$BENCH_DIR/state"
cat > "$BENCH_DIR/vssgate.conf" <<CONF
[daemon]
state_dir = $BENCH_DIR/state
log_level = info
[database]
conninfo = "host=$BENCH_DIR dbname=bench user=bench"
[listen]
rtsp = ""
http = 127.0.0.1:$port
[security]
secret_key_file = $BENCH_DIR/key
[api]
login_attempts_per_minute = 1000
CONF
echo "bench password 0123" | "$VSSGATED" -c "$BENCH_DIR/vssgate.conf" --add-admin bench >/dev/null 2>&1
"$VSSGATED" -c "$BENCH_DIR/vssgate.conf" > "$BENCH_DIR/vssgated.log" 2>&1 &
BENCH_PID=$!
BENCH_URL=http://127.0.0.1:$port
for i in $(seq 1 100); do curl -sf "$BENCH_URL/healthz" >/dev/null && break; sleep 0.1; done


BENCH_TOKEN=$(curl -sf -H 'Content-Type: application/json' -d '{"username":"bench","password":"bench password 0123"}' \
	"$BENCH_URL/api/v1/auth/login" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
api() {	# api METHOD PATH [JSON]
	curl -sf -X "$1" -H "Authorization: Bearer $BENCH_TOKEN" -H 'Content-Type: application/json' \
		${3:+--data-binary "$3"} "$BENCH_URL$2"
}
api POST /api/v1/authorities '{"name":"Police"}' >/dev/null
i=1
while [ "$i" -le "$CAMERAS" ]; do
	api POST /api/v1/cameras "{\"name\":\"cam-$i\",\"source_uri\":\"rtsp://10.0.$((i / 250)).$((i % 250))/s\",\
\"latitude\":48.8$i,\"longitude\":2.3$i,\"heading_deg\":90}" >/dev/null
	i=$((i + 1))
done
export BENCH_URL BENCH_TOKEN BENCH_DIR
