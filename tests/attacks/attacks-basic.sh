# THREATS.md at --level basic: tenant A (mallory) attacks tenant B (victim)
# and the host from inside a run, through warren-probe (tests/probe) and a
# few shell commands. A case passes when the attack fails. Each attack that
# basic does not stop (it shares /tmp, IPC, the network and /proc with the
# host) is a `# SKIP` line naming the level that does, so the table in
# docs/ISOLATION.md and this file stay the same list. Most refusals come with
# a control: the same check where it must succeed, so that a probe or a
# harness that could never succeed cannot pass for isolation.
source "$WARREN_SRC/tests/lib/tap.sh"
PROBE=${WARREN_PROBE:?WARREN_PROBE must name the warren-probe binary}

export WARREN_ADMIN_TOKEN=secret AWS_SECRET=x
base=$WARREN_USERS_BASE
cg_mount=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
# Scratch names in the host's /tmp and /dev/shm, which basic shares.
shared=warren-attack-$$
trap 'rm -f /tmp/$shared* /dev/shm/$shared*' EXIT

skip() { # DESCRIPTION REASON: a row this level does not claim
  _tap_n=$((_tap_n + 1))
  echo "ok $_tap_n - $1 # SKIP $2"
}

# tenant NAME VAR: creates the tenant, its "probe" sandbox with the probe in
# it (the tenant's own copy: later levels will not see the build directory),
# and sets VAR_name, VAR_uid, VAR_home, VAR_sbx.
tenant() {
  local j
  j=$("$WARREN" user create "$1" --json)
  printf -v "$2_name" %s "$(echo "$j" | json 'd["linux_username"]')"
  printf -v "$2_uid" %s "$(echo "$j" | json 'd["linux_uid"]')"
  printf -v "$2_home" %s "$(echo "$j" | json 'd["home_dir"]')"
  local sbx
  sbx=$("$WARREN" sandbox path "$1" probe)
  printf -v "$2_sbx" %s "$sbx"
  local u=$2_uid
  install -o "${!u}" -g "${!u}" -m 0755 "$PROBE" "$sbx/warren-probe"
}
tenant mallory A
tenant victim B

as_uid() { local u=$1; shift; setpriv --reuid "$u" --regid "$u" --clear-groups "$@"; }

# probe TENANT ARGS...: the tenant's probe at basic in its sandbox; the
# report in $report. pexe TENANT EXE ARGS...: another executable likewise.
pexe() {
  local t=$1 exe=$2; shift 2
  run_warren run --level basic "$t" --service probe -- "$exe" "$@"
  report=$out
  [ "$rc" = 0 ] || echo "# warren run $t $exe: exit $rc: $err"
}
probe() { local t=$1; shift; pexe "$t" ./warren-probe "$@"; }
q() { printf '%s' "$report" | json "$1"; }

# refused DESCRIPTION N ERRNOS: check N of the report failed with one of ERRNOS
# (a regex). allowed DESCRIPTION N: check N succeeded.
refused() {
  local got
  got=$(q "(lambda c: 'ok' if c['ok'] else c['errno'])(d['checks'][$2])" 2>&1)
  like "$1" "$got" "^($3)\$"
}
allowed() { is "$1" "$(q "d['checks'][$2]['ok']" 2>&1)" True; }

# --- Identity and privilege ----------------------------------------------------

# A setuid-root copy of the probe in A's sandbox: no_new_privs makes exec
# ignore the bit. The control runs it as A without warren: the bit works on
# this filesystem, so the run's answer means something.
install -o root -g root -m 4755 "$PROBE" "$A_sbx/probe-suid"
pexe mallory ./probe-suid --read /etc/shadow
is "setuid-root binary in the sandbox: euid stays the tenant's" "$(q '[d["uid"]["effective"], d["uid"]["saved"]]')" "[$A_uid, $A_uid]"
is "  and no capabilities" "$(q 'int(d["caps"]["effective"], 16)')" 0
refused "  and /etc/shadow stays unreadable" 0 EACCES
report=$(as_uid "$A_uid" "$A_sbx/probe-suid")
is "  (control: the same binary outside warren gets euid 0)" "$(q 'd["uid"]["effective"]')" 0

