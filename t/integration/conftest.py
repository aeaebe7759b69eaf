"""Shared fixtures of the integration tests: a throwaway PostgreSQL, vssgated
on free ports with a generated configuration, and helpers to read its log.

Everything runs against real programs: PostgreSQL 15 (initdb + pg_ctl in a
temporary directory, as the postgres user when we are root), the vssgated
binary from the build tree ($VSSGATED), and real clients in the tests.
"""
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import urllib.error
import json

import pytest

TOP_SRCDIR = os.environ.get("top_srcdir", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
VSSGATED = os.environ.get("VSSGATED", os.path.join(TOP_SRCDIR, "vssgated"))
PG_BINDIR = os.environ.get("PG_BINDIR") or "/usr/lib/postgresql/15/bin"
WRAPPER = os.environ.get("VSSGATED_WRAPPER", "").split()


SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error: ")


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_handed_out = set()


def _pick(kind, count):
    """|count| consecutive free ports, the first even when count > 1. They are taken
    below the kernel's ephemeral range, so that no outgoing connection of this
    machine (libpq, ffmpeg, the load of a neighbour test) can take one between
    the check here and the daemon's bind."""
    high = _ephemeral_low() - count
    for _ in range(500):
        port = random.randrange(10000, high)
        if count > 1:
            port &= ~1
        ports = range(port, port + count)
        if any(p in _handed_out for p in ports):
            continue
        socks = []
        try:
            for p in ports:
                s = socket.socket(socket.AF_INET, kind)
                socks.append(s)
                s.bind(("0.0.0.0", p))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        _handed_out.update(ports)
        return port
    raise RuntimeError("no free port below the ephemeral range")


def free_port(kind=socket.SOCK_STREAM):
    """A port that is free now and that no outgoing connection will take."""
    return _pick(kind, 1)


def free_udp_pair(count=2):
    """An even UDP port with the next |count| - 1 free too (RTP and RTCP; a multicast
    group's slots for video, audio and metadata need 6)."""
    return _pick(socket.SOCK_DGRAM, count)


def wait_until(pred, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            v = pred()
        except (OSError, ValueError):
            v = None    # a server still starting or closing: try again
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Postgres:
    """A private PostgreSQL cluster listening on a Unix socket only."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vssgate-pg-")
        os.chmod(self.dir, 0o755)
        self.as_user = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = os.path.join(self.dir, "data")
        self._run(["initdb", "-D", self.data, "-U", "testuser", "--auth=trust", "--no-sync",
                   "-E", "UTF8", "--locale=C"])
        self.start()

    def _run(self, argv, **kw):
        return subprocess.run(self.as_user + [os.path.join(PG_BINDIR, argv[0])] + argv[1:],
                              check=True, cwd="/", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)

    def start(self):
        self._run(["pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "server.log"), "-w", "-t", "30",
                   "-o", f"-k {self.dir} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
                         "-c full_page_writes=off -c max_connections=200", "start"])

    def stop(self, mode="fast"):
        self._run(["pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"])

    def destroy(self):
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def conninfo(self, dbname):
        return f"host={self.dir} dbname={dbname} user=testuser"

    def createdb(self):
        name = "t_" + secrets.token_hex(6)
        self.psql("postgres", f"CREATE DATABASE {name}")
        return name

    def psql(self, dbname, sql, check=True):
        """Run SQL; return the rows as lists of strings (psql -At output)."""
        r = subprocess.run(["psql", "-h", self.dir, "-U", "testuser", "-d", dbname, "-v", "ON_ERROR_STOP=1",
                            "-AtF", "\t", "-c", sql], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if check and r.returncode != 0:
            raise AssertionError(f"psql failed: {r.stderr}")
        if not check:
            return r
        return [line.split("\t") for line in r.stdout.splitlines() if line != ""]


@pytest.fixture(scope="session")
def pg():
    p = Postgres()
    yield p
    p.destroy()


class Gateway:
    """One vssgated process with its own configuration, key and state directory."""

    def __init__(self, pg, dbname, tmpdir, extra=None):
        self.pg = pg
        self.dbname = dbname
        self.dir = str(tmpdir)
        os.makedirs(self.dir, exist_ok=True)
        self.http_port = free_port()
        self.rtsp_port = free_port()
        self.key_file = os.path.join(self.dir, "secret.key")
        with open(self.key_file, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
        self.conf_path = os.path.join(self.dir, "vssgate.conf")
        self.log_path = os.path.join(self.dir, "vssgated.log")
        self.pid_file = os.path.join(self.dir, "vssgated.pid")
        # log_level debug: tests count debug lines ("DESCRIBE -> 401").
        self.settings = {
            "daemon": {"state_dir": os.path.join(self.dir, "state"), "pid_file": self.pid_file,
                       "log_level": "debug", "shutdown_timeout": "5s"},
            "database": {"conninfo": pg.conninfo(dbname), "reconnect_max_delay": "1s"},
            "listen": {"rtsp": f"127.0.0.1:{self.rtsp_port}", "http": f"127.0.0.1:{self.http_port}"},
            "rtsp": {"udp_port": free_udp_pair()},
            "security": {"secret_key_file": self.key_file},
            # WS-Discovery binds UDP 3702 and multicasts Hello/Bye: only the tests about it want it.
            "onvif": {"discovery": "no"},
            "recorder": {"dir": os.path.join(self.dir, "recordings")},
        }
        for section, keys in (extra or {}).items():
            self.settings.setdefault(section, {}).update(keys)
        self.write_config()
        self.proc = None
        self._logf = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.http_port}"

    def config_text(self, settings=None):
        out = []
        for section, keys in (settings or self.settings).items():
            out.append(f"[{section}]")
            for k, v in keys.items():
                out.append(f'{k} = "{v}"' if isinstance(v, str) and (" " in v or v == "") else f"{k} = {v}")
            out.append("")
        return "\n".join(out)

    def write_config(self, text=None):
        with open(self.conf_path, "w") as f:
            f.write(text if text is not None else self.config_text())

    def start(self, wait_ready=True, args=()):
        ready = self.count_log(r"vssgated \S+ ready") if os.path.exists(self.log_path) else 0
        self._logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(WRAPPER + [VSSGATED, "-c", self.conf_path] + list(args),
                                     stdout=self._logf, stderr=subprocess.STDOUT)
        if wait_ready:   # this start's line, not the one of a start before it in the same log
            self.wait_log(r"vssgated \S+ ready", timeout=20, count=ready + 1)
        return self

    def log(self):
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=10.0, count=1):
        rx = re.compile(pattern)

        def found():
            if self.proc and self.proc.poll() is not None and len(rx.findall(self.log())) < count:
                raise AssertionError(f"vssgated exited ({self.proc.returncode}) before /{pattern}/:\n{self.log()[-3000:]}")
            return len(rx.findall(self.log())) >= count
        try:
            wait_until(found, timeout, what=f"log /{pattern}/")
        except AssertionError:
            raise AssertionError(f"no /{pattern}/ in log:\n{self.log()[-3000:]}")

    def count_log(self, pattern):
        return len(re.findall(pattern, self.log()))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=15):
        return self.proc.wait(timeout)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._logf:
            self._logf.close()
            self._logf = None
            self.check_sanitizers()

    def check_sanitizers(self):
        """In an ASan/UBSan build, a report in the daemon's log (leaks at exit too) fails the test."""
        m = SANITIZER_REPORT.search(self.log())
        if m:
            raise AssertionError(f"sanitizer report in {self.log_path}:\n{self.log()[m.start():m.start() + 3000]}")

    def get(self, path, headers=None, timeout=5):
        """(status, parsed JSON or text) of an HTTP GET."""
        return http_request("GET", self.url + path, headers=headers, timeout=timeout)

    def sql(self, sql, check=True):
        return self.pg.psql(self.dbname, sql, check=check)


def http_request(method, url, body=None, headers=None, timeout=5):
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        status, raw, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
    if "json" in ctype and raw:
        return status, json.loads(raw)
    return status, raw


@pytest.fixture
def gateway_factory(pg, tmp_path):
    """gateway_factory(extra_settings) -> a started Gateway on a fresh database."""
    made = []

    def make(extra=None, start=True, dbname=None, **kw):
        g = Gateway(pg, dbname or pg.createdb(), tmp_path / f"gw{len(made)}", extra)
        made.append(g)
        if start:
            g.start(**kw)
        return g

    yield make
    for g in made:
        g.stop()


@pytest.fixture
def gateway(gateway_factory):
    return gateway_factory()


# --- media: a real camera, grants, clients ---------------------------------------

FAKECAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fakecam.py")
CAM_USER, CAM_PASSWORD = "camuser", "cam-secret-1"


class FakeCam:
    """GStreamer's gst-rtsp-server serving test patterns (fakecam.py)."""

    def __init__(self):
        self.port = free_port()
        self.start()

    def start(self):
        self.proc = subprocess.Popen(["/usr/bin/python3", FAKECAM, str(self.port), "--user", CAM_USER,
                                      "--password", CAM_PASSWORD],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", "fakecam did not start"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def url(self, path):
        return f"rtsp://127.0.0.1:{self.port}{path}"


@pytest.fixture(scope="session")
def fakecam():
    cam = FakeCam()
    yield cam
    cam.stop()


def seal(gw, secret):
    """The secret as the database stores it: sealed with the gateway's key (hex)."""
    r = subprocess.run([VSSGATED, "--seal-secret", "-c", gw.conf_path], input=secret, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    return r.stdout.strip()


def ensure_loopback_multicast():
    """Route 239.0.0.0/8 over loopback, so that multicast stays on this machine."""
    if os.geteuid() != 0:
        pytest.skip("multicast on loopback needs root to set the MULTICAST flag and a route")
    subprocess.run(["ip", "link", "set", "lo", "multicast", "on"], check=True)
    subprocess.run(["ip", "route", "replace", "239.0.0.0/8", "dev", "lo"], check=True)


def add_camera(gw, name, uri, adapter="rtsp", username=None, password=None, **cols):
    """Insert a camera; returns its id."""
    names = ["name", "source_uri", "adapter"] + list(cols)
    values = [name, uri, adapter] + list(cols.values())
    if username:
        names += ["source_username", "source_secret"]
        values += [username, None]
    sql_values = []
    for n, v in zip(names, values):
        if n == "source_secret":
            sql_values.append(f"decode('{seal(gw, password)}', 'hex')")
        elif v is None:
            sql_values.append("NULL")
        elif isinstance(v, bool):
            sql_values.append("true" if v else "false")
        elif isinstance(v, (int, float)):
            sql_values.append(str(v))
        else:
            sql_values.append("'" + str(v).replace("'", "''") + "'")
    rows = gw.sql(f"INSERT INTO cameras ({', '.join(names)}) VALUES ({', '.join(sql_values)}) RETURNING id")
    return int(rows[0][0])


def model_generation(gw):
    return gw.get("/healthz")[1]["policy"].get("generation", 0)


def add_grant(gw, camera_ids=(), levels=("1V",), authority="Police unit 7",
              active_from="now() - interval '1 minute'", active_until="now() + interval '1 hour'",
              scope="cameras", site_ids=(), area=None, password=None):
    """Insert an authority (if new), a grant and its credentials in one transaction, and wait
    until the gateway's model has them. Returns (grant id, username, password)."""
    gw.sql(f"INSERT INTO authorities (name) VALUES ('{authority}') ON CONFLICT (name) DO NOTHING")
    user = "u" + secrets.token_hex(5)
    password = password or secrets.token_urlsafe(18)
    cams = ",".join(str(i) for i in camera_ids)
    sites = ",".join(str(i) for i in site_ids)
    lat, lon, radius = area or ("NULL", "NULL", "NULL")
    before = gw.get("/healthz")[1]["policy"].get("credentials", 0)
    rows = gw.sql(
        "WITH g AS (INSERT INTO grants (authority_id, levels, scope_kind, camera_ids, site_ids, area_lat, area_lon,"
        " area_radius_m, active_from, active_until, reason)"
        f" SELECT id, ARRAY[{','.join(repr(l) for l in levels)}]::text[], '{scope}', ARRAY[{cams}]::bigint[],"
        f" ARRAY[{sites}]::bigint[], {lat}, {lon}, {radius}, {active_from}, {active_until}, 'integration test'"
        f" FROM authorities WHERE name = '{authority}' RETURNING id)"
        f" INSERT INTO grant_credentials (grant_id, username, password_enc)"
        f" SELECT id, '{user}', decode('{seal(gw, password)}', 'hex') FROM g RETURNING grant_id")
    wait_until(lambda: gw.get("/healthz")[1]["policy"].get("credentials", 0) > before, 5,
               what="the grant in the model")
    return int(rows[0][0]), user, password


def rtsp_url(gw, camera_id, user=None, password=None, port=None, scheme="rtsp"):
    cred = f"{user}:{password}@" if user else ""
    return f"{scheme}://{cred}127.0.0.1:{port or gw.rtsp_port}/cameras/{camera_id}"
# --- REST API helpers (test_api_*.py) ------------------------------------------

ADMIN_PASSWORD = "a correct horse battery staple"


class Resp:
    def __init__(self, status, body, headers):
        self.status, self.body, self.headers = status, body, headers

    def __repr__(self):
        return f"<{self.status} {self.body!r}>"


class Api:
    """A client of the REST API over HTTP/1.1 (urllib), with one bearer token."""

    def __init__(self, gw, token=None):
        self.gw = gw
        self.token = token

    def req(self, method, path, body=None, token="default", headers=None, raw=None, ctype=None, timeout=10):
        hdrs = dict(headers or {})
        tok = self.token if token == "default" else token
        if tok:
            hdrs["Authorization"] = "Bearer " + tok
        data = None
        if raw is not None:
            data = raw
            hdrs.setdefault("Content-Type", ctype or "text/csv")
        elif body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        r = urllib.request.Request(self.gw.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(r, timeout=timeout) as resp:
                status, raw_body, h = resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as e:
            status, raw_body, h = e.code, e.read(), e.headers
        out = raw_body
        if h.get("Content-Type", "").startswith("application/json") and raw_body:
            out = json.loads(raw_body)
        return Resp(status, out, h)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.req("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.req("PATCH", path, body, **kw)

    def delete(self, path, body=None, **kw):
        return self.req("DELETE", path, body, **kw)

    def ok(self, method, path, body=None, status=None, **kw):
        """The parsed body of a request that must succeed (with |status| if given)."""
        r = self.req(method, path, body, **kw)
        assert (r.status == status) if status else (200 <= r.status < 300), f"{method} {path}: {r}"
        return r.body

    def login(self, username, password=ADMIN_PASSWORD):
        r = self.req("POST", "/api/v1/auth/login", {"username": username, "password": password}, token=None)
        assert r.status == 201, r
        return r.body["token"]

    def as_user(self, username, password=ADMIN_PASSWORD):
        return Api(self.gw, self.login(username, password))


def add_admin(gw, username, password=ADMIN_PASSWORD, role="admin"):
    """vssgated --add-admin, the password on standard input."""
    r = subprocess.run(WRAPPER + [VSSGATED, "-c", gw.conf_path, "--add-admin", username, "--role", role],
                       input=password + "\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r


@pytest.fixture
def api_factory(gateway_factory):
    """api_factory(extra) -> Api of an admin "root" on a fresh gateway."""
    def make(extra=None, **kw):
        g = gateway_factory(extra, start=False)
        add_admin(g, "root")
        g.start(**kw)
        return Api(g).as_user("root")
    return make


@pytest.fixture
def api(api_factory):
    return api_factory()


def make_camera(api, name, **kw):
    doc = {"name": name, "source_uri": f"rtsp://127.0.0.1:9/{name}"}
    doc.update(kw)
    return api.ok("POST", "/api/v1/cameras", doc, status=201)


def make_authority(api, name="Police 18e"):
    return api.ok("POST", "/api/v1/authorities", {"name": name, "kind": "police"}, status=201)


def make_grant(api, authority_id, camera_ids, **kw):
    doc = {"authority_id": authority_id, "levels": ["1V"], "scope": "cameras", "camera_ids": camera_ids,
           "duration_s": 3600, "reason": "test incident"}
    doc.update(kw)
    return api.ok("POST", "/api/v1/grants", doc, status=201)
