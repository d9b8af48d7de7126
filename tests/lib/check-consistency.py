#!/usr/bin/env python3
"""The registry (as `warren user list --json` shows it) against passwd, group,
shadow, gshadow and the users base: the two-way agreement that crashes and
concurrent creates must not break.

    check-consistency.py LIST.json PREFIX USERS_BASE [--brief]

Prints `check<TAB>problems` lines (and a `tenants<TAB>N` line), or with
--brief only the checks that failed, one line each.
"""
import json, os, stat, sys
list_file, prefix, base = sys.argv[1:4]
users = json.load(open(list_file))["users"]
checks = {}
def add(name, problems):
    checks[name] = problems

def read(path, nfields):
    text = open(path, encoding="utf-8", errors="replace").read()
    probs, rows = [], []
    if text and not text.endswith("\n"):
        probs.append(f"{path} does not end in a newline")
    for n, line in enumerate(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"), 1):
        f = line.split(":")
        if len(f) != nfields:
            probs.append(f"{path}:{n} has {len(f)} fields: {line!r}")
        else:
            rows.append(f)
    return rows, probs

pw, p1 = read("/etc/passwd", 7)
gr, p2 = read("/etc/group", 4)
sh, p3 = read("/etc/shadow", 9)
gs, p4 = read("/etc/gshadow", 4)
add("every line of passwd, group, shadow, gshadow has its fields; no torn line", p1 + p2 + p3 + p4)

def dups(rows, col, what):
    seen, out = set(), []
    for r in rows:
        if r[col] in seen:
            out.append(f"{what} {r[col]} twice")
        seen.add(r[col])
    return out
add("no name or UID twice in passwd, no name or GID twice in group",
    dups(pw, 0, "passwd name") + dups(pw, 2, "UID") + dups(gr, 0, "group name") + dups(gr, 2, "GID"))
add("no name twice in shadow or gshadow", dups(sh, 0, "shadow name") + dups(gs, 0, "gshadow name"))

names = [u["linux_username"] for u in users]
uids = [u["linux_uid"] for u in users]
add("registry: account names all distinct", [n for n in set(names) if names.count(n) > 1][:5])
add("registry: UIDs all distinct", [str(u) for u in set(uids) if uids.count(u) > 1][:5])

P = {r[0]: r for r in pw}
G = {r[0]: r for r in gr}
S = {r[0]: r for r in sh}
GS = {r[0]: r for r in gs}
probs = []
for u in users:
    n, uid = u["linux_username"], u["linux_uid"]
    want = [n, "x", str(uid), str(uid), None, u["home_dir"], "/usr/sbin/nologin"]
    got = P.get(n)
    if got is None:
        probs.append(f"{n}: no passwd line")
    elif [g for g, w in zip(got, want) if w is not None] != [w for w in want if w is not None] \
            or u["linux_gid"] != uid:
        probs.append(f"{n}: passwd line {':'.join(got)} does not match uid {uid} home {u['home_dir']}")
add("every tenant has its passwd line (UID, GID = UID, home, nologin)", probs[:5])
add("every tenant has its group, GID = UID",
    [f"{u['linux_username']}: group {G.get(u['linux_username'])}" for u in users
     if G.get(u["linux_username"], [None] * 4)[2] != str(u["linux_uid"])][:5])
add("every tenant has a shadow line with a locked password",
    [u["linux_username"] for u in users
     if not S.get(u["linux_username"], ["", ""])[1][:1] in ("!", "*")][:5])
add("every tenant has a gshadow line",
    [u["linux_username"] for u in users if u["linux_username"] not in GS][:5])

mine = {u["linux_username"]: u for u in users}
other = []
for rows, what, col in ((pw, "passwd", 2), (gr, "group", 2), (sh, "shadow", None), (gs, "gshadow", None)):
    for r in rows:
        if r[0].startswith(prefix):
            u = mine.get(r[0])
            if u is None:
                other.append(f"{what}: {r[0]} has no registry row")
            elif col is not None and r[col] != str(u["linux_uid"]):
                other.append(f"{what}: {r[0]} has id {r[col]}, registry says {u['linux_uid']}")
add("every warren account in the account files has its registry row", other[:5])
add("one line per tenant in each of passwd, group, shadow, gshadow",
    [f"{what}: {c} {prefix} lines for {len(users)} tenants"
     for what, c in (("passwd", sum(r[0].startswith(prefix) for r in pw)),
                     ("group", sum(r[0].startswith(prefix) for r in gr)),
                     ("shadow", sum(r[0].startswith(prefix) for r in sh)),
                     ("gshadow", sum(r[0].startswith(prefix) for r in gs)))
     if c != len(users)])

probs = []
for u in users:
    try:
        st = os.lstat(u["home_dir"])
    except OSError as e:
        probs.append(f"{u['home_dir']}: {e.strerror}")
        continue
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != u["linux_uid"] or st.st_gid != u["linux_uid"] \
            or stat.S_IMODE(st.st_mode) != 0o700:
        probs.append(f"{u['home_dir']}: mode {oct(st.st_mode)} owner {st.st_uid}:{st.st_gid}")
add("every tenant's home is a directory it owns, mode 700", probs[:5])
homes = {os.path.basename(u["home_dir"]) for u in users}
add("every directory in the users base belongs to a tenant",
    sorted(set(os.listdir(base)) - homes)[:5] if os.path.isdir(base) else [f"{base} missing"])

if len(sys.argv) > 4 and sys.argv[4] == "--brief":
    for k, v in checks.items():
        if v:
            print(f"{k}: {' | '.join(v[:2])}")
else:
    print(f"tenants\t{len(users)}")
    for k, v in checks.items():
        print(f"{k}\t{' | '.join(v)}")
