#!/bin/sh
# export-load.sh - what signed exports cost the live relay: N readers (800)
# of a 1080p25 4 Mbit/s camera over TCP, on one gateway process pinned to
# core 0 (the load client on core 1, as relay.sh), measured window by window
# in one session of the same readers: alone, while one batch of 20 exports
# asked for at once is written, alone, while batch after batch is written
# for 15 s, alone again. The camera is recorded all along (the exports are
# cut from it). Prints, per window: the gateway's CPU per reader (the whole
# process, and its I/O thread alone, which serves the readers), the export
# threads' CPU, and the exports written; per session: lost packets and the
# slowest reader's rate and lag.
#
#   sh contrib/bench/export-load.sh
#   READERS=800 BATCH=20 RANGE=20 ROUNDS=2 sh contrib/bench/export-load.sh
#   EXPORT_CORE=1 sh contrib/bench/export-load.sh     # the export threads on core 1 instead
#   VSSGATED=... LOAD=... to pick builds (default: _build/release)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
VSSGATED=${VSSGATED:-$top/_build/release/vssgated}
LOAD=${LOAD:-$top/_build/release/contrib/bench/rtsp_load}
READERS=${READERS:-800}
DURATION=${DURATION:-58}		# one readers' session: 8 s of ramp, then the windows (about 40 s)
BATCH=${BATCH:-20}
RANGE=${RANGE:-20}		# seconds of recording per export
RECORD=${RECORD:-45}		# seconds recorded before the first run
ROUNDS=${ROUNDS:-2}		# sessions
CLIP=${CLIP:-/tmp/vssgate-bench-1080p25-4M.ts}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | tail -1)

[ -x "$LOAD" ] || (cd "$(dirname "$LOAD")/../.." && make -s bench-tools)
if [ ! -f "$CLIP" ]; then
	echo "making $CLIP (60 s of 1080p25 H.264 at 4 Mbit/s)..."
	ffmpeg -v error -f lavfi -i testsrc2=size=1920x1080:rate=25 -t 60 -c:v libx264 -preset veryfast \
		-b:v 4M -maxrate 4M -bufsize 4M -g 50 -pix_fmt yuv420p -bsf:v h264_mp4toannexb -f mpegts "$CLIP"
fi

