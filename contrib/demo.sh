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

cat <<BANNER

vssgate is running (log: $dir/vssgated.log, configuration: $dir/vssgate.conf).

  status    curl http://127.0.0.1:$http_port/healthz
  rtsp      rtsp://127.0.0.1:$rtsp_port/

Press Ctrl-C to stop.
BANNER
printf '\nstatus: '
curl -s "http://127.0.0.1:$http_port/healthz" || true
echo
wait "$gwpid" || true
stop
