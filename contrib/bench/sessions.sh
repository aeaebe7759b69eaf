#!/bin/sh
# sessions.sh - the session registry at scale: N readers (default 6400) of
# one small always-on stream (rtsp_load, RTSP/TCP), and how closely the
# sessions table follows the gateway's live sessions. Prints:
#   - the most rows the table differed from the gateway, and how long the
#     table took to show a count of live sessions (max and p99 over the
#     samples, every 100 ms, of the time until the table had caught up);
#   - the database transactions committed during the run (per session:
#     batching shows here);
#   - after the readers leave, a SIGTERM RESTART_AFTER s later (2 s): the
#     rows still open once the process is gone, the "failed" log lines,
#     and the rows the next start closes.
#
#   sh contrib/bench/sessions.sh
#   READERS=3200 DURATION=20 sh contrib/bench/sessions.sh
#   VSSGATED=... LOAD=... to pick builds (default: _build/release)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
VSSGATED=${VSSGATED:-$top/_build/release/vssgated}
LOAD=${LOAD:-$top/_build/release/contrib/bench/rtsp_load}
READERS=${READERS:-6400}
DURATION=${DURATION:-30}
RAMP_MS=${RAMP_MS:-2}
RESTART_AFTER=${RESTART_AFTER:-2}
SIZE=${SIZE:-160x120}; FPS=${FPS:-5}; KBPS=${KBPS:-40}
CLIP=${CLIP:-/tmp/vssgate-bench-$SIZE-${FPS}fps-${KBPS}k.ts}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | tail -1)

[ -x "$LOAD" ] || (cd "$(dirname "$LOAD")/../.." && make -s bench-tools)
# By default a tiny stream (160x120, 5 frames a second, 40 kbit/s): the registry is measured,
# not the relay. SIZE=320x240 FPS=25 KBPS=300 keeps the gateway's core busy with the relay,
# as a real stream does: the registry then competes with it for the loop.
[ -f "$CLIP" ] || ffmpeg -v error -f lavfi -i testsrc2=size=$SIZE:rate=$FPS -t 60 -c:v libx264 -preset veryfast \
	-b:v ${KBPS}k -maxrate ${KBPS}k -bufsize ${KBPS}k -g $((2 * FPS)) -pix_fmt yuv420p -bsf:v h264_mp4toannexb \
	-f mpegts "$CLIP"

