#!/bin/sh
# relay.sh - the live relay benchmark: one 1080p25 H.264 source at about
# 4 Mbit/s fanned out to N readers over TCP interleaved, the gateway pinned
# to core 0 and the load client (rtsp_load) to core 1. Prints, per N:
# gateway CPU, memory per reader, lost packets, the slowest reader's rate,
# time to first packet and first keyframe, and the latency the gateway adds.
#
#   sh contrib/bench/relay.sh                    # N = 100 800 1600
#   READERS="100" DURATION=30 sh contrib/bench/relay.sh
#   VSSGATED=... LOAD=... to pick builds (default: _build/release)
#
# The source is a pre-encoded file (made once, ~60 s of libx264) read by the
# ffmpeg adapter inside the gateway, paced to real time and passed through:
# no encoder competes for the two cores, and the demuxing is counted in the
# gateway's CPU. The added latency compares, per packet, the arrival on a
# direct reader of a live camera to the arrival through the gateway
# (LATENCY=1, default on; SOURCES=0 skips the many-sources run).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
VSSGATED=${VSSGATED:-$top/_build/release/vssgated}
LOAD=${LOAD:-$top/_build/release/contrib/bench/rtsp_load}
READERS=${READERS:-"100 800 1600"}
TRANSPORTS=${TRANSPORTS:-"tcp http ws"}
DURATION=${DURATION:-20}
CLIP=${CLIP:-/tmp/vssgate-bench-1080p25-4M.ts}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | tail -1)

[ -x "$LOAD" ] || (cd "$(dirname "$LOAD")/../.." && make -s bench-tools)
if [ ! -f "$CLIP" ]; then
	echo "making $CLIP (60 s of 1080p25 H.264 at 4 Mbit/s)..."
	ffmpeg -v error -f lavfi -i testsrc2=size=1920x1080:rate=25 -t 60 -c:v libx264 -preset veryfast \
		-b:v 4M -maxrate 4M -bufsize 4M -g 50 -pix_fmt yuv420p -bsf:v h264_mp4toannexb -f mpegts "$CLIP"
fi

dir=$(mktemp -d /tmp/vssgate-relay-bench.XXXXXX)
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
CONF
ulimit -n 65536 2>/dev/null || true
echo "bench password 0123" | "$VSSGATED" -c "$dir/vssgate.conf" --add-admin bench >"$dir/add-admin.log" 2>&1 || { cat "$dir/add-admin.log"; exit 1; }
start_gateway() {
	taskset -c 0 "$VSSGATED" -c "$dir/vssgate.conf" >> "$dir/vssgated.log" 2>&1 &
	gwpid=$!
	for i in $(seq 1 100); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && break; sleep 0.1; done
}
# Each measured run gets a fresh process: memory freed by the previous run
# would otherwise be reused and hide the new readers' share.
restart_gateway() {
	kill -TERM "$gwpid" && wait "$gwpid" 2>/dev/null || true
	start_gateway
	sleep 3	# the always-on source starts and fills its GOP cache
}
start_gateway

