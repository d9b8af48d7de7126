#!/usr/bin/env python3
"""Prints a fingerprint of a directory tree for the archive tests, one line per
entry, sorted: path, type, mode, mtime in ns, and for a file its size and
sha256, for a symlink its target, and for a file with several links the first
path of its link group. Owners are left out (they differ between hosts by
design); `--owners` prints the set of uid:gid found instead.

    archive-tree.py DIR [--owners] [--no-top] [--seconds]
"""
import hashlib
import os
import stat
import sys


def walk(root):
    yield ""
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for n in sorted(dirnames + filenames):
            yield n if rel == "." else os.path.join(rel, n)


def main():
    root = os.fsencode(sys.argv[1])
    owners = "--owners" in sys.argv
    no_top = "--no-top" in sys.argv
    # GNU tar's own format keeps whole seconds only.
    secs = "--seconds" in sys.argv
    groups, seen_owners, lines = {}, set(), []
    for rel in sorted(walk(root.decode("utf-8", "surrogateescape"))):
        p = os.path.join(root, os.fsencode(rel)) if rel else root
        st = os.lstat(p)
        mtime = st.st_mtime_ns // 10**9 * 10**9 if secs else st.st_mtime_ns
        seen_owners.add(f"{st.st_uid}:{st.st_gid}")
        kind = stat.S_IFMT(st.st_mode)
        mode = oct(stat.S_IMODE(st.st_mode))
        name = os.fsencode(rel).hex() if rel else "."
        if no_top and not rel:
            continue
        if stat.S_ISDIR(st.st_mode):
            lines.append(f"{name} dir {mode} {mtime}")
        elif stat.S_ISLNK(st.st_mode):
            lines.append(f"{name} link {os.readlink(p).hex()} {mtime}")
        elif stat.S_ISREG(st.st_mode):
            with open(p, "rb") as f:
                h = hashlib.sha256(f.read()).hexdigest()
            link = ""
            if st.st_nlink > 1:
                link = " group=" + groups.setdefault((st.st_dev, st.st_ino), name)
            lines.append(f"{name} file {mode} {mtime} {st.st_size} {h}{link}")
        else:
            lines.append(f"{name} other {kind}")
    if owners:
        print(" ".join(sorted(seen_owners)))
    else:
        print("\n".join(lines))


main()
