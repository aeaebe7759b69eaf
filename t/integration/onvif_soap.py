"""A small, deliberately plain SOAP 1.2 client for the ONVIF tests: it builds
envelopes by hand (so tests can send exactly the bytes they mean, broken ones
included), signs them with a WS-UsernameToken or answers HTTP Digest, and
parses answers with ElementTree. Real clients (npm onvif) are driven by
onvif_client.js; this is for what no client would send."""
import base64
import datetime
import hashlib
import http.client
import json
import os
import re
import secrets
import subprocess
import xml.etree.ElementTree as ET

NS = {
    "env": "http://www.w3.org/2003/05/soap-envelope",
    "tt": "http://www.onvif.org/ver10/schema",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tr2": "http://www.onvif.org/ver20/media/wsdl",
    "tmd": "http://www.onvif.org/ver10/deviceIO/wsdl",
    "timg": "http://www.onvif.org/ver20/imaging/wsdl",
    "tev": "http://www.onvif.org/ver10/events/wsdl",
    "wsnt": "http://docs.oasis-open.org/wsn/b-2",
    "wsa": "http://www.w3.org/2005/08/addressing",
}
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST_TYPE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
HERE = os.path.dirname(os.path.abspath(__file__))


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def username_token(user, password, nonce=None, created=None):
    """The wsse:Security header ONVIF clients send: digest of nonce, Created and password."""
    nonce = nonce if nonce is not None else secrets.token_bytes(16)
    created = created or iso(datetime.datetime.now(datetime.timezone.utc))
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()
    return (f'<Security s:mustUnderstand="1" xmlns="{WSSE}"><UsernameToken><Username>{user}</Username>'
            f'<Password Type="{DIGEST_TYPE}">{digest}</Password>'
            f'<Nonce>{base64.b64encode(nonce).decode()}</Nonce>'
            f'<Created xmlns="{WSU}">{created}</Created></UsernameToken></Security>')


def envelope(body, header=""):
    return (f'<s:Envelope xmlns:s="{NS["env"]}" xmlns:a="{NS["wsa"]}" xmlns:tt="{NS["tt"]}">'
            f'<s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>')


class Reply:
    def __init__(self, status, headers, raw):
        self.status, self.headers, self.raw = status, headers, raw
        self.text = raw.decode("utf-8", errors="replace")
        try:
            self.root = ET.fromstring(raw) if raw else None
        except ET.ParseError:
            self.root = None

    def find(self, path):
        return self.root.find(path, NS) if self.root is not None else None

    def findall(self, path):
        return self.root.findall(path, NS) if self.root is not None else []

    @property
    def body(self):
        b = self.find("env:Body")
        return list(b)[0] if b is not None and len(b) else None

    @property
    def fault_codes(self):
        """Code value and every subcode value, e.g. ["env:Sender", "ter:InvalidArgVal", "ter:NoProfile"]."""
        return [v.text for v in self.root.iter(f"{{{NS['env']}}}Value")] if self.root is not None else []

    def is_fault(self, *codes):
        return all(c in self.fault_codes for c in codes)

    def texts(self, path):
        return [e.text for e in self.findall(path)]

    def __repr__(self):
        reason = self.find(".//env:Reason/env:Text")
        if reason is not None:
            return f"<Reply {self.status} fault {self.fault_codes}: {reason.text}>"
        body = self.text.split("<env:Body>", 1)[-1]
        return f"<Reply {self.status} {body[:800]}>"


def _digest(method, uri, user, password, challenge):
    algo = (re.search(r'algorithm=("?)([\w-]+)\1', challenge) or [None, None, "MD5"])[2]
    realm = re.search(r'realm="([^"]*)"', challenge).group(1)
    nonce = re.search(r'nonce="([^"]*)"', challenge).group(1)
    h = hashlib.sha256 if algo.upper().startswith("SHA-256") else hashlib.md5
    ha1 = h(f"{user}:{realm}:{password}".encode()).hexdigest()
    ha2 = h(f"{method}:{uri}".encode()).hexdigest()
    cnonce, nc = secrets.token_hex(8), "00000001"
    resp = h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", algorithm={algo}, '
            f'qop=auth, nc={nc}, cnonce="{cnonce}", response="{resp}"')