dir=$(mktemp -d /tmp/vssgate-sessions-bench.XXXXXX)
chmod 755 "$dir"
as=""
if [ "$(id -u)" = 0 ]; then as="runuser -u postgres --"; chown postgres "$dir"; fi
gwpid=""
cleanup() {
	[ -n "$gwpid" ] && kill -TERM "$gwpid" 2>/dev/null && wait "$gwpid" 2>/dev/null || true
	[ -f "$dir/pg/postmaster.pid" ] && (cd / && $as "$PGBIN/pg_ctl" -D "$dir/pg" -m immediate -w stop >/dev/null) || true
	[ -n "${KEEP_PGLOG:-}" ] && cp "$dir/pg.log" "$KEEP_PGLOG"
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

(cd / && $as "$PGBIN/initdb" -D "$dir/pg" -U bench --auth=trust --no-sync -E UTF8 --locale=C >/dev/null)
(cd / && $as "$PGBIN/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w -o "-k $dir -c listen_addresses='' -c fsync=off \
	-c synchronous_commit=off ${PGOPTS:-}" start >/dev/null)
(cd / && $as "$PGBIN/createdb" -h "$dir" -U bench bench)
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
http=$(free_port); rtsp=$(free_port)
openssl rand -hex 32 > "$dir/key"
mkdir -p "$dir/state"
pending=""
"$VSSGATED" --print-defaults | grep -q max_pending_connections_per_address &&
	pending="max_pending_connections_per_address = 20000"
cat > "$dir/vssgate.conf" <<CONF
[daemon]
state_dir = $dir/state
log_level = info
node_name = bench
[database]
conninfo = "host=$dir dbname=bench user=bench"
[listen]
rtsp = 127.0.0.1:$rtsp
http = 127.0.0.1:$http
[rtsp]
udp_port = 0
max_sessions_per_principal = 100000
[limits]
max_connections = 100000
max_connections_per_address = 100000
$pending
[security]
secret_key_file = $dir/key
CONF
ulimit -n 65536 2>/dev/null || true
echo "bench password 0123" | "$VSSGATED" -c "$dir/vssgate.conf" --add-admin bench >"$dir/add-admin.log" 2>&1 ||
	{ cat "$dir/add-admin.log"; exit 1; }
start_gateway() {
	taskset -c 0 "$VSSGATED" -c "$dir/vssgate.conf" >> "$dir/vssgated.log" 2>&1 &
	gwpid=$!
	for i in $(seq 1 100); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && break; sleep 0.1; done
}
start_gateway

token=$(curl -sf -H 'Content-Type: application/json' -d '{"username":"bench","password":"bench password 0123"}' \
	"http://127.0.0.1:$http/api/v1/auth/login" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
api() { curl -sf -X "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' --data-binary "$3" \
	"http://127.0.0.1:$http$2"; }
json() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
cam=$(psql -qAt -h "$dir" -U bench bench -c "INSERT INTO cameras (name, source_uri, adapter, always_on)
	VALUES ('tiny', 'file:$CLIP', 'ffmpeg', true) RETURNING id")
auth=$(api POST /api/v1/authorities '{"name":"bench"}' | json 'd["id"]')
grant=$(api POST /api/v1/grants "{\"authority_id\":$auth,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[$cam],\"duration_s\":7200,\"reason\":\"benchmark\"}")
user=$(echo "$grant" | json 'd["credentials"]["username"]')
pass=$(echo "$grant" | json 'd["credentials"]["password"]')
sleep 3	# the source starts

echo "vssgated $("$VSSGATED" --version | cut -d' ' -f2), $(nproc) cores, $READERS readers of one $SIZE ${FPS} fps ${KBPS} kbit/s stream over RTSP/TCP, ramp ${RAMP_MS} ms, ${DURATION} s"
# The sampler: every 100 ms the gateway's live sessions (/metrics) and the table's open rows.
/usr/bin/python3 - "$http" "$token" "$dir" > "$dir/samples" <<'PY' &
import subprocess, sys, time, urllib.request
port, token, pgdir = sys.argv[1], sys.argv[2], sys.argv[3]
psql = subprocess.Popen(["psql", "-qAt", "-h", pgdir, "-U", "bench", "bench"], stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, text=True, bufsize=1)
t_end = None
while True:
    t = time.monotonic()
    # The table first, then the gateway: a sample errs against the table, never for it.
    psql.stdin.write("SELECT count(*) FROM sessions WHERE ended_at IS NULL;\n")
    rows = int(psql.stdout.readline())
    try:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": "Bearer " + token})
        body = urllib.request.urlopen(req, timeout=2).read().decode()
        live = int(float([l for l in body.splitlines() if l.startswith("vssgate_sessions ")][0].split()[1]))
    except Exception:
        break
    print(f"{t:.3f} {live} {rows}", flush=True)
    time.sleep(max(0, 0.1 - (time.monotonic() - t)))
PY
sampler=$!
xacts() { psql -qAt -h "$dir" -U bench bench -c "SELECT xact_commit FROM pg_stat_database WHERE datname = 'bench'"; }
x0=$(xacts)
taskset -c 1 "$LOAD" -u "rtsp://127.0.0.1:$rtsp/cameras/$cam" -U "$user" -P "$pass" -n "$READERS" -d "$DURATION" \
	-r "$RAMP_MS" -p "$gwpid" > "$dir/load" 2>&1 || true
grep -E '^(readers|playing_at_end|gateway_cpu_percent):' "$dir/load" | tr '\n' ' '; echo
sleep "$RESTART_AFTER"
x1=$(xacts)
kill -TERM "$gwpid"; wait "$gwpid" 2>/dev/null || true; gwpid=""
wait "$sampler" 2>/dev/null || true
[ -n "${KEEP_SAMPLES:-}" ] && cp "$dir/samples" "$KEEP_SAMPLES"
/usr/bin/python3 - "$dir/samples" <<'PY'
import sys
s = [tuple(float(x) for x in line.split()) for line in open(sys.argv[1]) if len(line.split()) == 3]
behind = max((abs(live - rows) for _, live, rows in s), default=0)
lags = []
for i, (t, live, rows) in enumerate(s):
    # How long until the table showed the sessions live now: at least as many while
    # readers come, at most as many while they go.
    rising = i == 0 or live >= s[i - 1][1]
    for t2, _, rows2 in s[i:]:
        if (rows2 >= live if rising else rows2 <= live):
            lags.append(t2 - t)
            break
lags.sort()
p99 = lags[int(0.99 * (len(lags) - 1))] if lags else 0
print(f"registry: {len(s)} samples, peak {int(max((l for _, l, _ in s), default=0))} live sessions, "
      f"table at most {int(behind)} rows off, lag max {max(lags, default=0):.2f} s, p99 {p99:.2f} s")
PY
left=$(psql -qAt -h "$dir" -U bench bench -c "SELECT count(*) FROM sessions WHERE ended_at IS NULL")
total=$(psql -qAt -h "$dir" -U bench bench -c "SELECT count(*) FROM sessions")
failed=$(grep -c 'sessions table failed\|session rows failed\|refused .* session rows' "$dir/vssgated.log" || true)
ends=$(psql -qAt -h "$dir" -U bench bench -c "SELECT count(*) FROM audit_log WHERE action = 'session.end'")
echo "database transactions during the run: $((x1 - x0)) (samplers' included: about 10 a second)"
echo "SIGTERM ${RESTART_AFTER} s after the readers left: $total session rows, $left still open after exit, $ends session.end audit rows, $failed failed-write log lines"
start_gateway
sleep 1
closed=$(grep -o 'closed [0-9]* session rows left open' "$dir/vssgated.log" | tail -1 || true)
echo "next start: ${closed:-closed no rows}; open now: $(psql -qAt -h "$dir" -U bench bench -c "SELECT count(*) FROM sessions WHERE ended_at IS NULL")"
