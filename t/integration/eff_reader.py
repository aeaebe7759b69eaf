#!/usr/bin/python3
"""eff_reader.py FILE - an independent reader of an ONVIF Export File Format file.

Written from the specification (ONVIF ExportFileFormat 26.06, ISO/IEC
14496-12, ETSI TS 126 244 for loci), not from vssgate's C code, so that a
test can hold the exporter against it. It walks the box tree, checks the
places the EFF fixes (ftyp 'isom', moov, moof/mdat pairs with a tfdt in
every traf, the file-level meta last with one suep, ipro, sinf/schm/schi
with sibo and cert), decodes suep, cstb and loci with their epochs, and
verifies every signature with the openssl command (RSASSA-PSS, SHA-256,
salt 20) over the file with that signer's later sinf boxes removed and its
sibo zeroed. Prints what it found as JSON; exit status 1 if the structure
or a signature is wrong.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

EPOCH_1904_TO_1970 = 2082844800          # seconds
EPOCH_1601_TO_1970 = 11644473600         # seconds
CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta", b"moof", b"traf",
              b"mvex", b"dinf", b"sinf", b"schi"}


def boxes(data, start, end):
    """(type, offset, header size, size) of the boxes in data[start:end]."""
    pos = start
    while pos < end:
        if end - pos < 8:
            raise ValueError("torn box header at %d" % pos)
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        hdr = 8
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8:pos + 16])[0]
            hdr = 16
        elif size == 0:
            size = end - pos
        if kind == b"uuid":
            hdr += 16
        if size < hdr or pos + size > end:
            raise ValueError("box %r at %d runs past its parent" % (kind, pos))
        yield kind, pos, hdr, size
        pos += size


def cstrings(data, pos, count):
    out = []
    for _ in range(count):
        nul = data.index(b"\0", pos)
        out.append(data[pos:nul].decode("utf-8"))
        pos = nul + 1
    return out, pos


def read_suep(data, pos, end):
    version = data[pos]
    pos += 4
    (name, url, mac), pos = cstrings(data, pos, 3)
    unit_time = struct.unpack(">Q", data[pos:pos + 8])[0]
    pos += 8
    (operator,), pos = cstrings(data, pos, 1)
    count = struct.unpack(">I", data[pos:pos + 4])[0]
    pos += 4
    tracks = []
    for _ in range(count):
        track_id = struct.unpack(">H", data[pos:pos + 2])[0]
        (sname, surl, smac, sline), pos = cstrings(data, pos + 2, 4)
        tracks.append({"track_id": track_id, "source_name": sname, "source_url": surl,
                       "source_mac": smac, "source_line": sline})
    if pos > end:
        raise ValueError("suep runs past its box")
    return {"version": version, "unit_name": name, "unit_url": url, "unit_mac": mac,
            "export_time_1904": unit_time,
            "export_time_unix": unit_time - EPOCH_1904_TO_1970,
            "operator": operator, "tracks": tracks}


def read_cstb(data, pos):
    count = struct.unpack(">I", data[pos:pos + 4])[0]
    entries = []
    for i in range(count):
        track_id, start = struct.unpack(">IQ", data[pos + 4 + 12 * i:pos + 16 + 12 * i])
        # 100 ns intervals since 1601-01-01 -> microseconds since 1970-01-01
        entries.append((track_id, start, start // 10 - EPOCH_1601_TO_1970 * 1000000))
    return entries


def read_loci(data, pos):
    pos += 4 + 2                                  # FullBox, language
    (name,), pos = cstrings(data, pos, 1)
    role = data[pos]
    lon, lat, alt = struct.unpack(">iii", data[pos + 1:pos + 13])
    return {"name": name, "role": role, "longitude": lon / 65536.0,
            "latitude": lat / 65536.0, "altitude": alt / 65536.0}


def read_fragment(data, pos, end, report):
    for kind, p, hdr, size in boxes(data, pos + 8, end):
        if kind != b"traf":
            continue
        inner = [k for k, _, _, _ in boxes(data, p + hdr, p + size)]
        report["trafs"] += 1
        if b"tfdt" not in inner:
            report["tfdt_missing"] += 1


def read_signers(data, meta_pos, meta_hdr, meta_size, report):
    """The sinf boxes of meta/ipro: each one's boxes and where its sibo is."""
    signers = []
    ipro = None
    for kind, p, hdr, size in boxes(data, meta_pos + meta_hdr, meta_pos + meta_size):
        if kind == b"suep":
            report["suep_count"] += 1
            report["suep"] = read_suep(data, p + hdr, p + size)
        elif kind == b"ipro":
            ipro = (p, hdr, size)
            protection_count = struct.unpack(">H", data[p + hdr + 4:p + hdr + 6])[0]
            report["protection_count"] = protection_count
            for k2, p2, h2, s2 in boxes(data, p + hdr + 6, p + size):
                if k2 != b"sinf":
                    continue
                signer = {"sinf": (p2, s2)}
                for k3, p3, h3, s3 in boxes(data, p2 + h2, p2 + s2):
                    if k3 == b"schm":
                        signer["scheme"] = data[p3 + h3 + 4:p3 + h3 + 8].decode("latin-1")
                        signer["scheme_version"] = struct.unpack(">I", data[p3 + h3 + 8:p3 + h3 + 12])[0]
                    elif k3 == b"cstb":
                        signer["cstb"] = read_cstb(data, p3 + h3)
                    elif k3 == b"schi":
                        for k4, p4, h4, s4 in boxes(data, p3 + h3, p3 + s3):
                            if k4 == b"sibo":
                                signer["sibo"] = (p4 + h4, s4 - h4)
                            elif k4 == b"cert":
                                signer["cert"] = data[p4 + h4:p4 + s4]
                            elif k4 == b"cstb":
                                signer["cstb"] = read_cstb(data, p4 + h4)
                signers.append(signer)
        elif kind == b"cstb":
            report["meta_cstb"] = read_cstb(data, p + hdr)
    return signers, ipro


