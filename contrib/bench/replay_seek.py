#!/usr/bin/python3
"""replay_seek.py - seek latency of RTSP replay (/recordings/<id>), as an ONVIF client seeks.

  replay_seek.py URL USER PASS FROM UNTIL [SEEKS] [MODE]

SEEKS times (200) a clock time drawn at random in [FROM, UNTIL] (Unix times, fixed seed), asked
for with Require: onvif-replay and Range: clock=T-, in real time. MODE "new" opens a session per
seek (DESCRIBE, SETUP, PLAY on a new connection), "immediate" seeks one playing session with
PLAY Immediate: yes; "new-norate" is "new" with Rate-Control: no. The latency is from just before the PLAY is written to the arrival of the
first packet of the new position's first frame: a clean point (0xABAC C flag) whose extension
carries the PLAY's CSeq (the packets of the old position still in flight carry the old one).
Prints "key: value" lines: p50, p90, p99, max in ms, and the time a whole new session takes.

Python's own time per packet is microseconds, small beside what is measured (milliseconds);
the clock is read when recv() returns, so it errs against the gateway."""
import hashlib
import random
import re
import socket
import struct
import sys
import time


def clock(t):
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def digest(method, uri, user, password, challenge, nc):
    realm = re.search(r'realm="([^"]*)"', challenge).group(1)
    nonce = re.search(r'nonce="([^"]*)"', challenge).group(1)
    ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    ncs = f"{nc:08x}"
    resp = hashlib.md5(f"{ha1}:{nonce}:{ncs}:0a4f113b:auth:{ha2}".encode()).hexdigest()
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", algorithm=MD5, '
            f'qop=auth, nc={ncs}, cnonce="0a4f113b", response="{resp}"')


class Session:
    """One RTSP connection, TCP interleaved; media is parsed as it comes, between answers."""

    def __init__(self, url, user, password):
        m = re.match(r"rtsp://([^:/]+):(\d+)", url)
        self.sock = socket.create_connection((m.group(1), int(m.group(2))), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.url, self.user, self.password = url, user, password
        self.cseq, self.nc, self.challenge, self.session = 0, 0, None, None
        self.buf = bytearray()
        self.want = None	# (cseq byte, callback): the first clean point of a PLAY

    def _feed(self, timeout):
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(262144)
        except socket.timeout:
            return
        if not chunk:
            raise RuntimeError("connection closed by the gateway")
        at = time.monotonic()
        self.buf += chunk
        self._frames(at)

    def _frames(self, at):
        off = 0
        buf = self.buf
        while len(buf) - off >= 4 and buf[off] == 0x24:
            n = buf[off + 2] << 8 | buf[off + 3]
            if len(buf) - off < 4 + n:
                break
            if buf[off + 1] == 0 and self.want is not None:
                self._rtp(memoryview(buf)[off + 4:off + 4 + n], at)
            off += 4 + n
        if off:
            del buf[:off]

    def _rtp(self, pkt, at):
        if not pkt[0] & 0x10 or len(pkt) < 12:
            return
        x = 12 + 4 * (pkt[0] & 15)
        profile, words = struct.unpack_from("!HH", pkt, x)
        if profile != 0xABAC or words < 3:
            return
        flags, cseq = pkt[x + 12], pkt[x + 13]
        if flags & 0x80 and cseq == self.want[0]:
            self.want[1](at)
            self.want = None

    def request(self, method, uri, headers=(), on_first_key=None):
        self.cseq += 1
        lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self.cseq}", *headers]
        if self.session:
            lines.append(f"Session: {self.session}")
        if self.challenge:
            self.nc += 1
            lines.append("Authorization: " + digest(method, uri, self.user, self.password, self.challenge,
                                                    self.nc))
        if on_first_key:
            self.want = (self.cseq & 0xff, on_first_key)
        sent = time.monotonic()
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        deadline = sent + 10
        while time.monotonic() < deadline:
            if self.buf.startswith(b"RTSP/1.0") and b"\r\n\r\n" in self.buf:
                head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
                hl = head.decode().split("\r\n")
                hdrs = {}
                for line in hl[1:]:
                    k, _, v = line.partition(":")
                    hdrs.setdefault(k.strip().lower(), []).append(v.strip())
                n = int(hdrs.get("content-length", ["0"])[0])
                if len(rest) >= n:
                    self.buf = bytearray(rest[n:])
                    self._frames(time.monotonic())
                    status = int(hl[0].split()[1])
                    if status == 401 and not self.challenge:
                        self.challenge = next(c for c in hdrs["www-authenticate"] if "MD5" in c)
                        return self.request(method, uri, headers, on_first_key)
                    if "session" in hdrs:
                        self.session = hdrs["session"][0].split(";")[0]
                    return status, sent, rest[:n]
            self._feed(0.5)
        raise RuntimeError(f"no answer to {method}")

    def open(self):
        status, _, sdp = self.request("DESCRIBE", self.url, ["Accept: application/sdp"])
        if status != 200:
            raise RuntimeError(f"DESCRIBE: {status}")
        for i, c in enumerate(re.findall(rb"a=control:(\S+)", sdp.split(b"m=", 1)[1] if b"m=" in sdp else b"")):
            c = c.decode()
            uri = c if c.startswith("rtsp://") else f"{self.url}/{c}"
            status, _, _ = self.request("SETUP", uri, [f"Transport: RTP/AVP/TCP;unicast;interleaved={2 * i}-{2 * i + 1}",
                                                       "Require: onvif-replay"])
            if status != 200:
                raise RuntimeError(f"SETUP: {status}")

    def seek(self, t, immediate, rate_control=True):
        """Seconds from the PLAY to the first packet of its first clean point."""
        got = []
        h = ["Require: onvif-replay", f"Range: clock={clock(t)}-"] + (["Immediate: yes"] if immediate else [])
        if not rate_control:
            h.append("Rate-Control: no")
        status, sent, _ = self.request("PLAY", self.url, h, on_first_key=got.append)
        if status != 200:
            raise RuntimeError(f"PLAY at {clock(t)}: {status}")
        deadline = sent + 10
        while not got and time.monotonic() < deadline:
            self._feed(0.5)
        if not got:
            raise RuntimeError(f"no clean point 10 s after PLAY at {clock(t)}")
        return got[0] - sent

    def close(self):
        self.sock.close()