def request(port, method, path, body=b"", headers=None, host="127.0.0.1", timeout=15):
    """One HTTP/1.1 exchange; returns Reply (headers: lowercased name -> list of values)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        hdrs = {}
        for k, v in r.getheaders():
            hdrs.setdefault(k.lower(), []).append(v)
        return Reply(r.status, hdrs, r.read())
    finally:
        conn.close()


class Soap:
    """Calls to one gateway as one principal. auth: "ut" (UsernameToken), "digest", "none"."""

    def __init__(self, port, user=None, password=None, auth="ut", algorithm=None):
        self.port, self.user, self.password, self.auth, self.algorithm = port, user, password, auth, algorithm

    def post(self, path, xml, headers=None):
        hdrs = {"Content-Type": "application/soap+xml; charset=utf-8"}
        hdrs.update(headers or {})
        return request(self.port, "POST", path, xml.encode() if isinstance(xml, str) else xml, hdrs)

    def call(self, path, body, header="", token=None):
        if self.auth == "ut" and token is None and self.user:
            header = username_token(self.user, self.password) + header
        elif token is not None:
            header = token + header
        xml = envelope(body, header)
        if self.auth != "digest":
            return self.post(path, xml)
        first = self.post(path, xml)
        if first.status != 401:
            return first
        challenges = first.headers.get("www-authenticate", [])
        pick = [c for c in challenges if self.algorithm and f"algorithm={self.algorithm}" in c] or challenges
        return self.post(path, xml, {"Authorization": _digest("POST", path, self.user, self.password, pick[0])})

    # shorthands for the services
    def device(self, body, **kw):
        return self.call("/onvif/device_service", body, **kw)

    def media2(self, body, **kw):
        return self.call("/onvif/media2_service", body, **kw)

    def media1(self, body, **kw):
        return self.call("/onvif/media_service", body, **kw)

    def events(self, body, **kw):
        return self.call("/onvif/events_service", body, **kw)


def tr2(op, inner=""):
    return f'<{op} xmlns="{NS["tr2"]}">{inner}</{op}>'


def trt(op, inner=""):
    return f'<{op} xmlns="{NS["trt"]}">{inner}</{op}>'


def tds(op, inner=""):
    return f'<{op} xmlns="{NS["tds"]}">{inner}</{op}>'


def tev(op, inner=""):
    return f'<{op} xmlns="{NS["tev"]}">{inner}</{op}>'


def profile_tokens(reply):
    return [p.get("token") for p in reply.findall(".//tr2:Profiles")] or \
        [p.get("token") for p in reply.findall(".//trt:Profiles")]


def get_with_digest(port, path, user, password, host="127.0.0.1"):
    """An HTTP GET that answers a Digest challenge (the snapshot URI)."""
    first = request(port, "GET", path, host=host)
    if first.status != 401:
        return first
    challenge = first.headers["www-authenticate"][-1]	# MD5, like most snapshot clients
    return request(port, "GET", path, headers={"Authorization": _digest("GET", path, user, password, challenge)},
                   host=host)


def node_client(scenario, **opts):
    """Run onvif_client.js (npm onvif) and return its JSON result."""
    r = subprocess.run(["node", os.path.join(HERE, "onvif_client.js"), scenario, json.dumps(opts)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120, cwd=HERE)
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    assert lines, f"onvif_client.js {scenario} printed nothing: {r.stderr}"
    return json.loads(lines[-1])


def require_node_modules():
    path = os.path.join(HERE, "node_modules", "onvif")
    assert os.path.isdir(path), ("npm onvif is not installed: run `npm ci` in t/integration "
                                 "(contrib/install-deps.sh does)")
