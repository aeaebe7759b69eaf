#!/bin/sh
# demo.sh - run vssgate on this machine with a local PostgreSQL, and print
# what to try: the admin page, a player's URL, the ONVIF device, vssgatectl,
# a signed export of the recorded test camera and how to verify it.
# Ctrl-C stops everything. State lives in $VSSGATE_DEMO_DIR (default
# /tmp/vssgate-demo) and survives restarts of the demo.
#
# Ports, so that two demos (or a demo and another gateway) can run side by side:
#   VSSGATE_HTTP_PORT       HTTP: the admin page, the REST API, ONVIF (8080)
#   VSSGATE_RTSP_PORT       RTSP (8554)
#   VSSGATE_RTP_PORT        RTP to UDP players, even; RTCP on the next one (8000)
#   VSSGATE_DISCOVERY_PORT  ONVIF WS-Discovery, UDP (3702; 0 turns discovery off)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${VSSGATE_DEMO_DIR:-/tmp/vssgate-demo}
http_port=${VSSGATE_HTTP_PORT:-8080}
rtsp_port=${VSSGATE_RTSP_PORT:-8554}
rtp_port=${VSSGATE_RTP_PORT:-8000}
discovery_port=${VSSGATE_DISCOVERY_PORT:-3702}
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1)
admin=admin

say() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

# --- ports -------------------------------------------------------------------------
case $rtp_port in *[!0-9]*|'') die "VSSGATE_RTP_PORT must be a number" ;; esac
[ $((rtp_port % 2)) -eq 0 ] || die "VSSGATE_RTP_PORT must be even (RTP on it, RTCP on the next one); $rtp_port is odd"

# taken PROTO PORT: is something already listening there?
taken() {
	if [ "$1" = tcp ]; then
		ss -Hltn "sport = :$2" 2>/dev/null | grep -q .
	else
		ss -Hlun "sport = :$2" 2>/dev/null | grep -q .
	fi
}

check_port() {	# check_port PROTO PORT VARIABLE WHAT
	if taken "$1" "$2"; then
		die "$1 port $2 ($4) is already in use by another program; pick another one with $3=..., e.g. $3=$(($2 + 10))"
	fi
}

check_ports() {
	check_port tcp "$http_port" VSSGATE_HTTP_PORT "HTTP: the admin page, the API, ONVIF"
	check_port tcp "$rtsp_port" VSSGATE_RTSP_PORT "RTSP"
	check_port udp "$rtp_port" VSSGATE_RTP_PORT "RTP to UDP players"
	check_port udp "$((rtp_port + 1))" VSSGATE_RTP_PORT "RTCP, the RTP port + 1"
	if [ "$discovery_port" != 0 ]; then
		check_port udp "$discovery_port" VSSGATE_DISCOVERY_PORT "ONVIF WS-Discovery; 0 turns it off"
	fi
}

cd "$top"
sh contrib/install-deps.sh
if [ ! -x _build/release/vssgated ]; then
	say "building vssgated"
	autoreconf -fi >/dev/null
	mkdir -p _build/release
	(cd _build/release && "$top/configure" -q && make -j"$(nproc)" >/dev/null)
fi
gw="$top/_build/release/vssgated"
ctl="$top/contrib/vssgatectl"
check_ports

# --- PostgreSQL ----------------------------------------------------------------------
mkdir -p "$dir"
chmod 755 "$dir"
as=""
if [ "$(id -u)" = 0 ]; then
	as="runuser -u postgres --"
	chown postgres:postgres "$dir"
fi
if [ ! -d "$dir/pgdata" ]; then
	say "creating a PostgreSQL cluster in $dir/pgdata"
	(cd / && $as "$pgbin/initdb" -D "$dir/pgdata" -U vssgate --auth=trust -E UTF8 --locale=C >/dev/null)
fi
(cd / && $as "$pgbin/pg_ctl" -D "$dir/pgdata" -l "$dir/postgresql.log" -w -o "-k $dir -c listen_addresses=''" start >/dev/null)
(cd / && $as "$pgbin/createdb" -h "$dir" -U vssgate vssgate 2>/dev/null) || true