dir=$(mktemp -d /tmp/vssgate-export-bench.XXXXXX)
chmod 755 "$dir"
as=""
if [ "$(id -u)" = 0 ]; then as="runuser -u postgres --"; chown postgres "$dir"; fi
gwpid=""
cleanup() {
	[ -n "$gwpid" ] && kill -TERM "$gwpid" 2>/dev/null && wait "$gwpid" 2>/dev/null || true
	[ -f "$dir/pg/postmaster.pid" ] && (cd / && $as "$PGBIN/pg_ctl" -D "$dir/pg" -m immediate -w stop >/dev/null) || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

(cd / && $as "$PGBIN/initdb" -D "$dir/pg" -U bench --auth=trust --no-sync -E UTF8 --locale=C >/dev/null)
(cd / && $as "$PGBIN/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w -o "-k $dir -c listen_addresses='' -c fsync=off" start >/dev/null)
(cd / && $as "$PGBIN/createdb" -h "$dir" -U bench bench)
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
http=$(free_port); rtsp=$(free_port)
openssl rand -hex 32 > "$dir/key"
openssl req -x509 -newkey rsa:3072 -nodes -days 30 -subj "/CN=bench exports" -keyout "$dir/export.key" \
	-out "$dir/export.crt" 2>/dev/null
mkdir -p "$dir/state"
cat > "$dir/vssgate.conf" <<CONF
[daemon]
state_dir = $dir/state
log_level = warning
[database]
conninfo = "host=$dir dbname=bench user=bench"
[listen]
rtsp = 127.0.0.1:$rtsp
http = 127.0.0.1:$http
[rtsp]
udp_port = 0
max_sessions_per_principal = 5000
[limits]
max_connections_per_address = 10000
[security]
secret_key_file = $dir/key
[recorder]
dir = $dir/recordings
segment_duration = 10s
[export]
dir = $dir/exports
sign_key_file = $dir/export.key
sign_cert_file = $dir/export.crt
queue_max = 1000
CONF
ulimit -n 65536 2>/dev/null || true
echo "bench password 0123" | "$VSSGATED" -c "$dir/vssgate.conf" --add-admin bench >"$dir/add-admin.log" 2>&1 || { cat "$dir/add-admin.log"; exit 1; }
taskset -c 0 "$VSSGATED" -c "$dir/vssgate.conf" >> "$dir/vssgated.log" 2>&1 &
gwpid=$!
for i in $(seq 1 100); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && break; sleep 0.1; done

token=$(curl -sf -H 'Content-Type: application/json' -d '{"username":"bench","password":"bench password 0123"}' \
	"http://127.0.0.1:$http/api/v1/auth/login" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
api() { curl -sf -X "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' --data-binary "$3" \
	"http://127.0.0.1:$http$2"; }
json() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
cam=$(psql -qAt -h "$dir" -U bench bench -c "INSERT INTO cameras (name, source_uri, adapter, always_on, record)
	VALUES ('bench', 'file:$CLIP', 'ffmpeg', true, true) RETURNING id")
auth=$(api POST /api/v1/authorities '{"name":"bench"}' | json 'd["id"]')
grant=$(api POST /api/v1/grants "{\"authority_id\":$auth,\"levels\":[\"1V\",\"0V\"],\"scope\":\"cameras\",\"camera_ids\":[$cam],\"duration_s\":7200,\"reason\":\"benchmark\"}")
gid=$(echo "$grant" | json 'd["grant"]["id"]')
user=$(echo "$grant" | json 'd["credentials"]["username"]')
pass=$(echo "$grant" | json 'd["credentials"]["password"]')
url="rtsp://127.0.0.1:$rtsp/cameras/$cam"
echo "vssgated $("$VSSGATED" --version | cut -d' ' -f2), $(nproc) cores, source: $CLIP (recorded), ${READERS} readers over TCP"
echo "recording ${RECORD} s first..."
sleep "$RECORD"

# CPU seconds of the whole process, of its I/O thread (tid = pid), and of the export threads.
cpu() {
	/usr/bin/python3 - "$gwpid" <<'PY'
import os, sys
pid, hz = sys.argv[1], os.sysconf("SC_CLK_TCK")
def t(path):
    f = open(path).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / hz
exp = 0.0
for tid in os.listdir(f"/proc/{pid}/task"):
    try:
        if open(f"/proc/{pid}/task/{tid}/comm").read().strip() == "vssgate-export":
            exp += t(f"/proc/{pid}/task/{tid}/stat")
    except OSError:
        pass
print(f"{t(f'/proc/{pid}/stat'):.3f} {t(f'/proc/{pid}/task/{pid}/stat'):.3f} {exp:.3f}")
PY
}

# A batch of BATCH exports asked for at once (parallel POSTs); waits until all are over.
batch() {
	now=$(date +%s)
	from=$(date -u -d "@$((now - RANGE - 8))" +%FT%TZ)
	until=$(date -u -d "@$((now - 8))" +%FT%TZ)
	seq 1 "$BATCH" | xargs -P "$BATCH" -I{} curl -sf -o /dev/null -H "Authorization: Bearer $token" \
		-H 'Content-Type: application/json' --data-binary \
		"{\"grant_id\":$gid,\"camera_ids\":[$cam],\"from\":\"$from\",\"until\":\"$until\",\"reason\":\"bench {}\"}" \
		"http://127.0.0.1:$http/api/v1/exports"
	while [ "$(psql -qAt -h "$dir" -U bench bench -c "SELECT count(*) FROM exports WHERE state IN ('queued','running')")" != 0 ]; do
		sleep 0.1
	done
}

# One window of the readers' session: "alone" for |2| seconds, "batch" (one batch of BATCH
# exports, as long as it takes), or "continuous" (batch after batch for |2| seconds).
window() {	# window KIND SECONDS
	d0=$(psql -qAt -h "$dir" -U bench bench -c "SELECT count(*), coalesce(sum(bytes),0) FROM exports WHERE state IN ('done','expired')")
	c0=$(cpu); t0=$(date +%s.%N)
	batches=0
	case $1 in
	alone) sleep "$2" ;;
	batch) batch; batches=1 ;;
	continuous)
		end=$(($(date +%s) + $2))
		while [ "$(date +%s)" -lt "$end" ]; do
			batch
			batches=$((batches + 1))
			# The batch's files go: the next batch writes as many again.
			psql -qAt -h "$dir" -U bench bench -c "UPDATE exports SET expires_at = now() WHERE state = 'done'" >/dev/null
		done ;;
	esac
	c1=$(cpu); t1=$(date +%s.%N)
	d1=$(psql -qAt -h "$dir" -U bench bench -c "SELECT count(*), coalesce(sum(bytes),0) FROM exports WHERE state IN ('done','expired')")
	/usr/bin/python3 - "$1" "$READERS" "$c0" "$c1" "$t0" "$t1" "$batches" "$d0" "$d1" "$BATCH" <<'PY'
import sys
kind, n = sys.argv[1], int(sys.argv[2])
p0, i0, e0 = map(float, sys.argv[3].split()); p1, i1, e1 = map(float, sys.argv[4].split())
secs = float(sys.argv[6]) - float(sys.argv[5])
line = (f"{kind:10} {secs:5.1f} s  per reader: process {100 * (p1 - p0) / secs / n * 1000:6.2f} m%,"
        f" i/o thread {100 * (i1 - i0) / secs / n * 1000:6.2f} m%   (i/o thread {100 * (i1 - i0) / secs:5.1f} %,"
        f" export threads {100 * (e1 - e0) / secs:5.1f} %)")
if kind != "alone":
    b = int(sys.argv[7])
    d0, d1 = sys.argv[8].split("|"), sys.argv[9].split("|")
    k, byt = int(d1[0]) - int(d0[0]), int(d1[1]) - int(d0[1])
    line += f"\n{'':10} {k} exports in {b} batch(es) of {sys.argv[10]}, {byt / 1e6:.0f} MB, {byt / 1e6 / secs:.0f} MB/s"
print(line)
PY
}

session() {
	echo "--- $READERS readers over TCP, ${DURATION} s; windows after the ramp:"
	taskset -c 1 "$LOAD" -u "$url" -U "$user" -P "$pass" -n "$READERS" -d "$DURATION" -r 2 -t tcp > "$dir/load.out" &
	lp=$!
	sleep 8
	window alone 6
	window batch
	window alone 6
	window continuous 15
	window alone 6
	wait "$lp"
	/usr/bin/python3 - "$dir/load.out" <<'PY'
import sys
load = dict(l.split(": ", 1) for l in open(sys.argv[1]).read().splitlines() if ": " in l)
print(f"{'':10} the whole session: lost packets {load.get('lost_packets')}, slowest reader {load.get('rate_min_mbps')}"
      f" Mbit/s, {load.get('slowest_reader_behind_ms')} ms behind, {load.get('playing_at_end')} playing at the end")
PY
}

# EXPORT_CORE=1: the export threads on that core (the I/O thread stays on core 0).
if [ -n "${EXPORT_CORE:-}" ]; then
	for tid in $(ls /proc/$gwpid/task); do
		[ "$(cat /proc/$gwpid/task/$tid/comm)" = vssgate-export ] && taskset -p -c "$EXPORT_CORE" "$tid" >/dev/null
	done
	echo "export threads on core $EXPORT_CORE"
fi

for r in $(seq 1 "$ROUNDS"); do
	session
	sleep 5
done