# File capabilities are ignored the same way.
if install -o root -g root -m 0755 "$PROBE" "$A_sbx/probe-fcaps" &&
   setcap cap_dac_read_search=ep "$A_sbx/probe-fcaps" 2>/dev/null; then
  pexe mallory ./probe-fcaps --read /etc/shadow
  is "file capabilities (cap_dac_read_search): none in the run" "$(q 'int(d["caps"]["effective"], 16) | int(d["caps"]["permitted"], 16)')" 0
  refused "  and /etc/shadow stays unreadable" 0 EACCES
  report=$(as_uid "$A_uid" "$A_sbx/probe-fcaps" --read /etc/shadow)
  allowed "  (control: outside warren the capability reads /etc/shadow)" 0
else
  skip "file capabilities are ignored" "setcap does not work on this filesystem"
fi
run_warren run --level basic mallory -- passwd --status root
ok "passwd --status root (setuid root) fails in the run (exit $rc)" test "$rc" != 0

skip "nested user namespace / setgroups after unshare -U" \
  "basic level allows new user namespaces (strong level refuses them)"

# The caller's supplementary groups and environment: warren started with
# groups 0 and 4 and tokens in its environment.
report=$(setpriv --groups 0,4 -- "$A_sbx/warren-probe")
is "  (control: setpriv gives the caller groups 0 and 4)" "$(q 'sorted(d["groups"])')" "[0, 4]"
out=$(setpriv --groups 0,4 -- env DAEMON_TOKEN=t0ken "$WARREN" run --level basic mallory --service probe -- ./warren-probe)
report=$out
is "the caller's groups 0 and 4 do not reach the run" "$(q "set(d['groups']) <= {$A_uid}")" True
is "the caller's environment does not reach the run" \
  "$(q '[k for k in ("DAEMON_TOKEN", "WARREN_ADMIN_TOKEN", "AWS_SECRET") if k in d["env"]]')" "[]"

# --- Host binary and file descriptors -----------------------------------------

# /proc/self/exe of a root-owned program, and warren's own binary and
# environment (it holds WARREN_ADMIN_TOKEN) through /proc/<warren>.
install -o root -g root -m 0755 "$PROBE" "$A_sbx/probe-root"
pexe mallory ./probe-root --write /proc/self/exe
refused "write /proc/self/exe of a root-owned program: refused" 0 'EACCES|ETXTBSY|EPERM'
run_warren run --level basic mallory --service probe --shell \
  'exec ./warren-probe --write /proc/$PPID/exe --read /proc/$PPID/environ --list /proc/$PPID/fd --read /proc/$PPID/mem'
report=$out
like "  (the parent the run sees is warren, pid $(q 'd["ppid"]'))" "$(q 'd["checks"][0]["path"]')" "^/proc/$(q 'd["ppid"]')/exe$"
refused "write warren's binary through /proc/<warren>/exe: refused" 0 'EACCES|EPERM|ETXTBSY'
refused "read warren's environment (its tokens): refused" 1 'EACCES|EPERM'
refused "list warren's fds: refused" 2 'EACCES|EPERM'
refused "read warren's memory: refused" 3 'EACCES|EPERM'

# A host fd that warren's caller left open without close-on-exec: the run
# must not get it (runc CVE-2024-21626).
exec 7</etc/shadow
report=$(as_uid "$A_uid" "$A_sbx/warren-probe")
is "  (control: without warren, fd 7 is inherited)" "$(q '7 in [f["fd"] for f in d["fds"]]')" True
probe mallory --read /proc/self/fd/7
exec 7<&-
is "a host fd open in warren's caller is not inherited: only 0, 1, 2" "$(q '[f["fd"] for f in d["fds"]]')" "[0, 1, 2]"
refused "  /proc/self/fd/7 does not exist in the run" 0 ENOENT

skip "the daemon's fd count across create/run/delete" "a daemon matter, not a run's: bench/api holds 1,000 connections and checks the daemon's fds before and after"

# --- Processes -------------------------------------------------------------------

# B's sleeping probe and one of A's own for the controls.
"$WARREN" run --level basic victim --service probe -- ./warren-probe --sleep 60 >"$TEST_TMP/b.json" &
b_warren=$!
"$WARREN" run --level basic mallory --service probe -- ./warren-probe --sleep 60 >"$TEST_TMP/a.json" &
a_warren=$!
for _ in $(seq 100); do [ -s "$TEST_TMP/b.json" ] && [ -s "$TEST_TMP/a.json" ] && break; sleep 0.1; done
bpid=$(json 'd["pid"]' <"$TEST_TMP/b.json")
bhost=$(json 'd["ppid"]' <"$TEST_TMP/b.json") # warren, root, running B's run
apid=$(json 'd["pid"]' <"$TEST_TMP/a.json")

