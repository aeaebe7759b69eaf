"""What an operator installs: `make install DESTDIR=...` puts the daemon,
vssgatectl, the admin page, the sample configuration, the migrations, the man
pages and the systemd files where they belong (and `make uninstall` takes
them away again); the man pages render with `man -l`, vssgate.conf(5) names
every configuration key the daemon knows, and `systemd-analyze verify`
accepts the unit as installed. The installed page is served from [web] root.

These tests run `make` in the build tree of $VSSGATED (the one `make check`
runs in)."""
import gzip
import os
import re
import shutil
import subprocess

import pytest

from conftest import TOP_SRCDIR, VSSGATED

BUILD = os.environ.get("top_builddir") or os.path.dirname(os.path.abspath(VSSGATED))
WEB_FILES = ["index.html", "app.css", "app.js", "api.js", "map.js", "grant.js", "views.js", "live.js", "favicon.svg"]
INSTALLED = [
    "usr/sbin/vssgated", "usr/bin/vssgatectl",
    "etc/vssgate/vssgate.conf", "usr/share/doc/vssgate/examples/vssgate.conf",
    "usr/share/man/man8/vssgated.8", "usr/share/man/man5/vssgate.conf.5", "usr/share/man/man1/vssgatectl.1",
    "usr/lib/systemd/system/vssgated.service", "usr/lib/sysusers.d/vssgate.conf", "usr/lib/tmpfiles.d/vssgate.conf",
    "usr/share/vssgate/sql/001_init.sql", "usr/share/vssgate/sql/002_api.sql",
    "usr/share/vssgate/web/vendor/media-stream-library.min.js",
    "usr/share/vssgate/web/vendor/LICENSE.media-stream-library.txt",
] + [f"usr/share/vssgate/web/{f}" for f in WEB_FILES] + [f"usr/share/vssgate/web/{f}.gz" for f in WEB_FILES]


def make(*args, **env):
    assert os.path.isfile(os.path.join(BUILD, "Makefile")), f"no configured build tree at {BUILD}"
    # Not the jobserver of a `make check` this may run under: a make of its own.
    clean = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    r = subprocess.run(["make", "-s", "-C", BUILD, *args], capture_output=True, text=True, timeout=300,
                       env=dict(clean, **env))
    assert r.returncode == 0, f"make {' '.join(args)}: {r.stdout[-2000:]}{r.stderr[-3000:]}"
    return r


@pytest.fixture(scope="module")
def destdir(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("destdir"))
    make("install", f"DESTDIR={d}", "prefix=/usr", "sysconfdir=/etc")
    return d


def test_make_install_puts_every_file_in_place(destdir):
    missing = [f for f in INSTALLED if not os.path.isfile(os.path.join(destdir, f))]
    assert missing == [], missing
    assert os.access(os.path.join(destdir, "usr/sbin/vssgated"), os.X_OK)
    assert os.access(os.path.join(destdir, "usr/bin/vssgatectl"), os.X_OK)
    for f in WEB_FILES:
        with open(os.path.join(TOP_SRCDIR, "gateway/web/static", f), "rb") as a, \
                open(os.path.join(destdir, "usr/share/vssgate/web", f), "rb") as b, \
                gzip.open(os.path.join(destdir, "usr/share/vssgate/web", f + ".gz")) as z:
            src = a.read()
            assert b.read() == src and z.read() == src, f
    with open(os.path.join(TOP_SRCDIR, "etc/vssgate.conf")) as a, \
            open(os.path.join(destdir, "etc/vssgate/vssgate.conf")) as b:
        assert a.read() == b.read()
    with open(os.path.join(destdir, "usr/lib/systemd/system/vssgated.service")) as f:
        unit = f.read()
    assert "ExecStart=/usr/sbin/vssgated -c /etc/vssgate/vssgate.conf" in unit


def test_make_uninstall_takes_everything_away(tmp_path):
    d = str(tmp_path / "root")
    make("install", f"DESTDIR={d}", "prefix=/usr", "sysconfdir=/etc")
    make("uninstall", f"DESTDIR={d}", "prefix=/usr", "sysconfdir=/etc")
    left = [os.path.join(dp, f) for dp, _, fs in os.walk(d) for f in fs]
    assert left == [], left


def man(path):
    r = subprocess.run(["man", "-l", path], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, MANWIDTH="100", MAN_KEEP_FORMATTING="0", MANPAGER="cat", PAGER="cat"))
    assert r.returncode == 0 and r.stderr == "", f"man -l {path}: {r.returncode} {r.stderr}"
    return re.sub(r".\x08", "", r.stdout)


@pytest.mark.parametrize("page,sections", [
    ("man8/vssgated.8", ["NAME", "SYNOPSIS", "OPTIONS", "SIGNALS", "THE ADMIN PAGE", "FILES", "SEE ALSO"]),
    ("man1/vssgatectl.1", ["NAME", "SYNOPSIS", "COMMANDS", "ENVIRONMENT", "EXAMPLES"]),
    ("man5/vssgate.conf.5", ["NAME", "DESCRIPTION", "KEYS", "EXAMPLE"]),
])
def test_man_pages_render(destdir, page, sections):
    text = man(os.path.join(destdir, "usr/share/man", page))
    for s in sections:
        assert re.search(rf"^{s}$", text, re.M), f"{page}: no section {s}"
    assert "@" not in re.sub(r"\S+@\S+", "", text.replace("@system-service", "")), "an unsubstituted @VAR@"


