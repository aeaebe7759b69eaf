#!/bin/sh
# demo.sh - run vssgate on this machine with a local PostgreSQL, and print
# what to try. Ctrl-C stops everything. State lives in $VSSGATE_DEMO_DIR
# (default /tmp/vssgate-demo) and survives restarts of the demo.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${VSSGATE_DEMO_DIR:-/tmp/vssgate-demo}
http_port=${VSSGATE_HTTP_PORT:-8080}
rtsp_port=${VSSGATE_RTSP_PORT:-8554}
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1)

cd "$top"
sh contrib/install-deps.sh
if [ ! -x _build/release/vssgated ]; then
	echo "demo: building vssgated"
	autoreconf -fi >/dev/null
	mkdir -p _build/release
	(cd _build/release && "$top/configure" -q && make -j"$(nproc)" >/dev/null)
fi
gw="$top/_build/release/vssgated"

mkdir -p "$dir"
chmod 755 "$dir"
as=""
if [ "$(id -u)" = 0 ]; then
	as="runuser -u postgres --"
	chown postgres:postgres "$dir"
fi
if [ ! -d "$dir/pgdata" ]; then
	echo "demo: creating a PostgreSQL cluster in $dir/pgdata"
	(cd / && $as "$pgbin/initdb" -D "$dir/pgdata" -U vssgate --auth=trust -E UTF8 --locale=C >/dev/null)
fi
(cd / && $as "$pgbin/pg_ctl" -D "$dir/pgdata" -l "$dir/postgresql.log" -w -o "-k $dir -c listen_addresses=''" start >/dev/null)
(cd / && $as "$pgbin/createdb" -h "$dir" -U vssgate vssgate 2>/dev/null) || true

[ -f "$dir/secret.key" ] || { openssl rand -hex 32 > "$dir/secret.key"; chmod 600 "$dir/secret.key"; }
mkdir -p "$dir/state"
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
CONF

stop() {
	[ -n "${gwpid:-}" ] && kill -TERM "$gwpid" 2>/dev/null && wait "$gwpid" 2>/dev/null || true
	(cd / && $as "$pgbin/pg_ctl" -D "$dir/pgdata" -m fast -w stop >/dev/null 2>&1) || true
	echo "demo: stopped"
}
trap 'stop; exit 0' INT TERM

"$gw" -c "$dir/vssgate.conf" 2>"$dir/vssgated.log" &
gwpid=$!
i=0
until grep -q "ready" "$dir/vssgated.log" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$gwpid" 2>/dev/null; then
		cat "$dir/vssgated.log"; stop; exit 1
	fi
	sleep 0.1
done

# The built-in test camera (FFmpeg's test pattern, encoded to H.264 by the
# ffmpeg adapter), a sample authority and a 24-hour grant with fresh
# credentials, written the way the admin API does (password sealed with
# the server key).
password=$(openssl rand -base64 18 | tr -d '/+=' | cut -c1-20)
sealed=$(printf '%s' "$password" | "$gw" --seal-secret -c "$dir/vssgate.conf")
psql -q -h "$dir" -U vssgate -d vssgate -v ON_ERROR_STOP=1 >/dev/null <<SQL
INSERT INTO cameras (name, source_uri, adapter, latitude, longitude, address)
VALUES ('Test camera', 'lavfi:testsrc2=size=1280x720:rate=25', 'ffmpeg', 48.8809, 2.3553, 'Gare du Nord, Paris')
ON CONFLICT (name) DO UPDATE SET source_uri = EXCLUDED.source_uri, adapter = EXCLUDED.adapter;
INSERT INTO authorities (name, kind) VALUES ('Demo police unit', 'police') ON CONFLICT (name) DO NOTHING;
DELETE FROM grant_credentials WHERE username = 'demo';
WITH g AS (
	INSERT INTO grants (authority_id, levels, scope_kind, camera_ids, active_from, active_until, reason)
	SELECT a.id, ARRAY['1V','1M'], 'cameras', ARRAY[c.id], now(), now() + interval '24 hours', 'demo'
	FROM authorities a, cameras c WHERE a.name = 'Demo police unit' AND c.name = 'Test camera'
	RETURNING id)
INSERT INTO grant_credentials (grant_id, username, password_enc)
SELECT id, 'demo', decode('$sealed', 'hex') FROM g;
SQL
cam=$(psql -qAt -h "$dir" -U vssgate -d vssgate -c "SELECT id FROM cameras WHERE name = 'Test camera'")

cat <<BANNER

vssgate is running (log: $dir/vssgated.log, configuration: $dir/vssgate.conf).

  status      curl http://127.0.0.1:$http_port/healthz
  watch       ffplay -rtsp_transport tcp rtsp://demo:$password@127.0.0.1:$rtsp_port/cameras/$cam
              (or open the same URL in VLC; over UDP drop -rtsp_transport tcp)
  over HTTP   ffplay -rtsp_transport http rtsp://demo:$password@127.0.0.1:$http_port/cameras/$cam
  user        demo / $password  (a 24-hour grant, levels 1V and 1M, for the authority "Demo police unit")

Press Ctrl-C to stop.
BANNER
printf '\nstatus: '
curl -s "http://127.0.0.1:$http_port/healthz" || true
echo
wait "$gwpid" || true
stop
