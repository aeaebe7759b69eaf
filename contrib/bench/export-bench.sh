#!/bin/sh
# export-bench.sh - the signed export (gateway/export/eff.h) measured:
#   1. 10 minutes of a 4 Mbit/s camera (1080p25 H.264, recorder-like 2-minute
#      segments made here): the export's wall time next to `ffmpeg -c copy`
#      remuxing the same segments into one MP4 (concat demuxer), one after
#      the other in this run, each the best of $RUNS, page cache warm for both;
#   2. the export's peak memory (ru_maxrss of the exporting process);
#   3. a one-hour export, and the time vssgate-verify takes to check it.
#
#   sh contrib/bench/export-bench.sh
#   BUILD=_build/release WORK=/tmp/x RUNS=3 sh contrib/bench/export-bench.sh
#
# The driver gives every sample a composition offset of 0, so the clip has no
# B-frames (as most cameras send). Video only: a camera's audio (64 kbit/s) is
# 1.6 % of its bytes and would not move the figures. Needs about 4 GB in $WORK
# (removed at the end).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$top/_build/release}
WORK=${WORK:-$(mktemp -d /tmp/vssgate-export-bench.XXXXXX)}
RUNS=${RUNS:-3}
BENCH=$BUILD/contrib/bench/export_bench
VERIFY=$BUILD/vssgate-verify
CLIP=$WORK/clip.h264
mkdir -p "$WORK/10min" "$WORK/60min"
trap 'rm -rf "$WORK"' EXIT

[ -x "$BENCH" ] || make -s -C "$BUILD" bench-tools
[ -x "$VERIFY" ] || make -s -C "$BUILD" vssgate-verify

echo "making 60 s of 1080p25 H.264 at 4 Mbit/s (libx264, no B-frames as most cameras, keyframe every 2 s, AUDs)..."
ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=1920x1080:rate=25 -t 60 -c:v libx264 \
	-preset veryfast -bf 0 -b:v 4M -maxrate 4M -bufsize 4M -g 50 -keyint_min 50 -sc_threshold 0 \
	-x264-params aud=1 -f h264 "$CLIP"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
	-days 1 -subj "/CN=export bench" 2>/dev/null

"$BENCH" segments "$WORK/10min" 10 "$CLIP" > "$WORK/10min.list"
"$BENCH" segments "$WORK/60min" 60 "$CLIP" > "$WORK/60min.list"
sed "s|^|file '|; s|$|'|" "$WORK/10min.list" > "$WORK/10min.concat"
bytes=$(cat $(cat "$WORK/10min.list") | wc -c)
echo "10 minutes: $(wc -l < "$WORK/10min.list") segments, $bytes bytes ($(echo "$bytes" | awk '{ printf "%.2f", $1 * 8 / 600 / 1e6 }') Mbit/s)"
cat $(cat "$WORK/10min.list") > /dev/null     # both start from a warm page cache

now() { date +%s.%N; }
best_export=999999; best_ffmpeg=999999; rss=0
i=0
while [ $i -lt "$RUNS" ]; do
	line=$("$BENCH" export "$WORK/10min.mp4" "$WORK/key.pem" "$WORK/cert.pem" $(cat "$WORK/10min.list"))
	t=$(echo "$line" | sed 's/^export: \([0-9.]*\) s wall.*/\1/')
	rss=$(echo "$line" | sed 's/.*peak RSS \([0-9]*\) KiB/\1/')
	best_export=$(echo "$best_export $t" | awk '{ print ($2 < $1) ? $2 : $1 }')
	a=$(now)
	ffmpeg -nostdin -v error -y -f concat -safe 0 -i "$WORK/10min.concat" -c copy "$WORK/ffmpeg.mp4"
	b=$(now)
	best_ffmpeg=$(echo "$best_ffmpeg $a $b" | awk '{ t = $3 - $2; print (t < $1) ? t : $1 }')
	rm -f "$WORK/10min.mp4" "$WORK/ffmpeg.mp4"
	i=$((i + 1))
done
echo "export of 10 min at 4 Mbit/s: $best_export s; ffmpeg -c copy of the same segments: $best_ffmpeg s; ratio $(echo "$best_export $best_ffmpeg" | awk '{ printf "%.2f", $1 / $2 }') (best of $RUNS each)"
echo "export peak memory (max RSS): $rss KiB"

line=$("$BENCH" export "$WORK/60min.mp4" "$WORK/key.pem" "$WORK/cert.pem" $(cat "$WORK/60min.list"))
echo "one-hour $line"
rm -rf "$WORK/60min"
a=$(now)
"$VERIFY" "$WORK/60min.mp4" > "$WORK/verify.txt" || { cat "$WORK/verify.txt"; exit 1; }
b=$(now)
echo "vssgate-verify of the one-hour export ($(wc -c < "$WORK/60min.mp4") bytes): $(echo "$a $b" | awk '{ printf "%.3f", $2 - $1 }') s, $(grep '^result' "$WORK/verify.txt")"
