#!/bin/sh
# replay.sh - the recorder and RTSP replay benchmark: one 1080p25 H.264
# camera at about 4 Mbit/s (the pre-encoded clip of relay.sh, read by the
# ffmpeg adapter inside the gateway, always on), the gateway pinned to
# core 0 and the clients (rtsp_load -R, replay_seek.py) to core 1.
# Prints, in order:
#
#   1. what recording costs: the whole process's CPU with the camera not
#      recorded and recorded, alternately (ROUNDS), each in a fresh
#      process, WINDOW seconds each; then (SOURCES, 100) cameras at
#      2 Mbit/s all recorded, with the recorder's gaps and drops;
#   2. what the store costs on disk: the bytes of the recordings folder
#      (segments and indexes) against the clip's H.264 bytes over the
#      recorded seconds;
#   3. seek latency: SEEKS PLAYs at random clock times of the store, one
#      new session each, then Immediate: yes on one session;
#   4. Rate-Control: no: one reader over the whole store, recorded seconds
#      per wall second;
#   5. REPLAYERS (100) readers at 1x from different start times for
#      PLAYTIME seconds: lost packets, late frames, holes, gateway CPU.
#
#   sh contrib/bench/replay.sh
#   RECORD=600 SEGMENT=10s SEEKS=500 sh contrib/bench/replay.sh     # a larger store
#   SOURCES=0 sh contrib/bench/replay.sh                            # skip the 100 cameras
#   VSSGATED=... LOAD=... to pick builds (default: _build/release)
#   KEEP=1: leave the folder (the gateway's log, the recordings) at the end
#   HOLD=600: before the replays, print the replay URL, credentials and store span, and wait
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
VSSGATED=${VSSGATED:-$top/_build/release/vssgated}
LOAD=${LOAD:-$top/_build/release/contrib/bench/rtsp_load}
ROUNDS=${ROUNDS:-3}		# live / recorded pairs for the CPU figure
WINDOW=${WINDOW:-20}		# seconds of CPU per run
RECORD=${RECORD:-180}		# seconds of store, at least, before the replays
SEGMENT=${SEGMENT:-10s}		# [recorder] segment_duration
SEEKS=${SEEKS:-200}
REPLAYERS=${REPLAYERS:-100}
PLAYTIME=${PLAYTIME:-30}
SOURCES=${SOURCES:-100}
# Clips without B frames (-bf 0): see "Recorder and replay" in README.md for what B frames do.
CLIP=${CLIP:-/tmp/vssgate-bench-1080p25-4M-nobf.ts}
CLIP2=${CLIP2:-/tmp/vssgate-bench-720p25-2M-nobf.ts}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | tail -1)

[ -x "$LOAD" ] || (cd "$(dirname "$LOAD")/../.." && make -s bench-tools)
if [ ! -f "$CLIP" ]; then
	echo "making $CLIP (60 s of 1080p25 H.264 at 4 Mbit/s)..."
	ffmpeg -v error -f lavfi -i testsrc2=size=1920x1080:rate=25 -t 60 -c:v libx264 -preset veryfast -bf 0 \
		-b:v 4M -maxrate 4M -bufsize 4M -g 50 -pix_fmt yuv420p -bsf:v h264_mp4toannexb -f mpegts "$CLIP"
fi
if [ "$SOURCES" != 0 ] && [ ! -f "$CLIP2" ]; then
	echo "making $CLIP2 (30 s of 720p25 H.264 at 2 Mbit/s)..."
	ffmpeg -v error -f lavfi -i testsrc2=size=1280x720:rate=25 -t 30 -c:v libx264 -preset veryfast -bf 0 \
		-b:v 2M -maxrate 2M -bufsize 2M -g 50 -pix_fmt yuv420p -bsf:v h264_mp4toannexb -f mpegts "$CLIP2"
fi