# --- the gateway ---------------------------------------------------------------------
[ -f "$dir/secret.key" ] || { openssl rand -hex 32 > "$dir/secret.key"; chmod 600 "$dir/secret.key"; }
# A self-signed certificate that signs the exports, so that one can be made and verified at once
# (an installation uses one its authorities trust; see README, "The signing key").
if [ ! -f "$dir/export.key" ] || [ ! -f "$dir/export.crt" ]; then
	openssl req -x509 -newkey rsa:3072 -nodes -days 365 -subj "/O=vssgate demo/CN=vssgate demo exports" \
	    -keyout "$dir/export.key" -out "$dir/export.crt" 2>/dev/null
	chmod 600 "$dir/export.key"
fi
mkdir -p "$dir/state"
discovery=yes
[ "$discovery_port" != 0 ] || { discovery=no; discovery_port=3702; }
cat > "$dir/vssgate.conf" <<CONF
[daemon]
state_dir = $dir/state
pid_file = $dir/vssgated.pid

[database]
conninfo = "host=$dir dbname=vssgate user=vssgate"

[listen]
rtsp = 0.0.0.0:$rtsp_port
http = 0.0.0.0:$http_port

[security]
secret_key_file = $dir/secret.key

[rtsp]
udp_port = $rtp_port

[recorder]
dir = $dir/recordings
retention = 1h
max_bytes = 1g

[export]
dir = $dir/exports
sign_key_file = $dir/export.key
sign_cert_file = $dir/export.crt
keep = 1d
time_zone = Europe/Paris

[onvif]
discovery = $discovery
discovery_port = $discovery_port
CONF

stop() {
	[ -n "${gwpid:-}" ] && kill -TERM "$gwpid" 2>/dev/null && wait "$gwpid" 2>/dev/null || true
	(cd / && $as "$pgbin/pg_ctl" -D "$dir/pgdata" -m fast -w stop >/dev/null 2>&1) || true
	say "stopped"
}
trap 'stop; exit 0' INT TERM

"$gw" -c "$dir/vssgate.conf" 2>"$dir/vssgated.log" &
gwpid=$!
# The daemon's own readiness line, not any line with "ready" in it ("Address
# already in use" has one: the old demo took a failed start for a running gateway).
i=0
until grep -q '^.*vssgated [^ ]* ready: ' "$dir/vssgated.log" 2>/dev/null; do
	i=$((i + 1))
	if ! kill -0 "$gwpid" 2>/dev/null || [ $i -gt 300 ]; then
		cat "$dir/vssgated.log" >&2
		if grep -q "Address already in use" "$dir/vssgated.log"; then
			printf '\ndemo: vssgated could not start: a port is taken (see the line above). Pick free ones with\n' >&2
			printf '      VSSGATE_HTTP_PORT, VSSGATE_RTSP_PORT, VSSGATE_RTP_PORT or VSSGATE_DISCOVERY_PORT.\n' >&2
		else
			printf '\ndemo: vssgated did not start (its log is above, and in %s)\n' "$dir/vssgated.log" >&2
		fi
		gwpid=""
		stop
		exit 1
	fi
	sleep 0.1
done

# --- what an operator would set up -------------------------------------------------------
# Two built-in test cameras near the Gare du Nord (FFmpeg's test patterns, encoded
# to H.264 by the ffmpeg adapter). The first is recorded (the last hour, 1 GB at most, is
# kept, to replay and export); the second is pulled only while someone watches.
# The admin API takes network sources only, so these two rows are written directly.
psql -q -h "$dir" -U vssgate -d vssgate -v ON_ERROR_STOP=1 >/dev/null <<SQL
INSERT INTO cameras (name, source_uri, adapter, latitude, longitude, heading, field_of_view, address, record)
VALUES ('Test camera', 'lavfi:testsrc2=size=1280x720:rate=25', 'ffmpeg', 48.8809, 2.3553, 200, 70, 'Gare du Nord, Paris', true),
       ('Test camera 2', 'lavfi:testsrc=size=1280x720:rate=25', 'ffmpeg', 48.8815, 2.3560, 110, 60, 'Rue de Dunkerque, Paris', false)
ON CONFLICT (name) DO UPDATE SET source_uri = EXCLUDED.source_uri, adapter = EXCLUDED.adapter,
	heading = EXCLUDED.heading, field_of_view = EXCLUDED.field_of_view, record = EXCLUDED.record;
SQL
cam=$(psql -qAt -h "$dir" -U vssgate -d vssgate -c "SELECT id FROM cameras WHERE name = 'Test camera'")

