"""TLS cipher suites and configuration reloads (issue 14, items 12 and 23).

The TLS client is the real one, `openssl s_client`, asked for exactly the
suites a scanner (or an old client) would try."""
import os
import signal
import subprocess
import time

import pytest

from conftest import VSSGATED, free_port, wait_until


def openssl(*args, cwd=None):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def cert(tmp_path):
    d = str(tmp_path)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.crt",
            "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", cwd=d)
    return os.path.join(d, "server.crt"), os.path.join(d, "server.key")


def handshake(port, *args):
    """(negotiated protocol, cipher) of an s_client handshake, or None if it failed."""
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-brief", *args],
                       input="", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=20)
    proto = cipher = None
    for line in r.stdout.splitlines():
        if line.startswith("Protocol version:"):
            proto = line.split(":", 1)[1].strip()
        if line.startswith("Ciphersuite:"):
            cipher = line.split(":", 1)[1].strip()
    return (proto, cipher) if proto and cipher else None


def tls_gateway(gateway_factory, cert, **tls):
    port = free_port()
    g = gateway_factory({"listen": {"tls": f"127.0.0.1:{port}"},
                         "tls": {"cert_file": cert[0], "key_file": cert[1], **tls}})
    g.tls_port = port
    return g


def test_tls12_offers_only_forward_secret_aead_suites(gateway_factory, cert):
    # A scanner (sslscan, testssl.sh) or an old client asking for RSA key exchange or
    # SHA-1 CBC suites over TLS 1.2 is refused; ECDHE with AES-GCM or ChaCha20 works;
    # TLS 1.3 is as OpenSSL has it.
    g = tls_gateway(gateway_factory, cert)
    for weak in ("AES256-SHA", "AES128-SHA", "AES256-GCM-SHA384", "AES128-SHA256", "ECDHE-RSA-AES256-SHA",
                 "ECDHE-RSA-AES128-SHA256", "DHE-RSA-AES256-GCM-SHA384"):
        assert handshake(g.tls_port, "-tls1_2", "-cipher", weak) is None, f"{weak} was accepted"
    for good in ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-CHACHA20-POLY1305"):
        assert handshake(g.tls_port, "-tls1_2", "-cipher", good) == ("TLSv1.2", good)
    proto, _ = handshake(g.tls_port, "-tls1_3")
    assert proto == "TLSv1.3"
    assert handshake(g.tls_port, "-tls1_1") is None


def test_tls_ciphers_are_configurable_and_checked(gateway_factory, cert):
    # An installation that must serve one old client opts in to its suite.
    g = tls_gateway(gateway_factory, cert, ciphers="ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA")
    assert handshake(g.tls_port, "-tls1_2", "-cipher", "AES256-SHA") == ("TLSv1.2", "AES256-SHA")
    g.stop()
    # A list OpenSSL cannot use is refused by -t, like any bad value.
    s = dict(g.settings)
    s["tls"] = dict(s["tls"], ciphers="NO-SUCH-CIPHER")
    g.write_config(g.config_text(s))
    r = subprocess.run([VSSGATED, "-t", "-c", g.conf_path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    assert r.returncode == 1 and "[tls] ciphers" in r.stderr, r.stderr


def debug_lines_after(g, mark):
    """DEBUG lines the gateway logged after the line |mark|."""
    log = g.log()
    return log[log.rindex(mark):].count("DEBUG:")


def test_reload_of_an_empty_file_changes_nothing(gateway_factory):
    # An operator truncates the file (a failed copy, `> vssgate.conf`) and sends SIGHUP.
    # The running configuration stays: log_level stays debug, [api] public_host stays.
    g = gateway_factory({"api": {"public_host": "cams.example.org"}})
    g.write_config("")
    g.signal(signal.SIGHUP)
    g.wait_log(r"reload failed, keeping the running configuration: .*vssgate.conf: "
               r"key \"conninfo\" in \[database\] must be set")
    assert "configuration reloaded" not in g.log()
    mark = "reload failed, keeping the running configuration"
    assert g.get("/healthz")[0] == 200
    wait_until(lambda: debug_lines_after(g, mark) > 0, 5, what="debug lines after the failed reload")
    # A file that lost its [listen] section is refused too.
    s = {k: v for k, v in g.settings.items() if k != "listen"}
    g.write_config(g.config_text(s))
    g.signal(signal.SIGHUP)
    g.wait_log(r"reload failed, keeping the running configuration: .*\[listen\] must set at least one", 5)


def test_reload_with_a_missing_certificate_applies_nothing(gateway_factory, cert, tmp_path):
    # The new file changes a reloadable key (log_level) and names a certificate that
    # is not there: nothing of it may be applied, not only the TLS part.
    g = tls_gateway(gateway_factory, cert)
    s = dict(g.settings)
    s["daemon"] = dict(s["daemon"], log_level="warning")
    s["tls"] = dict(s["tls"], cert_file=str(tmp_path / "missing.crt"))
    g.write_config(g.config_text(s))
    g.signal(signal.SIGHUP)
    g.wait_log(r"reload failed, keeping the running configuration: cannot load certificate .*missing\.crt")
    mark = "reload failed, keeping the running configuration"
    assert g.get("/healthz")[0] == 200
    wait_until(lambda: debug_lines_after(g, mark) > 0, 5, what="log_level still debug")
    assert "configuration reloaded" not in g.log()
    assert handshake(g.tls_port, "-tls1_3") is not None, "the running certificate still serves"
    # A good file is applied, certificate included.
    s["tls"] = dict(s["tls"], cert_file=cert[0])
    g.write_config(g.config_text(s))
    g.signal(signal.SIGHUP)
    g.wait_log(r"configuration reloaded from")
    n = g.log().count("DEBUG:")
    g.get("/healthz")
    time.sleep(0.3)
    assert g.log().count("DEBUG:") == n, "log_level warning applied"