dir=$(mktemp -d /tmp/vssgate-replay-bench.XXXXXX)
chmod 755 "$dir"
as=""
if [ "$(id -u)" = 0 ]; then as="runuser -u postgres --"; chown postgres "$dir"; fi
gwpid=""
cleanup() {
	[ -n "$gwpid" ] && kill -TERM "$gwpid" 2>/dev/null && wait "$gwpid" 2>/dev/null || true
	[ -f "$dir/pg/postmaster.pid" ] && (cd / && $as "$PGBIN/pg_ctl" -D "$dir/pg" -m immediate -w stop >/dev/null) || true
	if [ -n "${KEEP:-}" ]; then echo "kept $dir (vssgated.log, recordings)"; else rm -rf "$dir"; fi
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
[recorder]
dir = $dir/recordings
segment_duration = $SEGMENT
CONF
ulimit -n 65536 2>/dev/null || true
echo "bench password 0123" | "$VSSGATED" -c "$dir/vssgate.conf" --add-admin bench >"$dir/add-admin.log" 2>&1 || { cat "$dir/add-admin.log"; exit 1; }
start_gateway() {
	taskset -c 0 "$VSSGATED" -c "$dir/vssgate.conf" >> "$dir/vssgated.log" 2>&1 &
	gwpid=$!
	for i in $(seq 1 100); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && break; sleep 0.1; done
}
restart_gateway() {
	kill -0 "$gwpid" 2>/dev/null || { echo "vssgated (pid $gwpid) had died:"; tail -5 "$dir/vssgated.log"; }
	kill -TERM "$gwpid" 2>/dev/null && wait "$gwpid" 2>/dev/null || true
	start_gateway
}
start_gateway

token=$(curl -sf -H 'Content-Type: application/json' -d '{"username":"bench","password":"bench password 0123"}' \
	"http://127.0.0.1:$http/api/v1/auth/login" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
api() { curl -sf -X "$1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' ${3:+--data-binary "$3"} \
	"http://127.0.0.1:$http$2"; }
json() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
sql() { psql -qAt -h "$dir" -U bench bench -c "$1"; }
metric() { api GET /metrics | awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $2 } END { printf "%d\n", s }'; }
# CPU seconds of the whole gateway process.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); split($0, f, " "); printf "%.3f\n", (f[12] + f[13]) / hz }' \
	"/proc/$gwpid/stat"; }
cpu_window() {	# cpu_window SECONDS: percent of a core over that many seconds
	c0=$(cpu); t0=$(date +%s.%N)
	sleep "$1"
	c1=$(cpu); t1=$(date +%s.%N)
	echo "$c0 $c1 $t0 $t1" | awk '{ printf "%.2f\n", 100 * ($2 - $1) / ($4 - $3) }'
}

# A file source is written to the database directly: the API opens network sources only.
cam=$(sql "INSERT INTO cameras (name, source_uri, adapter, always_on, record)
	VALUES ('bench', 'file:$CLIP', 'ffmpeg', true, false) RETURNING id")
auth=$(api POST /api/v1/authorities '{"name":"bench"}' | json 'd["id"]')
grant=$(api POST /api/v1/grants "{\"authority_id\":$auth,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[$cam],\"duration_s\":7200,\"reason\":\"benchmark\"}")
user=$(echo "$grant" | json 'd["credentials"]["username"]')
pass=$(echo "$grant" | json 'd["credentials"]["password"]')
url="rtsp://127.0.0.1:$rtsp/recordings/$cam"
echo "vssgated $("$VSSGATED" --version | cut -d' ' -f2), $(nproc) cores, $(date -u +%FT%TZ), source: $CLIP (always on)"

# --- 1. recording cost ------------------------------------------------------------------------
echo "--- 1. recording cost: gateway CPU (whole process, core 0), ${WINDOW} s per run, a fresh process each"
live="" recd=""
for r in $(seq 1 "$ROUNDS"); do
	for mode in false true; do
		sql "UPDATE cameras SET record = $mode WHERE id = $cam" >/dev/null
		restart_gateway
		sleep 4	# the source starts, the recorder opens its first segment
		p=$(cpu_window "$WINDOW")
		if [ $mode = true ]; then recd="$recd $p"; echo "recorded      $p %"; else live="$live $p"; echo "not recorded  $p %"; fi
	done
done
echo "$live|$recd" | awk -F'|' '{ n = split($1, a, " "); split($2, b, " "); for (i = 1; i <= n; i++) { s += a[i]; t += b[i] }
	printf "mean: not recorded %.2f %%, recorded %.2f %%: recording costs %.2f %% of a core per 4 Mbit/s camera\n", s / n, t / n, (t - s) / n }'
rec_start=$(date +%s)

# --- 2. disk overhead, after RECORD seconds of the camera recorded (the last run goes on) -----
left=$((RECORD - WINDOW - 4))
[ "$left" -gt 0 ] && { echo "recording $left s more for a ${RECORD} s store..."; sleep "$left"; }
echo "--- 2. disk overhead"
# The clip's H.264 bytes per second (Annex B, start codes included), over its whole length.
# The clip's H.264 bytes per second (Annex B, start codes included): all its frames, at 25 fps.
es=$(ffprobe -v error -select_streams v:0 -show_entries packet=size -of csv=p=0 "$CLIP" |
	awk -F, '$1 != "" { s += $1; n++ } END { printf "%.1f\n", s / (n / 25) }')
sql "SELECT start_reason, count(*) FROM recording_segments WHERE camera_id = $cam GROUP BY 1 ORDER BY 1" |
	tr '\n' ' ' | sed 's/^/segments by start_reason: /; s/$/\n/'
# Closed segments only: their rows have the final bytes and span.
closed=$(sql "SELECT coalesce(sum(bytes), 0), coalesce(sum(extract(epoch FROM ended_at - started_at)), 0), count(*)
	FROM recording_segments WHERE camera_id = $cam AND closed")
disk=$(find "$dir/recordings" -type f -printf '%s %p\n' | awk '{ s += $1; if ($2 ~ /\.idx$/) i += $1 } END { print s + 0, i + 0 }')
echo "$closed $disk $es" | tr '|' ' ' | awk '{ printf "closed segments: %d, %.1f s, %d bytes in their rows; recordings folder: %d bytes (%d of them indexes)\n", $3, $2, $1, $4, $5
	printf "the clip'"'"'s H.264: %.0f bytes/s; closed segments and all indexes: %.0f bytes/s: overhead %+.2f %%\n", $6, ($1 + $5) / $2, 100 * (($1 + $5) / $2 / $6 - 1) }'
echo "recorder: $(metric vssgate_recorder_bytes_written_total) bytes written, $(metric vssgate_recorder_gaps_total) gaps," \
	"$(metric vssgate_recorder_frames_dropped_total) frames dropped (this process)"

# The store's span: since the last process started recording (the runs before it left a hole)
# to a few seconds before the live edge.
span=$(sql "SELECT extract(epoch FROM max(started_at) FILTER (WHERE start_reason IN ('start', 'restart'))),
	extract(epoch FROM max(ended_at)) FROM recording_segments WHERE camera_id = $cam")
from=$(echo "$span" | cut -d'|' -f1); until=$(echo "$span" | cut -d'|' -f2)
nseg=$(sql "SELECT count(*) FROM recording_segments WHERE camera_id = $cam AND started_at >= to_timestamp($from)")
echo "store replayed: $(echo "$from $until" | awk '{ printf "%.0f", $2 - $1 }') s in $nseg segments ($SEGMENT each)"

lo=$(echo "$from" | awk '{ printf "%.3f", $1 + 1 }'); hi=$(echo "$until" | awk '{ printf "%.3f", $1 - 5 }')
[ -n "${HOLD:-}" ] && { echo "HOLD $url $user $pass $lo $hi $dir $gwpid"; sleep "$HOLD"; }
# --- 3. seek latency --------------------------------------------------------------------------
echo "--- 3. seek latency: $SEEKS PLAYs at random clock times of the store, 1x"
for mode in new new-norate immediate; do
	taskset -c 1 /usr/bin/python3 "$top/contrib/bench/replay_seek.py" "$url" "$user" "$pass" "$lo" "$hi" "$SEEKS" "$mode" |
		tr '\n' ' ' | sed 's/$/\n/' || true
done
# A gateway that died is said (see the report of 2026-12-07 in README.md) and started again:
# the store stays, the rest goes on.
sleep 1
kill -0 "$gwpid" 2>/dev/null || { restart_gateway; sleep 3; }

# --- 4. Rate-Control: no ----------------------------------------------------------------------
echo "--- 4. Rate-Control: no, one reader over the whole store (clock=$lo-$hi)"
taskset -c 1 "$LOAD" -u "$url" -U "$user" -P "$pass" -n 1 -d 15 -p "$gwpid" -R "$lo:$hi" -F 2>"$dir/fast.err" |
	grep -E '^(lost_packets|rate_avg_mbps|replay_)' | tr '\n' ' ' | sed 's/$/\n/'
grep -v 'RTP timestamp offset' "$dir/fast.err" || true

# --- 5. many readers at 1x --------------------------------------------------------------------
# Start times spread over the store, none closer to the live edge than PLAYTIME + 10 s: each
# reader plays recorded footage all along (at the edge the frames come a fragment at a time).
hi5=$(echo "$until" | awk -v p="$PLAYTIME" '{ printf "%.3f", $1 - p - 10 }')
echo "--- 5. $REPLAYERS readers at 1x from start times spread over clock=$lo-$hi5, ${PLAYTIME} s"
taskset -c 1 "$LOAD" -u "$url" -U "$user" -P "$pass" -n "$REPLAYERS" -d "$PLAYTIME" -r 20 -p "$gwpid" -R "$lo:$hi5" \
	2>"$dir/many.err" | grep -E '^(readers|playing_at_end|lost_packets|rate_min_mbps|first_keyframe_ms|gateway_cpu_percent|replay_)' |
	tr '\n' ' ' | sed 's/$/\n/'
grep -v 'RTP timestamp offset' "$dir/many.err" | sort | uniq -c || true
echo "the camera recorded meanwhile: gaps $(metric vssgate_recorder_gaps_total), frames dropped $(metric vssgate_recorder_frames_dropped_total)"

# --- 1b. many cameras recorded ----------------------------------------------------------------
if [ "$SOURCES" != 0 ]; then
	echo "--- 1b. $SOURCES cameras at 2 Mbit/s ($CLIP2), all recorded, ${WINDOW} s after 10 s"
	sql "UPDATE cameras SET record = false WHERE id = $cam" >/dev/null
	sql "INSERT INTO cameras (name, source_uri, adapter, always_on, record)
		SELECT 'multi-' || i, 'file:$CLIP2', 'ffmpeg', true, false FROM generate_series(1, $SOURCES) i" >/dev/null
	for mode in false true; do
		sql "UPDATE cameras SET record = $mode WHERE name LIKE 'multi-%'" >/dev/null
		restart_gateway
		t_start=$(date -u +%FT%T.%NZ)
		sleep 10
		p=$(cpu_window "$WINDOW")
		if [ $mode = true ]; then
			echo "recorded: $p %, recorder: $(metric vssgate_recorder_cameras) cameras, $(metric vssgate_recorder_gaps_total) gaps," \
				"$(metric vssgate_recorder_frames_dropped_total) frames dropped, $(metric vssgate_media_frames_dropped_total) media frames dropped"
			sql "SELECT start_reason, count(*) FROM recording_segments s JOIN cameras c ON c.id = s.camera_id
				WHERE c.name LIKE 'multi-%' AND s.started_at >= '$t_start' GROUP BY 1 ORDER BY 1" |
				tr '\n' ' ' | sed 's/^/segments by start_reason: /; s/$/\n/'
		else
			echo "not recorded: $p %"
		fi
	done
fi
