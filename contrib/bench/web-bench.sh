#!/bin/sh
# web-bench.sh - the admin page's numbers (issue 13): its first load from the
# gateway, the bytes it costs, and the map with 5,000 cameras. Prints them;
# not a test (test_web.py holds the bounds).
#
#   sh contrib/bench/web-bench.sh          # VSSGATED=path/to/vssgated, RUNS=10
#
# A throwaway PostgreSQL and vssgated (env.sh), headless Chromium driven by
# t/integration/web_driver.js (npm ci in t/integration first):
#   - first load: RUNS loads of /admin/ each in a fresh browser context (empty
#     cache), navigation start to the load event, median and worst;
#   - bytes: what that first load transferred (compressed, headers included),
#     and every file of the page compressed as the gateway serves it (gzip),
#     the live view's player included (it loads only when a view opens);
#   - 5,000 cameras: from the camera list in hand to the map drawn, one full
#     draw, and the frames while the map is dragged (and the drawing after).
set -eu
BENCH_HERE=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$BENCH_HERE/../.." && pwd)
VSSGATED=${VSSGATED:-$top/_build/release/vssgated}
RUNS=${RUNS:-10}
CAMERAS=0
. "$BENCH_HERE/env.sh"
drv="$top/t/integration/web_driver.js"
[ -d "$top/t/integration/node_modules/puppeteer-core" ] || { echo "run npm ci in t/integration first" >&2; exit 1; }

# node web_driver.js with the steps on stdin; the answers, one JSON line each, on stdout.
steps() { (cd "$top/t/integration" && node "$drv" "$BENCH_URL" "$BENCH_DIR"); }
py() { /usr/bin/python3 -c "$1"; }

loads=""
i=0
while [ $i -lt "$RUNS" ]; do
	loads="$loads{\"do\": \"load\", \"fresh\": true}
"
	i=$((i + 1))
done
printf '{"do": "launch", "intercept": false}\n%s{"do": "quit"}\n' "$loads" | steps > "$BENCH_DIR/loads.json"

files="index.html app.css app.js api.js map.js grant.js views.js live.js favicon.svg vendor/media-stream-library.min.js vendor/LICENSE.media-stream-library.txt"
all_gz=0
all_raw=0
for f in $files; do
	gz=$(curl -s -H 'Accept-Encoding: gzip' -o /dev/null -w '%{size_download}' "$BENCH_URL/admin/$f")
	raw=$(curl -s -o /dev/null -w '%{size_download}' "$BENCH_URL/admin/$f")
	all_gz=$((all_gz + gz))
	all_raw=$((all_raw + raw))
done

# 5,000 cameras in a grid over Paris, each with a field of view.
psql -q -h "$BENCH_DIR" -U bench -d bench -v ON_ERROR_STOP=1 -c "INSERT INTO cameras (name, source_uri, latitude, longitude, heading, field_of_view)
	SELECT 'cam-' || i, 'rtsp://127.0.0.1:9/' || i, 48.80 + (i % 71) * 0.0021, 2.25 + (i / 71) * 0.0029, (i * 37) % 360, 40 + i % 50
	FROM generate_series(1, 5000) i" >/dev/null
for i in $(seq 1 100); do
	[ "$(curl -s "$BENCH_URL/healthz" | py 'import json,sys; print(json.load(sys.stdin)["policy"]["cameras"])')" = 5000 ] && break
	sleep 0.1
done
printf '%s\n' '{"do": "launch", "intercept": false}' '{"do": "load"}' '{"do": "login", "username": "bench", "password": "bench password 0123"}' \
	'{"do": "map", "shot": "map-5000"}' '{"do": "pan", "n": 20}' '{"do": "quit"}' | steps > "$BENCH_DIR/map.json"

cat > "$BENCH_DIR/report.py" <<'PY'
import json, os, statistics
loads = [json.loads(l) for l in open(os.environ["LOADS"]) if "load_ms" in l]
steps = [json.loads(l) for l in open(os.environ["MAP"])]
bad = [s.get("error") for s in steps if not s["ok"]]
assert not bad, bad
ms = sorted(l["load_ms"] for l in loads)
first = loads[0]
mp = next(s for s in steps if "timings" in s)["timings"]
pan = next(s for s in steps if "max_ms" in s)
print(f"first load of /admin/ (cold cache, {len(ms)} runs): median {statistics.median(ms):.0f} ms, "
      f"worst {ms[-1]:.0f} ms (bound 300 ms)")
print(f"first load transferred: {first['transfer_bytes'] / 1024:.1f} KiB compressed "
      f"({first['decoded_bytes'] / 1024:.1f} KiB decoded), {len(first['files'])} files")
print(f"every file of the page, gzip as served: {int(os.environ['ALL_GZ']) / 1024:.1f} KiB "
      f"({int(os.environ['ALL_RAW']) / 1024:.1f} KiB raw; bound 500 KB)")
print(f"5000 cameras: list in hand to map drawn {mp['camerasToMapMs']:.0f} ms, one draw {mp['mapRenderMs']:.0f} ms, "
      f"fetch of the list {mp['camerasFetchMs']:.0f} ms (bound 1 s)")
print(f"5000 cameras: dragging the map, worst frame of {len(pan['times'])} {pan['max_ms']:.1f} ms, "
      f"median {statistics.median(pan['times']):.1f} ms; full drawing after the release {pan['release_ms']:.0f} ms")
print("first load timeline (file, start, end ms):", loads[-1]["timeline"], "dom", round(loads[-1]["dom_ms"]))
print("foreign requests:", sorted(set(u for s in steps for u in s["foreign"])) or "none")
PY
LOADS="$BENCH_DIR/loads.json" MAP="$BENCH_DIR/map.json" ALL_GZ=$all_gz ALL_RAW=$all_raw /usr/bin/python3 "$BENCH_DIR/report.py"