def pct(v, p):
    v = sorted(v)
    return v[int((len(v) - 1) * p)]


def main():
    url, user, password = sys.argv[1:4]
    lo, hi = float(sys.argv[4]), float(sys.argv[5])
    seeks = int(sys.argv[6]) if len(sys.argv) > 6 else 200
    mode = sys.argv[7] if len(sys.argv) > 7 else "new"
    each = len(sys.argv) > 8	# any 8th argument: one line per seek too (its time, its latency)
    rng = random.Random(7)
    lat, whole = [], []
    s = None
    if mode == "immediate":
        s = Session(url, user, password)
        s.open()
        s.seek(rng.uniform(lo, hi), False)
    for _ in range(seeks):
        t = rng.uniform(lo, hi)
        if mode.startswith("new"):
            began = time.monotonic()
            s = Session(url, user, password)
            s.open()
            lat.append(s.seek(t, False, mode != "new-norate"))
            if each:
                print(f"seek {t - lo:8.3f} s {1000 * lat[-1]:7.1f} ms")
            whole.append(time.monotonic() - began)
            s.close()
        else:
            lat.append(s.seek(t, True))
            if each:
                print(f"seek {t - lo:8.3f} s {1000 * lat[-1]:7.1f} ms")
            s._feed(0.05)	# a little of the new position plays, as when a user scrubs
    if mode == "immediate":
        s.close()
    print(f"seek_mode: {mode}\nseeks: {len(lat)}")
    for name, p in (("p50", .5), ("p90", .9), ("p99", .99), ("max", 1)):
        print(f"seek_ms_{name}: {1000 * pct(lat, p):.1f}")
    if whole:
        print(f"new_session_to_keyframe_ms_p50: {1000 * pct(whole, .5):.1f}\n"
              f"new_session_to_keyframe_ms_p99: {1000 * pct(whole, .99):.1f}")


if __name__ == "__main__":
    main()
