#!/bin/sh
# revocation-live.sh - from the revocation request to the closing of a live
# RTSP reader, end to end: N times, a grant is created through the API, a
# reader PLAYs its camera (a gst-rtsp-server test camera) and reads media,
# the grant is revoked through the API, and the time until the reader's
# connection is closed by the gateway is recorded. Prints p50/p99/max.
#
#   sh contrib/bench/revocation-live.sh          # N=50
#   N=200 VSSGATED=... sh contrib/bench/revocation-live.sh
set -eu
BENCH_HERE=$(cd "$(dirname "$0")" && pwd)
CAMERAS=0
. "$BENCH_HERE/env.sh"
N=${N:-50}
camport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/usr/bin/python3 "$top/t/integration/fakecam.py" "$camport" > "$BENCH_DIR/fakecam.log" 2>&1 &
campid=$!
trap 'kill $campid 2>/dev/null; [ -n "${KEEP:-}" ] || bench_cleanup' EXIT INT TERM
sleep 1
BENCH_URL=$BENCH_URL BENCH_TOKEN=$BENCH_TOKEN CAMPORT=$camport N=$N /usr/bin/python3 - <<'PY'
import hashlib, json, os, re, socket, statistics, time, urllib.request

url, token, n = os.environ["BENCH_URL"], os.environ["BENCH_TOKEN"], int(os.environ["N"])
port = int(url.rsplit(":", 1)[1])

def api(method, path, body=None):
    req = urllib.request.Request(url + path, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)

def response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    head, _, rest = data.partition(b"\r\n\r\n")
    m = re.search(rb"Content-Length: (\d+)", head)
    need = int(m.group(1)) if m else 0
    while len(rest) < need:
        rest += s.recv(4096)
    return head.decode(), rest[need:]

def play(uri, user, password):
    s = socket.create_connection(("127.0.0.1", port))
    cseq, auth, session = 0, None, None
    for method, target, extra in (("DESCRIBE", uri, ""), ("DESCRIBE", uri, ""),
                                  ("SETUP", uri + "/trackID=0", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n"),
                                  ("PLAY", uri, "")):
        cseq += 1
        lines = f"{method} {target} RTSP/1.0\r\nCSeq: {cseq}\r\n{extra}"
        if session:
            lines += f"Session: {session}\r\n"
        if auth:
            realm, nonce = auth
            ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
            ha2 = hashlib.md5(f"{method}:{target}".encode()).hexdigest()
            nc = f"{cseq:08x}"
            resp = hashlib.md5(f"{ha1}:{nonce}:{nc}:bench1234:auth:{ha2}".encode()).hexdigest()
            lines += (f'Authorization: Digest username="{user}", realm="{realm}", nonce="{nonce}", '
                      f'uri="{target}", qop=auth, nc={nc}, cnonce="bench1234", response="{resp}"\r\n')
        s.sendall((lines + "\r\n").encode())
        head, _ = response(s)
        if not auth and " 401 " in head.split("\r\n")[0]:
            c = [l for l in head.split("\r\n") if "algorithm=MD5" in l][0]
            auth = (re.search(r'realm="([^"]*)"', c).group(1), re.search(r'nonce="([^"]*)"', c).group(1))
        m = re.search(r"Session: ([0-9a-f]+)", head)
        session = m.group(1) if m else session
    return s

cam = api("POST", "/api/v1/cameras", {"name": "live", "source_uri": f"rtsp://127.0.0.1:{os.environ['CAMPORT']}/h264"})["id"]
auth = api("POST", "/api/v1/authorities", {"name": "bench unit"})["id"]
delays = []
for i in range(n):
    g = api("POST", "/api/v1/grants", {"authority_id": auth, "levels": ["1V"], "scope": "cameras",
                                       "camera_ids": [cam], "duration_s": 600, "reason": "bench"})
    cred = g["credentials"]
    s = play(f"rtsp://127.0.0.1:{port}/cameras/{cam}", cred["username"], cred["password"])
    got = 0
    while got < 20000:            # media flows
        got += len(s.recv(65536))
    t0 = time.monotonic()
    api("POST", f"/api/v1/grants/{g['grant']['id']}/revoke", {"reason": "bench"})
    s.settimeout(5)
    while s.recv(65536):
        pass
    delays.append((time.monotonic() - t0) * 1000)
    s.close()
delays.sort()
print(f"revocation -> live RTSP reader closed ({n} readers, one after the other): "
      f"p50 {statistics.median(delays):.1f} ms, p99 {delays[min(n - 1, int(0.99 * n))]:.1f} ms, max {delays[-1]:.1f} ms")
PY