# An administrator with a fresh password (shown once, below), logged in with vssgatectl.
admin_password=$(openssl rand -base64 18 | tr -d '/+=' | cut -c1-20)
printf '%s\n' "$admin_password" | "$gw" -c "$dir/vssgate.conf" --add-admin "$admin" --role admin >/dev/null
export VSSGATE_URL="http://127.0.0.1:$http_port" VSSGATE_TOKEN_FILE="$dir/token"
printf '%s\n' "$admin_password" | "$ctl" login "$admin" >/dev/null

# The authority and its 24-hour grant, through the REST API as an operator would
# make them (live view, metadata, and exports with metadata and events); earlier
# demo grants are revoked first.
json() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); $1"; }
authority=$("$ctl" --json authority list | json "print(next((a['id'] for a in d if a['name'] == 'Demo police unit'), ''))")
[ -n "$authority" ] || authority=$("$ctl" --json authority add "Demo police unit" --kind police | json "print(d['id'])")
for old in $("$ctl" --json grant list --state active --authority "$authority" | json "print(' '.join(str(g['id']) for g in d if g['reason'] == 'demo'))"); do
	"$ctl" grant revoke "$old" --reason "a new demo started" >/dev/null
done
"$ctl" --json grant create --authority "$authority" --levels 1V,1M,0V,0M,0E --cameras "$cam" --hours 24 --reason demo > "$dir/grant.json"
user=$(json "print(d['credentials']['username'])" < "$dir/grant.json")
password=$(json "print(d['credentials']['password'])" < "$dir/grant.json")
onvif=$(json "print(d['credentials']['onvif_device_service'])" < "$dir/grant.json")
grant=$(json "print(d['grant']['id'])" < "$dir/grant.json")
verify="$top/_build/release/vssgate-verify"
rm -f "$dir/grant.json"

cat <<BANNER

vssgate is running (log: $dir/vssgated.log, configuration: $dir/vssgate.conf).

  admin page  http://127.0.0.1:$http_port/admin/
              log in as $admin / $admin_password  (shown this once; the next demo sets a new one)
  status      curl http://127.0.0.1:$http_port/healthz
  watch       ffplay -rtsp_transport tcp rtsp://$user:$password@127.0.0.1:$rtsp_port/cameras/$cam
              (or open the same URL in VLC; over UDP drop -rtsp_transport tcp)
  over HTTP   ffplay -rtsp_transport http rtsp://$user:$password@127.0.0.1:$http_port/cameras/$cam
  replay      ffplay -rtsp_transport tcp "rtsp://$user:$password@127.0.0.1:$rtsp_port/recordings/$cam?start=\$(date -u -d '-1 min' +%FT%TZ)"
              (the recorded camera a minute ago; ONVIF replay clients send Range: clock=... instead)
              $ctl camera recordings $cam        (what is recorded: segments, gaps)
  ONVIF       $onvif
              (an ONVIF client or NVR, with the user and password below)
  user        $user / $password  (a 24-hour grant, levels 1V, 1M, 0V, 0M, 0E, for "Demo police unit")
  vssgatectl  export VSSGATE_URL=http://127.0.0.1:$http_port VSSGATE_TOKEN_FILE=$dir/token
              $ctl grant list
              $ctl grant create --authority $authority --levels 1V --area 48.8812,2.3556,150 --hours 2 --reason "incident 42"
              $ctl sessions list
  export      a signed export of the recorded camera, once it has recorded a minute or two:
              $ctl export create --grant $grant --cameras $cam --reason "demo case" --wait \\
                  --from \$(date -u -d '-90 sec' +%FT%TZ) --until \$(date -u -d '-30 sec' +%FT%TZ)
              $ctl export download ID -o $dir/export-ID        (ID: the number it printed)
              $verify $dir/export-ID/camera-$cam.mp4 --ca $dir/export.crt
              ffplay $dir/export-ID/camera-$cam.mp4
              (the manifest: README, "Verifying a manifest"; its history: $ctl audit query --action 'export.*' --export ID)
  as the      curl --digest -u $user:$password -H 'Content-Type: application/json' \\
  authority     -d '{"camera_ids": [$cam], "from": "'\$(date -u -d '-90 sec' +%FT%TZ)'", "until": "'\$(date -u -d '-30 sec' +%FT%TZ)'", "reason": "PV 1"}' \\
                http://127.0.0.1:$http_port/authority/v1/exports

Press Ctrl-C to stop.
BANNER
printf '\nstatus: '
curl -s "http://127.0.0.1:$http_port/healthz" || true
echo
wait "$gwpid" || true
stop