def verify_signer(data, k, signers, ipro, meta_pos, meta_hdr):
    """EFF 'Repeated signing': drop the later sinfs, fix two sizes, zero sibo, verify."""
    sinf_pos, sinf_size = signers[k]["sinf"]
    cut = sinf_pos + sinf_size
    ipro_pos, ipro_hdr, ipro_size = ipro
    removed = ipro_pos + ipro_size - cut
    view = bytearray(data[:cut]) + data[ipro_pos + ipro_size:]
    for pos, hdr in ((meta_pos, meta_hdr), (ipro_pos, ipro_hdr)):
        size = struct.unpack(">I", view[pos:pos + 4])[0]
        if size == 1:
            big = struct.unpack(">Q", view[pos + 8:pos + 16])[0] - removed
            view[pos + 8:pos + 16] = struct.pack(">Q", big)
        else:
            view[pos:pos + 4] = struct.pack(">I", size - removed)
    sig_pos, sig_len = signers[k]["sibo"]
    signature = bytes(view[sig_pos:sig_pos + sig_len])
    view[sig_pos:sig_pos + sig_len] = bytes(sig_len)
    with tempfile.TemporaryDirectory() as d:
        paths = {n: os.path.join(d, n) for n in ("data", "sig", "cert.der", "pub.pem")}
        for name, content in (("data", view), ("sig", signature), ("cert.der", signers[k]["cert"])):
            with open(paths[name], "wb") as f:
                f.write(content)
        subprocess.run(["openssl", "x509", "-inform", "DER", "-in", paths["cert.der"],
                        "-pubkey", "-noout", "-out", paths["pub.pem"]], check=True,
                       capture_output=True)
        r = subprocess.run(["openssl", "dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss",
                            "-sigopt", "rsa_pss_saltlen:20", "-sigopt", "rsa_mgf1_md:sha256",
                            "-verify", paths["pub.pem"], "-signature", paths["sig"],
                            paths["data"]], capture_output=True)
        return r.returncode == 0


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    report = {"file": path, "errors": [], "top": [], "fragments": 0, "trafs": 0,
              "tfdt_missing": 0, "suep_count": 0}
    top = list(boxes(data, 0, len(data)))
    report["top"] = [k.decode("latin-1") for k, _, _, _ in top][:8]
    if not top or top[0][0] != b"ftyp" or data[8:12] != b"isom":
        report["errors"].append("ftyp with major brand isom must come first")
    meta = None
    for i, (kind, pos, hdr, size) in enumerate(top):
        if kind == b"moov":
            for k2, p2, h2, s2 in boxes(data, pos + hdr, pos + size):
                if k2 == b"udta":
                    for k3, p3, h3, s3 in boxes(data, p2 + h2, p2 + s2):
                        if k3 == b"loci":
                            loci = read_loci(data, p3 + h3)
                            report["loci_latitude"] = loci["latitude"]
                            report["loci_longitude"] = loci["longitude"]
                            report["loci_name"] = loci["name"]
        elif kind == b"moof":
            report["fragments"] += 1
            read_fragment(data, pos, pos + size, report)
            if i + 1 >= len(top) or top[i + 1][0] != b"mdat":
                report["errors"].append("moof at %d is not followed by mdat" % pos)
        elif kind == b"meta":
            meta = (pos, hdr + 4, size)         # FullBox: version and flags
    report["meta_is_last"] = bool(top) and top[-1][0] == b"meta"
    if meta is None:
        report["errors"].append("no file-level meta")
        return report
    signers, ipro = read_signers(data, meta[0], meta[1], meta[2], report)
    if report["suep_count"] != 1:
        report["errors"].append("%d suep boxes" % report["suep_count"])
    report["signers"] = []
    valid = bool(signers) and ipro is not None
    for k, s in enumerate(signers):
        ok = "sibo" in s and "cert" in s and verify_signer(data, k, signers, ipro, meta[0], meta[1])
        valid = valid and ok
        report["signers"].append({"scheme": s.get("scheme"), "valid": ok,
                                  "scheme_version": s.get("scheme_version")})
        if "cstb" in s and "cstb_start_1601" not in report:
            report["cstb_start_1601"] = s["cstb"][0][1]
            report["cstb_start_unix_us"] = s["cstb"][0][2]
    report["signature_valid"] = valid
    return report


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        report = read(sys.argv[1])
    except (ValueError, IndexError, struct.error) as e:
        print(json.dumps({"file": sys.argv[1], "errors": [str(e)]}))
        return 1
    print(json.dumps(report, indent=2))
    return 0 if not report["errors"] and report.get("signature_valid") else 1


if __name__ == "__main__":
    sys.exit(main())
