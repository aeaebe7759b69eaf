#!/bin/sh
# udp-join.sh - a new UDP reader joining a 1080p25 4 Mbit/s camera, as ffmpeg
# does by default (RTP over UDP first, default socket buffers): the time to the
# first decoded frame, the packets ffmpeg reports missed and the runs with
# decoding errors, with the GOP backlog paced ([rtsp] udp_pace_rate, 2 MB/s)
# and unpaced (0), alternating in one gateway process (SIGHUP between them).
#
#   sh contrib/bench/udp-join.sh                # JOINS=10 per mode
#   VSSGATED=... JOINS=20 sh contrib/bench/udp-join.sh
#
# The camera is the relay benchmark's pre-encoded clip (a keyframe every 2 s)
# read by the ffmpeg adapter and always on, so every join starts with a full
# group of pictures in the cache: 0.5 to 1 MB sent to the new reader at once.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
VSSGATED=${VSSGATED:-$top/_build/release/vssgated}
JOINS=${JOINS:-10}
CLIP=${CLIP:-/tmp/vssgate-bench-1080p25-4M.ts}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | tail -1)

if [ ! -f "$CLIP" ]; then
	echo "making $CLIP (60 s of 1080p25 H.264 at 4 Mbit/s)..."
	ffmpeg -v error -f lavfi -i testsrc2=size=1920x1080:rate=25 -t 60 -c:v libx264 -preset veryfast \
		-b:v 4M -maxrate 4M -bufsize 4M -g 50 -pix_fmt yuv420p -bsf:v h264_mp4toannexb -f mpegts "$CLIP"
fi

dir=$(mktemp -d /tmp/vssgate-udp-bench.XXXXXX)
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
udp_pair() { /usr/bin/python3 -c '
import socket
for p in range(20000, 40000, 2):
    try:
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(("0.0.0.0", p))
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.bind(("0.0.0.0", p + 1))
        print(p); break
    except OSError:
        pass'; }
http=$(free_port); rtsp=$(free_port); udp=$(udp_pair)
openssl rand -hex 32 > "$dir/key"
mkdir -p "$dir/state"
conf() {	# conf PACE
	cat > "$dir/vssgate.conf" <<CONF
[daemon]
state_dir = $dir/state
log_level = info
[database]
conninfo = "host=$dir dbname=bench user=bench"
[listen]
rtsp = 127.0.0.1:$rtsp
http = 127.0.0.1:$http
[rtsp]
udp_port = $udp
udp_pace_rate = $1
[security]
secret_key_file = $dir/key
CONF
}
conf 2m
echo "bench password 0123" | "$VSSGATED" -c "$dir/vssgate.conf" --add-admin bench >"$dir/add-admin.log" 2>&1 || { cat "$dir/add-admin.log"; exit 1; }
"$VSSGATED" -c "$dir/vssgate.conf" >> "$dir/vssgated.log" 2>&1 &
gwpid=$!
for i in $(seq 1 100); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && break; sleep 0.1; done
token=$(curl -sf -H 'Content-Type: application/json' -d '{"username":"bench","password":"bench password 0123"}' \
	"http://127.0.0.1:$http/api/v1/auth/login" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
api() { curl -sf -X "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' --data-binary "$3" \
	"http://127.0.0.1:$http$2"; }
json() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
cam=$(psql -qAt -h "$dir" -U bench bench -c "INSERT INTO cameras (name, source_uri, adapter, always_on)
	VALUES ('bench', 'file:$CLIP', 'ffmpeg', true) RETURNING id")
auth=$(api POST /api/v1/authorities '{"name":"bench"}' | json 'd["id"]')
grant=$(api POST /api/v1/grants "{\"authority_id\":$auth,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[$cam],\"duration_s\":7200,\"reason\":\"benchmark\"}")
user=$(echo "$grant" | json 'd["credentials"]["username"]')
pass=$(echo "$grant" | json 'd["credentials"]["password"]')
url="rtsp://$user:$pass@127.0.0.1:$rtsp/cameras/$cam"
sleep 4	# the always-on source starts and fills its GOP cache

# One join: wall time to the first decoded frame, then 3 s more; ffmpeg's complaints counted.
join() {
	/usr/bin/python3 - "$url" <<'PY'
import re, subprocess, sys, time
t0 = time.monotonic()
p = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "info", "-i", sys.argv[1], "-t", "3", "-map", "0:v:0",
                      "-f", "null", "-", "-progress", "pipe:1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
first = None
for line in p.stdout:
    m = re.match(r"frame=(\d+)", line)
    if m and int(m.group(1)) > 0 and first is None:
        first = time.monotonic() - t0
err = p.stderr.read()
p.wait()
missed = sum(int(n) for n in re.findall(r"missed (\d+) packets", err))
bad = len(re.findall(r"error while decoding|concealing|corrupt|non-existing PPS|no frame", err, re.I))
print(f"{first if first is not None else -1:.3f} {missed} {bad} {p.returncode}")
PY
}
summary() {	# summary MODE FILE
	/usr/bin/python3 - "$1" "$2" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[2]) if l.strip()]
firsts = sorted(float(r[0]) for r in rows if float(r[0]) >= 0)
missed = [int(r[1]) for r in rows]
bad = sum(1 for r in rows if int(r[2]) > 0)
med = statistics.median(firsts) if firsts else float("nan")
print(f"{sys.argv[1]:>8}: {len(rows)} joins, first frame median {med * 1000:.0f} ms, worst {max(firsts) * 1000 if firsts else float('nan'):.0f} ms;"
      f" packets missed {sum(missed)} (worst join {max(missed)}); joins with decoding errors {bad}")
PY
}
: > "$dir/paced"; : > "$dir/unpaced"
for i in $(seq 1 "$JOINS"); do
	for mode in paced unpaced; do
		if [ "$mode" = paced ]; then conf 2m; else conf 0; fi
		kill -HUP "$gwpid"; sleep 0.5
		join >> "$dir/$mode"
	done
done
echo "UDP joins of a 1080p25 4 Mbit/s camera, ffmpeg's default transport and buffers ($JOINS each, alternating):"
summary paced "$dir/paced"
summary unpaced "$dir/unpaced"
