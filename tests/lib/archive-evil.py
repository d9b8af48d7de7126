#!/usr/bin/env python3
"""Builds the malicious archives of tests/integration/archive-malicious.sh.

    archive-evil.py OUTDIR TENANT VICTIM_DIR GENUINE.tar.zst

Each archive OUTDIR/<case>.tar.gz (or .tar.zst, .bin) attacks the import of
TENANT: pactown-layout ones (top directory pactown_<8 hex of sha256(TENANT)>,
owned by 60001) and altered copies of GENUINE, a real warren export of TENANT.
VICTIM_DIR is a host directory the attacks aim at."""
import gzip
import hashlib
import io
import os
import subprocess
import sys
import tarfile

out, tenant, victim, genuine = sys.argv[1:5]
top = "pactown_" + hashlib.sha256(tenant.encode()).hexdigest()[:8]
UID = 60001


def info(name, type=tarfile.REGTYPE, size=0, mode=0o644, uid=UID, **kw):
    t = tarfile.TarInfo(name)
    t.type, t.size, t.mode, t.uid, t.gid = type, size, mode, uid, uid
    t.mtime = 1700000000
    for k, v in kw.items():
        setattr(t, k, v)
    return t


def base(t, top=top):
    t.addfile(info(top, tarfile.DIRTYPE, mode=0o700))
    t.addfile(info(top + "/sandboxes", tarfile.DIRTYPE, mode=0o700))
    data = b"print('hello')\n"
    t.addfile(info(top + "/sandboxes/main.py", size=len(data)), io.BytesIO(data))


def pactown(name, members, fmt=tarfile.GNU_FORMAT, top_=top, with_base=True):
    with tarfile.open(os.path.join(out, name + ".tar.gz"), "w:gz", format=fmt) as t:
        if with_base:
            base(t, top_)
        for m, data in members:
            t.addfile(m, io.BytesIO(data) if data is not None else None)


def file(name, data=b"x", **kw):
    return (info(name, size=len(data), **kw), data)


# Paths that leave the home.
pactown("abs-path", [file(victim + "/evil-abs")])
pactown("dotdot", [file(top + "/../../../../" + victim.lstrip("/") + "/evil-dotdot")])
pactown("dotdot-inner", [file(top + "/sandboxes/../../evil-inner")])
# A symlink, then a file written through it.
pactown("symlink-then-file", [
    (info(top + "/sandboxes/out", tarfile.SYMTYPE, linkname=victim), None),
    file(top + "/sandboxes/out/evil-through-link")])
pactown("symlink-relative-then-file", [
    (info(top + "/up", tarfile.SYMTYPE, linkname="../../../../../../../" + victim.lstrip("/")), None),
    file(top + "/up/evil-through-rel-link")])
# Hard links to what the archive does not hold.
pactown("hardlink-host", [(info(top + "/passwd", tarfile.LNKTYPE, linkname="/etc/passwd"), None)])
pactown("hardlink-other-tenant", [
    (info(top + "/stolen", tarfile.LNKTYPE, linkname=top + "/../warren_0000bob0/secret"), None)])
pactown("hardlink-missing", [(info(top + "/ghost", tarfile.LNKTYPE, linkname=top + "/not-there"), None)])
pactown("hardlink-to-symlink", [
    (info(top + "/l", tarfile.SYMTYPE, linkname="/etc/shadow"), None),
    (info(top + "/h", tarfile.LNKTYPE, linkname=top + "/l"), None)])
# Device nodes and other special files.
pactown("chardev", [(info(top + "/null", tarfile.CHRTYPE, devmajor=1, devminor=3), None)])
pactown("blockdev", [(info(top + "/disk", tarfile.BLKTYPE, devmajor=8, devminor=0), None)])
pactown("fifo", [(info(top + "/pipe", tarfile.FIFOTYPE), None)])
# File capabilities in an xattr (pax SCHILY.xattr).
pactown("xattr-caps", [file(top + "/sandboxes/ping", mode=0o755,
                            pax_headers={"SCHILY.xattr.security.capability": "\x01\x00\x00\x02"})],
        fmt=tarfile.PAX_FORMAT)
# Foreign owners: root's, another account's.
pactown("owner-root", [file(top + "/sandboxes/rootfile", uid=0)])
pactown("owner-other", [file(top + "/sandboxes/theirs", uid=60002)])
# Layout.
pactown("second-top", [file("elsewhere/file")])
pactown("duplicate", [file(top + "/sandboxes/main.py", b"again")])
pactown("unknown-layout", [file("random/file")], with_base=False)
pactown("other-tenant", [], top_="pactown_" + hashlib.sha256(b"mallory").hexdigest()[:8])
with open(os.path.join(out, "not-an-archive.bin"), "wb") as f:
    f.write(os.urandom(100000))
# A decompression bomb: 300 MB of zeros in a few hundred KB.
with tarfile.open(os.path.join(out, "bomb.tar.gz"), "w:gz", compresslevel=9) as t:
    base(t)
    t.addfile(info(top + "/zeros", size=300 << 20), io.BytesIO(bytes(300 << 20)))
# Set-id and sticky bits: imported, without them.
pactown("setid", [
    file(top + "/sandboxes/suid", mode=0o4755),
    (info(top + "/sandboxes/sgid-dir", tarfile.DIRTYPE, mode=0o2755), None),
    (info(top + "/sandboxes/sticky", tarfile.DIRTYPE, mode=0o1777), None)])

# Altered copies of a genuine warren export.
raw = subprocess.run(["zstd", "-dc", genuine], check=True, capture_output=True).stdout
src = tarfile.open(fileobj=io.BytesIO(raw))
members = [(m, src.extractfile(m).read() if m.isfile() else None) for m in src.getmembers()]


def warren(name, ms, cut=None, flip=None):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for m, data in ms:
            if data is not None:
                m.size = len(data)
            t.addfile(m, io.BytesIO(data) if data is not None else None)
    comp = subprocess.run(["zstd", "-q", "-c"], input=buf.getvalue(), check=True,
                          capture_output=True).stdout
    if cut:
        comp = comp[: int(len(comp) * cut)]
    if flip:
        b = bytearray(comp)
        for i in range(len(b) // 2, len(b) // 2 + 64):
            b[i] ^= 0x5A
        comp = bytes(b)
    with open(os.path.join(out, name + ".tar.zst"), "wb") as f:
        f.write(comp)


def tamper(ms):
    done = False
    res = []
    for m, data in ms:
        if not done and m.isfile() and m.name.startswith("home/") and data:
            data = bytes([data[0] ^ 1]) + data[1:]
            done = True
        res.append((m, data))
    return res


warren("tampered", tamper(members))
extra = info("home/sandboxes/smuggled", size=4, uid=members[1][0].uid)
extra.gid = members[1][0].gid
warren("not-in-manifest", members[:-1] + [(extra, b"evil")] + members[-1:])
warren("no-manifest", members[:-1])
warren("manifest-first", [members[0], members[-1]] + members[1:-1])
warren("truncated", members, cut=0.5)
warren("corrupt", members, flip=True)
hdr = members[0]
warren("header-twice", [hdr] + members)