probe mallory --kill "$bpid" --kill "$bpid:15" --ptrace "$bpid" --vm-read "$bpid" \
  --read "/proc/$bpid/environ" --read "/proc/$bpid/maps" --list "/proc/$bpid/fd" \
  --read "/proc/$bpid/mem" --list "/proc/$bpid/cwd" --read "/proc/$bpid/cmdline"
refused "kill -0 of B's process: EPERM" 0 EPERM
refused "SIGTERM to B's process: EPERM" 1 EPERM
refused "ptrace B's process: EPERM" 2 EPERM
refused "process_vm_readv of B's process: EPERM" 3 'EPERM|ESRCH'
refused "read B's /proc/<pid>/environ: EACCES" 4 'EACCES|EPERM'
refused "read B's /proc/<pid>/maps: EACCES" 5 'EACCES|EPERM'
refused "list B's /proc/<pid>/fd: EACCES" 6 'EACCES|EPERM'
refused "read B's /proc/<pid>/mem: EACCES" 7 'EACCES|EPERM'
refused "list B's cwd through /proc/<pid>/cwd: EACCES" 8 'EACCES|EPERM'
ok "  B's process survived (pid $bpid)" kill -0 "$bpid"
skip "B's /proc/<pid>/cmdline and B's pids are hidden from A" \
  "basic level shares /proc and the pid namespace (container level hides them)"

probe mallory --kill "$bhost" --ptrace "$bhost" --vm-read "$bhost" --read "/proc/$bhost/environ" \
  --kill 1 --ptrace 1 --read /proc/1/environ
refused "kill -0 of warren (root): EPERM" 0 EPERM
refused "ptrace warren: EPERM" 1 EPERM
refused "process_vm_readv of warren: EPERM" 2 'EPERM|ESRCH'
refused "read warren's environ: EACCES" 3 'EACCES|EPERM'
refused "kill -0 of pid 1: EPERM" 4 EPERM
refused "ptrace pid 1: EPERM" 5 EPERM
refused "read pid 1's environ: EACCES" 6 'EACCES|EPERM'

# Controls: the same checks against A's own process succeed.
probe mallory --kill "$apid" --ptrace "$apid" --vm-read "$apid" --read "/proc/$apid/environ"
allowed "  (control: kill -0 of A's own process works)" 0
allowed "  (control: ptrace of A's own process works)" 1
is "  (control: process_vm_readv of A's own process is permitted)" "$(q 'd["checks"][2]["permitted"]')" True
allowed "  (control: A reads its own process's environ)" 3
kill "$bpid" "$apid"
wait "$b_warren" "$a_warren" 2>/dev/null

for row in "keyrings" "AF_VSOCK" "flock on shared inodes" "io_uring" "SysV IPC (shm, semaphores, queues)" "abstract unix sockets"; do
  skip "no channel between tenants through $row" \
    "basic level does not isolate $row (container level does; keyrings and io_uring: strong level)"
done

# /tmp and /dev/shm: shared at basic, so only the permission outcome is
# claimed: what A makes with the run's umask 077, B cannot read.
for dir in /tmp /dev/shm; do
  f=$dir/$shared-a
  exits "A leaves a file in $dir" 0 run --level basic mallory --shell "echo a-secret > $f"
  is "  made 0600 by the run's umask" "$(stat -c %a "$f")" 600
  probe victim --read "$f" --write "$f"
  refused "  B cannot read it" 0 EACCES
  refused "  B cannot write it" 1 EACCES
  probe mallory --read "$f"
  allowed "  (control: A reads it back)" 0
done
skip "B cannot see the names of A's files in /tmp and /dev/shm" \
  "basic level shares /tmp and /dev/shm (container level gives private ones)"
skip "files in /tmp and /dev/shm do not survive into the next run" \
  "basic level shares /tmp and /dev/shm (container level gives private ones)"

