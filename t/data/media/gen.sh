#!/bin/sh
# gen.sh - regenerates the media samples of the depacketizer tests. Not run by
# the build: the outputs are committed. Needs ffmpeg (libx264, libx265) and,
# for the two JPEGs with standard tables and restart markers, cc and libjpeg.
set -eu
cd "$(dirname "$0")"
ff="ffmpeg -hide_banner -loglevel error -y"

# H.264 and H.265: 2 s of 320x240 test pattern, a keyframe every 10 frames,
# two slices per picture, Annex B.
$ff -f lavfi -i testsrc=size=320x240:rate=10 -t 2 -c:v libx264 -preset fast -crf 16 \
	-g 10 -bf 0 -x264-params slices=2 -pix_fmt yuv420p -f h264 h264.264
$ff -f lavfi -i testsrc=size=320x240:rate=10 -t 2 -c:v libx265 -preset fast -crf 18 \
	-x265-params keyint=10:bframes=0:slices=2:log-level=error -f hevc hevc.265

# The same streams' extradata as MP4 stores it (avcC, hvcC boxes), as FFmpeg
# hands it to the source adapter.
box() {	# box FILE TAG: the payload of the first box TAG in FILE
	python3 -c 'import sys,struct; d=open(sys.argv[1],"rb").read(); i=d.find(sys.argv[2].encode()); n=struct.unpack(">I",d[i-4:i])[0]; sys.stdout.buffer.write(d[i+4:i-4+n])' "$1" "$2"
}
$ff -i h264.264 -frames:v 1 -c copy h264.mp4 && box h264.mp4 avcC >h264.avcc && rm h264.mp4
$ff -i hevc.265 -frames:v 1 -c copy -tag:v hvc1 hevc.mp4 && box hevc.mp4 hvcC >hevc.hvcc && rm hevc.mp4

# AAC LC, 48 kHz stereo, ADTS framing (the test strips the 7-byte headers).
$ff -f lavfi -i sine=frequency=440:sample_rate=48000 -t 1 -ac 2 -c:a aac -b:a 64k -f adts aac.adts

# A baseline JPEG from FFmpeg with the standard Huffman tables (RFC 2435
# requires them), 4:2:0. (FFmpeg writes 4:2:2 as luma 2x2 / chroma 1x2,
# which is not RFC 2435 type 0, hence libjpeg below.)
$ff -f lavfi -i testsrc=size=320x240 -frames:v 1 -c:v mjpeg -huffman default \
	-pix_fmt yuvj420p -q:v 4 jpeg420.jpg

# libjpeg at quality 75 uses the RFC 2435 Appendix A scaling of the standard
# tables, so Q=75 without in-band tables must rebuild the same image:
# 4:2:0 (type 1) and 4:2:2 (type 0), each also with restart markers
# (types 65 and 64).
$ff -f lavfi -i testsrc=size=160x120 -frames:v 1 -pix_fmt rgb24 -f rawvideo rgb160x120.raw
tmp=$(mktemp -d)
cat >"$tmp/cj.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <jpeglib.h>
int main(int argc, char **argv) {
	struct jpeg_compress_struct c; struct jpeg_error_mgr e;
	unsigned char row[160 * 3]; FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
	c.err = jpeg_std_error(&e); jpeg_create_compress(&c); jpeg_stdio_dest(&c, out);
	c.image_width = 160; c.image_height = 120; c.input_components = 3; c.in_color_space = JCS_RGB;
	jpeg_set_defaults(&c); jpeg_set_quality(&c, 75, TRUE);
	c.comp_info[0].h_samp_factor = 2; c.comp_info[0].v_samp_factor = atoi(argv[3]);
	c.restart_interval = (unsigned)atoi(argv[4]);
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < 120) { JSAMPROW r = row; if (fread(row, 1, sizeof(row), in) != sizeof(row)) return 1; jpeg_write_scanlines(&c, &r, 1); }
	jpeg_finish_compress(&c); fclose(out); return 0;
}
C
cc -o "$tmp/cj" "$tmp/cj.c" -ljpeg
"$tmp/cj" rgb160x120.raw q75_420.jpg 2 0
"$tmp/cj" rgb160x120.raw q75_422.jpg 1 0
"$tmp/cj" rgb160x120.raw q75_420_rst.jpg 2 3
"$tmp/cj" rgb160x120.raw q75_422_rst.jpg 1 4
rm -rf "$tmp" rgb160x120.raw
ls -l