token=$(curl -sf -H 'Content-Type: application/json' -d '{"username":"bench","password":"bench password 0123"}' \
	"http://127.0.0.1:$http/api/v1/auth/login" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
api() { curl -sf -X "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' --data-binary "$3" \
	"http://127.0.0.1:$http$2"; }
json() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# A file source is written to the database directly: the API opens network sources only.
cam=$(psql -qAt -h "$dir" -U bench bench -c "INSERT INTO cameras (name, source_uri, adapter, always_on)
	VALUES ('bench', 'file:$CLIP', 'ffmpeg', true) RETURNING id")
auth=$(api POST /api/v1/authorities '{"name":"bench"}' | json 'd["id"]')
grant=$(api POST /api/v1/grants "{\"authority_id\":$auth,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[$cam],\"duration_s\":7200,\"reason\":\"benchmark\"}")
user=$(echo "$grant" | json 'd["credentials"]["username"]')
pass=$(echo "$grant" | json 'd["credentials"]["password"]')
url="rtsp://127.0.0.1:$rtsp/cameras/$cam"
sleep 3	# the always-on source starts and fills its GOP cache

echo "vssgated $("$VSSGATED" --version | cut -d' ' -f2), $(nproc) cores, source: $CLIP"
for n in $READERS; do
	for t in $TRANSPORTS; do
		# The tunnel and the WebSocket ride on the HTTP port.
		u=$url
		[ "$t" = tcp ] || u="rtsp://127.0.0.1:$http/cameras/$cam"
		echo "--- $n readers over $t, ${DURATION}s"
		restart_gateway
		taskset -c 1 "$LOAD" -u "$u" -U "$user" -P "$pass" -n "$n" -d "$DURATION" -p "$gwpid" -r 2 -t "$t"
		sleep 2
	done
done

# Many sources: SOURCES cameras (each its own ffmpeg adapter reading a 2 Mbit/s
# 720p clip), two readers each.
if [ "${SOURCES:-100}" != 0 ]; then
	clip2=${CLIP2:-/tmp/vssgate-bench-720p25-2M.ts}
	[ -f "$clip2" ] || ffmpeg -v error -f lavfi -i testsrc2=size=1280x720:rate=25 -t 30 -c:v libx264 -preset veryfast \
		-b:v 2M -maxrate 2M -bufsize 2M -g 50 -pix_fmt yuv420p -bsf:v h264_mp4toannexb -f mpegts "$clip2"
	first=$(psql -qAt -h "$dir" -U bench bench -c "INSERT INTO cameras (name, source_uri, adapter, always_on)
		SELECT 'multi-' || i, 'file:$clip2', 'ffmpeg', true FROM generate_series(1, ${SOURCES:-100}) i
		RETURNING id" | sort -n | head -1)
	ids=$(psql -qAt -h "$dir" -U bench bench -c "SELECT string_agg(id::text, ',') FROM cameras WHERE name LIKE 'multi-%'")
	grant=$(api POST /api/v1/grants "{\"authority_id\":$auth,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[$ids],\"duration_s\":7200,\"reason\":\"benchmark\"}")
	user=$(echo "$grant" | json 'd["credentials"]["username"]')
	pass=$(echo "$grant" | json 'd["credentials"]["password"]')
	restart_gateway
	sleep 2
	n=$((2 * ${SOURCES:-100}))
	echo "--- ${SOURCES:-100} sources x 2 readers at 2 Mbit/s (TCP), ${DURATION}s"
	taskset -c 1 "$LOAD" -u "rtsp://127.0.0.1:$rtsp/cameras/$first" -C "$first:${SOURCES:-100}" -U "$user" -P "$pass" \
		-n "$n" -d "$DURATION" -p "$gwpid" -r 5
	psql -qAt -h "$dir" -U bench bench -c "DELETE FROM cameras WHERE name LIKE 'multi-%'" >/dev/null
	sleep 2
fi

# Latency the gateway adds, per packet: rtsp_load is also the camera here
# (-S): it serves the 1080p25 4 Mbit/s clip to the gateway in real time,
# one write per RTP packet, and times each packet from its write to its
# arrival on every reader's socket (kernel timestamps). A live camera on
# this machine would be no reference: its encoder competes for the two
# cores, and read directly, the order it writes to its two clients in
# would be counted as the gateway's delay.
if [ "${LATENCY:-1}" != 0 ]; then
	camport=$(free_port)
	annexb=${CLIP%.ts}.h264
	[ -f "$annexb" ] || ffmpeg -v error -i "$CLIP" -c copy -bsf:v h264_metadata=aud=insert -f h264 "$annexb"
	cam2=$(psql -qAt -h "$dir" -U bench bench -c "INSERT INTO cameras (name, source_uri, adapter)
		VALUES ('live', 'rtsp://127.0.0.1:$camport/cam', 'rtsp') RETURNING id")
	grant=$(api POST /api/v1/grants "{\"authority_id\":$auth,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[$cam2],\"duration_s\":7200,\"reason\":\"benchmark\"}")
	user=$(echo "$grant" | json 'd["credentials"]["username"]')
	pass=$(echo "$grant" | json 'd["credentials"]["password"]')
	restart_gateway
	for t in ${LATENCY_TRANSPORTS:-tcp}; do
		u="rtsp://127.0.0.1:$rtsp/cameras/$cam2"
		[ "$t" = tcp ] || u="rtsp://127.0.0.1:$http/cameras/$cam2"
		echo "--- added latency over $t: ${LATENCY_READERS:-100} readers, the camera in rtsp_load, ${DURATION}s"
		taskset -c 1 "$LOAD" -u "$u" -U "$user" -P "$pass" -n "${LATENCY_READERS:-100}" -d "$DURATION" \
			-p "$gwpid" -r 2 -t "$t" -S "$camport:$annexb" | grep -E 'latency|lost|refused|readers:|cpu'
	done
fi