def test_the_conf_page_names_every_key_with_its_default(destdir):
    text = man(os.path.join(destdir, "usr/share/man/man5/vssgate.conf.5"))
    defaults = subprocess.run([VSSGATED, "--print-defaults"], capture_output=True, text=True, check=True).stdout
    section, keys = None, 0
    for line in defaults.splitlines():
        if m := re.fullmatch(r"\[(\w+)\]", line):
            section = m.group(1)
            assert re.search(rf"^   \[{section}\]$", text, re.M), section
        elif m := re.fullmatch(r'(\w+) = "?(.*?)"?', line):
            key, default = m.groups()
            if len(default) > 48:
                # Too long for the tag line: "Default: ..." in the paragraph, broken where it may.
                flat = re.sub(r"\s+", "", text)
                assert re.search(rf"^\s+{key}$", text, re.M) and f"Default:{default}." in flat, \
                    f"[{section}] {key} = {default!r} not in vssgate.conf(5)"
            else:
                want = rf"^\s+{key} = {re.escape(default) if default else re.escape('(empty)')}$"
                assert re.search(want, text, re.M), f"[{section}] {key} = {default!r} not in vssgate.conf(5)"
            keys += 1
    assert keys == len(re.findall(r"^\w+ = ", defaults, re.M)) and keys >= 80, keys


def test_systemd_accepts_the_installed_unit(tmp_path):
    """Installed without DESTDIR under a private prefix, so that the unit names a real
    binary; MANPATH lets systemd-analyze check the Documentation= pages too."""
    assert shutil.which("systemd-analyze"), "systemd-analyze missing (contrib/install-deps.sh installs systemd)"
    prefix = str(tmp_path / "usr")
    make("install", f"prefix={prefix}", f"sysconfdir={tmp_path}/etc")
    unit = os.path.join(prefix, "lib/systemd/system/vssgated.service")
    r = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, MANPATH=os.path.join(prefix, "share/man")))
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", r.stdout + r.stderr
    with open(unit) as f:
        settings = dict(line.split("=", 1) for line in f.read().splitlines() if "=" in line and not line.startswith("#"))
    assert settings["ExecStart"] == f"{prefix}/sbin/vssgated -c {tmp_path}/etc/vssgate/vssgate.conf"
    for k, v in (("User", "vssgate"), ("ProtectSystem", "strict"), ("PrivateTmp", "yes"), ("NoNewPrivileges", "yes"),
                 ("CapabilityBoundingSet", ""), ("ReadWritePaths", "/var/lib/vssgate"), ("Type", "exec"),
                 ("ExecReload", "/bin/kill -HUP $MAINPID")):
        assert settings[k] == v, (k, settings.get(k))
    # A broken unit is refused, so the pass above means something.
    bad = tmp_path / "broken.service"
    bad.write_text(open(unit).read().replace("Type=exec", "Type=sometimes"))
    r = subprocess.run(["systemd-analyze", "verify", str(bad)], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, MANPATH=os.path.join(prefix, "share/man")))
    assert "Failed to parse service type" in r.stderr, r.stderr


def test_the_installed_page_is_served(destdir, gateway_factory):
    import http.client
    root = os.path.join(destdir, "usr/share/vssgate/web")
    gw = gateway_factory({"web": {"root": root}})
    gw.wait_log(rf"web: admin page at /admin/ from {re.escape(root)}: {len(WEB_FILES) + 2} files")
    c = http.client.HTTPConnection("127.0.0.1", gw.http_port, timeout=5)
    c.request("GET", "/admin/app.js", headers={"Accept-Encoding": "gzip"})
    r = c.getresponse()
    body = r.read()
    assert r.status == 200 and r.headers["Content-Encoding"] == "gzip"
    with open(os.path.join(root, "app.js.gz"), "rb") as f:
        assert body == f.read()
    c.request("GET", "/admin/vendor/media-stream-library.min.js")
    r = c.getresponse()
    assert r.status == 200 and len(r.read()) > 100000


def test_the_readme_documents_every_metric_and_the_dashboard_uses_real_ones(api):
    r = api.get("/metrics")
    assert r.status == 200
    names = set(re.findall(r"^# TYPE (\w+) ", r.body.decode(), re.M))
    assert len(names) > 20, names
    with open(os.path.join(TOP_SRCDIR, "README.md")) as f:
        readme = f.read()
    table = set(re.findall(r"^\| `(vssgate_\w+)(?:\{[^}]*\})?` \|", readme, re.M))
    assert names - table == set(), f"metrics missing from README.md: {sorted(names - table)}"
    assert table - names == set(), f"README.md lists metrics the daemon does not export: {sorted(table - names)}"
    import json
    with open(os.path.join(TOP_SRCDIR, "contrib/grafana/vssgate-dashboard.json")) as f:
        dash = json.load(f)
    used = {m for p in dash["panels"] for t in p.get("targets", []) for m in re.findall(r"vssgate_\w+", t["expr"])}
    known = names | {n + s for n in names for s in ("_sum", "_count")}
    assert used and used <= known, sorted(used - known)
    assert names - {re.sub(r"_(sum|count)$", "", u) for u in used} == set(), "metrics without a panel"