# TIOCSTI: the run gets the caller's terminal as stdin but not as its
# controlling terminal (new session), so it cannot type into the caller's
# shell. The pty stands for the admin's terminal; after the run, whatever
# was injected would be waiting in its input.
tiocsti_out=$(python3 - "$WARREN" <<'EOF'
import os, pty, subprocess, sys, termios, fcntl, json, tty
master, slave = pty.openpty()
tty.setraw(slave)  # so that FIONREAD counts a byte without a newline too
p = subprocess.run([sys.argv[1], "run", "--level", "basic", "mallory", "--service", "probe",
                    "--", "./warren-probe", "--tiocsti", "0", "--tiocsti-high", "0"],
                   stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
# Anything typed into the terminal is in the slave's input queue now.
n = fcntl.ioctl(slave, termios.FIONREAD, b"\0\0\0\0")
report = json.loads(p.stdout)
print(json.dumps({"rc": p.returncode, "queued": int.from_bytes(n, "little"),
                  "checks": report["checks"]}))
EOF
)
report=$tiocsti_out
is "TIOCSTI into the caller's terminal: the run exits 0" "$(q 'd["rc"]')" 0
refused "  TIOCSTI refused" 0 'EPERM|EIO'
refused "  TIOCSTI with bit 32 set refused" 1 'EPERM|EIO'
is "  nothing was typed into the caller's terminal" "$(q 'd["queued"]')" 0
if [ "$(cat /proc/sys/dev/tty/legacy_tiocsti 2>/dev/null || echo 1)" = 1 ]; then
  run_warren run --level basic mallory --service probe --tty -- ./warren-probe --tiocsti 0 </dev/null
  report="{${out#*\{}" # the terminal echoes the injected byte before the report
  allowed "  (control: TIOCSTI on the run's own --tty terminal works)" 0
fi
skip "TIOCLINUX" "no virtual console to reach at basic level (strong level refuses the ioctl)"

# --- Filesystem ----------------------------------------------------------------

# Links A plants where warren resolves the sandbox: never followed.
marker=$TEST_TMP/ran
as_uid "$A_uid" ln -s "$B_sbx" "$A_home/sandboxes/steal"
as_uid "$A_uid" ln -s /etc "$A_home/sandboxes/etc"
for svc in steal etc; do
  rm -f "$marker"
  run_warren run --level basic mallory --service "$svc" --shell "touch $marker"
  ok "--service through A's link sandboxes/$svc is refused (exit $rc)" test "$rc" != 0
  ok "  nothing ran" test ! -e "$marker"
done
is "  B's sandbox is still B's" "$(stat -c %U "$B_sbx")" "$B_name"
for svc in .. ../victim /etc a/b $'a\nb' ''; do
  rm -f "$marker"
  exits "--service $(printf %q "$svc") is refused" 125 run --level basic mallory --service "$svc" --shell "touch $marker"
  ok "  nothing ran" test ! -e "$marker"
done

# Mounts: the run has no capability to mount; a mount in a user namespace
# of its own stays there.
as_uid "$A_uid" mkdir "$A_sbx/mnt"
run_warren run --level basic mallory --service probe --shell 'mount -t tmpfs none mnt'
ok "mount in the run fails (exit $rc)" test "$rc" != 0
run_warren run --level basic mallory --service probe --shell \
  'unshare -Urm sh -c "mount -t tmpfs none mnt && touch mnt/inside && grep -c \" $PWD/mnt \" /proc/self/mountinfo"'
if [ "$rc" = 0 ]; then
  ok "a mount in the run's own user namespace is not on the host" \
    bash -c "! grep -q ' $A_sbx/mnt ' /proc/self/mountinfo && [ ! -e '$A_sbx/mnt/inside' ]"
else
  ok "new user namespaces are refused, so no mount at all" true
fi
skip "the old root is unreachable; a mount destination swapped during setup aborts it" \
  "basic level has no private root (container level does)"

# The cgroup filesystem: the run's own cgroup, the tenant's, warren's and the
# root of this test's cgroup view, and the v1 release_agent files.
run_warren run --level basic mallory --service probe --shell '
  own=$(sed -n "s/^0:://p" /proc/self/cgroup)
  exec ./warren-probe --write "'"$cg_mount"'$own/cgroup.procs" --write "'"$cg_mount"'$own/cgroup.kill" \
    --write "'"$cg_mount"'$own/../cgroup.procs" --write "'"$cg_mount"'/cgroup.procs" \
    --write "'"$cg_mount"'$own/cgroup.subtree_control" --write "'"$cg_mount"'$own" '"$(
    for f in /sys/fs/cgroup/*/release_agent; do [ -e "$f" ] && printf -- '--write %s ' "$f"; done)"
report=$out
n=$(q 'len(d["checks"])')
like "cgroup attacks ran (checks: $n)" "$n" '^[0-9]+$'
names=("own run's cgroup.procs" "own run's cgroup.kill" "the tenant cgroup's cgroup.procs (escape upward)" \
  "the root cgroup.procs" "own run's cgroup.subtree_control" "a new file in the run's cgroup (a child cgroup)")
for i in $(seq 0 $((n - 1))); do
  refused "cgroup write refused: ${names[$i]:-$(q "d['checks'][$i]['path']")}" "$i" 'EACCES|EPERM|EROFS'
done
is "  (at least one release_agent was tried)" "$(q 'any(c["path"].endswith("release_agent") for c in d["checks"])' 2>/dev/null || echo False)" \
  "$(ls /sys/fs/cgroup/*/release_agent >/dev/null 2>&1 && echo True || echo False)"

