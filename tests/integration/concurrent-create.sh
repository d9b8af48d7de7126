# Two processes creating 500 tenants each at the same time: no duplicate UID or
# name, the account files still parse (pwck, grpck), and the registry and the
# account files describe the same accounts, in both directions.
source "$WARREN_SRC/tests/lib/tap.sh"

prefix=warren_
per_loop=${WARREN_CONCURRENT_N:-500}

# consistency: the registry (as `user list --json` shows it) against passwd,
# group, shadow, gshadow and the users base. One TAP check per property; each
# lists the first offending entries.
consistency() {
  local list=$TEST_TMP/list.json checks=$TEST_TMP/checks name probs
  "$WARREN" user list --json >"$list" 2>"$TEST_TMP/list.err"
  is "user list --json succeeds" "$?" 0
  python3 - "$list" "$prefix" "$WARREN_USERS_BASE" >"$checks" 2>&1 <<'EOF'
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

print(f"tenants\t{len(users)}")
for k, v in checks.items():
    print(f"{k}\t{' | '.join(v)}")
EOF
  local prc=$?
  is "the consistency checker ran" "$prc" 0
  if [ "$prc" != 0 ]; then
    sed 's/^/#   /' "$checks"
    return
  fi
  while IFS=$'\t' read -r name probs; do
    case $name in
    tenants) ntenants=$probs ;;
    *) is "$name" "${probs:-}" "" ;;
    esac
  done <"$checks"
}

# pwck and grpck, read-only: errors (torn or duplicate lines, entries missing
# from shadow or gshadow) make them exit 2; -q leaves out warnings about host
# accounts (homes of system users missing here). Without -q they would also
# warn about a warren account whose group or home is missing: none may appear.
account_tools() {
  local o r
  o=$(pwck -r -q 2>&1); r=$?
  is "pwck -r -q finds no error" "$r:$(head -6 <<<"$o")" "0:"
  o=$(grpck -r -q 2>&1); r=$?
  is "grpck -r -q finds no error" "$r:$(head -6 <<<"$o")" "0:"
  is "pwck -r has no warning about a warren account" "$(pwck -r 2>&1 | grep -- "$prefix")" ""
  is "grpck -r has no warning about a warren group" "$(grpck -r 2>&1 | grep -- "$prefix")" ""
}

# While the writers run, a reader keeps checking what a reader may rely on at
# any instant: every line whole, and (the files are appended group first) every
# warren account's group already there when its passwd line is.
watch_files() {
  local samples=0 bad=0
  while [ ! -e "$TEST_TMP/done" ]; do
    python3 - "$prefix" >>"$TEST_TMP/watch.log" 2>&1 <<'EOF' || bad=$((bad + 1))
import sys
prefix = sys.argv[1]
pw = open("/etc/passwd").read()
gr = open("/etc/group").read()
bad = [l for l in pw.splitlines() if len(l.split(":")) != 7]
bad += [l for l in gr.splitlines() if len(l.split(":")) != 4]
gids = {l.split(":")[2] for l in gr.splitlines() if len(l.split(":")) == 4}
bad += [l for l in pw.splitlines() if l.startswith(prefix) and len(l.split(":")) == 7
        and l.split(":")[3] not in gids]
if bad or not pw.endswith("\n") or not gr.endswith("\n"):
    print("torn or inconsistent:", bad[:3])
    sys.exit(1)
EOF
    samples=$((samples + 1))
    sleep 0.2
  done
  echo "$samples $bad" >"$TEST_TMP/watch.result"
}

create_many() { # TAG COUNT
  local fails=0 i
  for ((i = 0; i < $2; i++)); do
    "$WARREN" user create "concurrent-$1-$i@example.com" >/dev/null 2>>"$TEST_TMP/err-$1" ||
      fails=$((fails + 1))
  done
  echo "$fails" >"$TEST_TMP/fails-$1"
}

watch_files &
watcher=$!
start=$(date +%s.%N)
create_many a "$per_loop" &
pa=$!
create_many b "$per_loop" &
pb=$!
wait "$pa" "$pb"
end=$(date +%s.%N)
touch "$TEST_TMP/done"
wait "$watcher"
awk -v a="$start" -v b="$end" -v n=$((2 * per_loop)) \
  'BEGIN { printf "# %d creates in two parallel loops took %.1f s\n", n, b - a }'

# failures FILE ERRFILE: the count, followed by the first errors if any.
failures() {
  local n
  n=$(cat "$1" 2>/dev/null || echo "no result")
  echo "$n"
  [ "$n" = 0 ] || head -3 "$2"
}
is "loop a: every create succeeded" "$(failures "$TEST_TMP/fails-a" "$TEST_TMP/err-a")" 0
is "loop b: every create succeeded" "$(failures "$TEST_TMP/fails-b" "$TEST_TMP/err-b")" 0
read -r samples bad <"$TEST_TMP/watch.result"
echo "# the reader sampled the account files $samples times during the creates"
is "a reader never saw a torn line or a passwd line before its group" \
  "$(failures <(echo "$bad") "$TEST_TMP/watch.log")" 0
ok "the reader took samples" test "$samples" -gt 0

ntenants=
consistency
is "the registry lists all $((2 * per_loop)) tenants" "$ntenants" $((2 * per_loop))
run_warren user list --json
is "user list --json says count $((2 * per_loop))" "$(json 'd["count"]' <<<"$out" 2>&1)" $((2 * per_loop))
is "the registry holds exactly the ids both loops created" \
  "$(json '"\n".join(sorted(u["saas_user_id"] for u in d["users"]))' <<<"$out" | sha256sum)" \
  "$(for t in a b; do for ((i = 0; i < per_loop; i++)); do echo "concurrent-$t-$i@example.com"; done; done |
    sort | sha256sum)"
is "no registry row is left in flight" \
  "$(sqlite3 "$WARREN_STATE_DIR/registry.db" 'select count(*) from tenants where state != 1' 2>&1)" 0
account_tools
is "getent agrees with the files: $((2 * per_loop)) warren accounts" \
  "$(getent passwd | grep -c "^$prefix")" $((2 * per_loop))

done_testing
