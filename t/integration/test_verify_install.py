"""vssgate-verify is built and installed with the daemon: `make install` puts the
program and its manual page in place, the page renders with man, and the
installed program runs on its own (no daemon, no database): a usage error is
exit status 2, a file that is not an export is exit status 1 with the reason.
"""
import os
import subprocess

import pytest

from test_packaging import make


@pytest.fixture(scope="module")
def destdir(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("destdir"))
    make("install", f"DESTDIR={d}", "prefix=/usr", "sysconfdir=/etc")
    return d


def test_installed_with_its_manual_page(destdir):
    prog = os.path.join(destdir, "usr/bin/vssgate-verify")
    page = os.path.join(destdir, "usr/share/man/man1/vssgate-verify.1")
    assert os.access(prog, os.X_OK)
    r = subprocess.run(["man", "-l", "-P", "cat", page], capture_output=True, text=True,
                       env=dict(os.environ, MANWIDTH="80"), timeout=60)
    assert r.returncode == 0, r.stderr
    assert "vssgate-verify - check a signed video export" in r.stdout.replace("\u2010", "-")
    assert "@VERSION@" not in r.stdout and "EXIT STATUS" in r.stdout


def test_installed_program_runs_alone(destdir, tmp_path):
    prog = os.path.join(destdir, "usr/bin/vssgate-verify")
    r = subprocess.run([prog], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "usage" in r.stderr
    bogus = tmp_path / "not-an-export.mp4"
    bogus.write_bytes(b"\x00\x00\x00\x10ftypisom\x00\x00\x02\x00" + b"\x00\x00\x00\x08free")
    r = subprocess.run([prog, str(bogus)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "no moov" in r.stdout and "no file-level meta" in r.stdout
    assert "NOT VERIFIED" in r.stdout