# Other tenants' homes, the users base, the registry, the shadow file.
as_uid "$B_uid" sh -c "umask 022; echo b-data > '$B_sbx/readable'"
probe mallory --list "$B_home" --read "$B_sbx/readable" --write "$B_home" --write "$B_sbx" \
  --list "$base" --stat "$B_sbx" --list "$WARREN_STATE_DIR" --read "$WARREN_STATE_DIR/registry.db" \
  --read /etc/shadow --read /etc/gshadow
refused "list B's home: EACCES" 0 EACCES
refused "read B's 0644 file (behind 0700 directories): EACCES" 1 EACCES
refused "create a file in B's home: EACCES" 2 EACCES
refused "create a file in B's sandbox: EACCES" 3 EACCES
refused "list the users base: EACCES" 4 EACCES
refused "stat B's sandbox: EACCES" 5 EACCES
refused "list warren's state directory: EACCES" 6 EACCES
refused "read the registry: EACCES" 7 EACCES
refused "read /etc/shadow: EACCES" 8 EACCES
refused "read /etc/gshadow: EACCES" 9 EACCES
probe victim --list "$B_home" --read "$B_sbx/readable"
allowed "  (control: B lists its own home)" 0
allowed "  (control: B reads its file)" 1

# --- Network ---------------------------------------------------------------------

skip "host loopback services, the daemon's API, a metadata address unreachable without network" \
  "basic level shares the host's network (container level gives loopback only)"
skip "spoofed source addresses, bandwidth limit" "basic level shares the host's network; nat mode's anti-spoofing and rate limits are tested at container level in tests/integration/net-nat.sh"

# --- A recycled UID --------------------------------------------------------------

# The range is made to end at the next UID, so that once C is deleted and
# the range is full, D gets C's retired UID back.
tenant carol C
exits "C leaves a 0600 file in /tmp" 0 run --level basic carol --shell "echo c-secret > /tmp/$shared-c"
exits "C is deleted" 0 user delete carol
export WARREN_UID_RANGE=60001-$C_uid
exits "D is created once the range is full" 0 user create dave --json
d_uid=$(echo "$out" | json 'd["linux_uid"]')
is "  D gets C's UID back" "$d_uid" "$C_uid"
rc=0; leaked=$("$WARREN" run --level basic dave -- cat "/tmp/$shared-c" 2>/dev/null) || rc=$?
if [ "$rc" = 0 ]; then
  skip "a recycled UID reads nothing the tenant before it left in /tmp (it read '$leaked')" \
    "basic level shares /tmp and delete does not yet clean the UID's /tmp, /var/tmp, /dev/shm, IPC (docs/ACCOUNTS.md)"
else
  ok "a recycled UID reads nothing the tenant before it left in /tmp" true
fi
unset WARREN_UID_RANGE

# --- Resources -------------------------------------------------------------------

# A fork bomb stops at RLIMIT_NPROC, B still runs, and the timeout ends
# every process of the bomb (tests/lib/fork-bomb.sh).
#
# RLIMIT_NPROC counts a UID's processes host-wide, and every test starts its
# tenants at UID 60001: the bomb is a tenant of its own, at a UID picked at
# random far above, so that it cannot starve a test running alongside this
# one. (Last in this file: its UID raises the allocator's high-water mark.)
source "$WARREN_SRC/tests/lib/fork-bomb.sh"
lo=$((70000 + RANDOM % 20000)) # (61184-65519 is systemd's DynamicUser range: never a tenant's)
WARREN_UID_RANGE=$lo-$((lo + 50)) tenant bomber Z
fork_bomb basic bomber "$Z_uid" victim ""
skip "memory balloon, disk and inode fill, CPU spin, output flood: only the attacker suffers" \
  "tested with the tenant's quotas in tests/integration/noisy-*.sh and quota.sh"

done_testing
