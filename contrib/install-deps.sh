#!/bin/sh
# install-deps.sh - install what vssgate needs to build, run and test on
# Debian 12 (bookworm). Run as root, or as a user with sudo. Idempotent: it
# installs only the packages that are missing.
set -eu

SUDO=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null 2>&1 || { echo "install-deps.sh: run as root or install sudo" >&2; exit 1; }
	SUDO=sudo
fi

PACKAGES="
build-essential autoconf automake libtool pkg-config
libevent-dev libnghttp2-dev libssl-dev libjansson-dev libpq-dev
libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev libavdevice-dev
libavfilter-dev libxml2-dev libwslay-dev
postgresql-15 postgresql-client-15 ffmpeg openssl
python3 python3-pytest python3-websocket
python3-gi python3-gst-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
gstreamer1.0-tools gstreamer1.0-rtsp
clang libclang-rt-14-dev
curl nghttp2-client wrk ca-certificates procps iproute2 perl
chromium
systemd man-db
"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Node.js and npm for the ONVIF and WebSocket clients: keep an existing installation.
if ! command -v npm >/dev/null 2>&1; then
	missing="$missing nodejs npm"
fi

if [ -n "$missing" ]; then
	echo "install-deps.sh: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -q
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -q --no-install-recommends $missing
else
	echo "install-deps.sh: all packages present"
fi

# systemd-analyze (from systemd) verifies the unit and man -l renders the manual pages
# in the packaging tests; installing systemd starts nothing (policy-rc.d, no init).

# The Node clients the integration tests drive (npm onvif, media-stream-library,
# and puppeteer-core, which drives the chromium package above headless), exactly
# as pinned by t/integration/package-lock.json; node_modules stays out of git.
top=$(cd "$(dirname "$0")/.." && pwd)
(cd "$top/t/integration" && npm ci --no-audit --no-fund --loglevel=error)
# What the admin page bundles (media-stream-library for its live view), exactly as
# gateway/web/package-lock.json pins it; the build copies it from there.
(cd "$top/gateway/web" && npm ci --no-audit --no-fund --loglevel=error)
