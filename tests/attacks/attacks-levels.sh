# THREATS.md at --level container and --level strong, tenant A (mallory)
# against tenant B (victim) and the host: the rows of docs/ISOLATION.md's
# attack table that attacks-contained.sh (processes, IPC, sockets) and
# isolation-levels.sh (namespaces, private root, network) do not assert.
# Each case is what a user would check from inside the run (through
# warren-probe) or from the host afterwards; most refusals have a control
# that must succeed, so a harness that could never succeed proves nothing.
source "$WARREN_SRC/tests/lib/tap.sh"
PROBE=${WARREN_PROBE:?WARREN_PROBE must name the warren-probe binary}

export WARREN_ADMIN_TOKEN=secret AWS_SECRET=x

skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $1 # SKIP $2"; }

# tenant NAME VAR: creates the tenant and its "probe" sandbox holding the
# probe; sets VAR_name, VAR_uid, VAR_home, VAR_sbx.
tenant() {
  local j sbx u
  j=$("$WARREN" user create "$1" --json)
  printf -v "$2_name" %s "$(echo "$j" | json 'd["linux_username"]')"
  printf -v "$2_uid" %s "$(echo "$j" | json 'd["linux_uid"]')"
  printf -v "$2_home" %s "$(echo "$j" | json 'd["home_dir"]')"
  sbx=$("$WARREN" sandbox path "$1" probe)
  printf -v "$2_sbx" %s "$sbx"
  u=$2_uid
  install -o "${!u}" -g "${!u}" -m 0755 "$PROBE" "$sbx/warren-probe"
}
tenant mallory A
tenant victim B
as_uid() { local u=$1; shift; setpriv --reuid "$u" --regid "$u" --clear-groups "$@"; }

# pexe LEVEL TENANT EXE ARGS...: EXE in the tenant's probe sandbox; the report
# in $report. probe LEVEL TENANT ARGS...: the probe itself.
pexe() {
  local level=$1 t=$2 exe=$3; shift 3
  run_warren run --level "$level" "$t" --service probe -- "$exe" "$@"
  report=$out
  [ "$rc" = 0 ] || echo "# warren run --level $level $t $exe: exit $rc: $err"
}
probe() { local l=$1 t=$2; shift 2; pexe "$l" "$t" ./warren-probe "$@"; }
q() { printf '%s' "$report" | json "$1"; }
refused() { # DESCRIPTION N ERRNO-REGEX: check N failed with one of them
  like "$1" "$(q "(lambda c: 'ok' if c['ok'] else c['errno'])(d['checks'][$2])" 2>&1)" "^($3)\$"
}
allowed() { is "$1" "$(q "d['checks'][$2]['ok']" 2>&1)" True; }

# Programs A plants in its sandbox: a setuid-root copy of the probe, one with
# a file capability, and a plain root-owned one.
install -o root -g root -m 4755 "$PROBE" "$A_sbx/probe-suid"
install -o root -g root -m 0755 "$PROBE" "$A_sbx/probe-root"
fcaps=no
install -o root -g root -m 0755 "$PROBE" "$A_sbx/probe-fcaps" &&
  setcap cap_dac_read_search=ep "$A_sbx/probe-fcaps" 2>/dev/null && fcaps=yes
report=$(as_uid "$A_uid" "$A_sbx/probe-suid")
is "(control: the setuid copy outside warren gets euid 0)" "$(q 'd["uid"]["effective"]')" 0
as_uid "$A_uid" mkdir "$A_sbx/mnt"

# B's long-lived process, seen from the host.
"$WARREN" run --level container victim --service probe -- ./warren-probe --sleep 120 >"$TEST_TMP/b.json" &
b_warren=$!
for _ in $(seq 100); do [ -s "$TEST_TMP/b.json" ] && break; sleep 0.1; done
bpid=$(pgrep -f '^./warren-probe --sleep 120$' | head -1)
ok "B's process is running (host pid $bpid)" test -n "$bpid"

race=$A_home/sandboxes/race
as_uid "$A_uid" mkdir "$race"
as_uid "$A_uid" touch "$race/here"
as_uid "$A_uid" ln -s /etc "$A_home/sandboxes/race-link"

for L in container strong; do
  echo "# --- $L ---"

  # --- Identity and privilege ---------------------------------------------------
  pexe $L mallory ./probe-suid --read /etc/shadow
  is "$L: setuid-root binary in the sandbox: euid stays the tenant's" \
    "$(q '[d["uid"]["real"], d["uid"]["effective"], d["uid"]["saved"]]')" "[$A_uid, $A_uid, $A_uid]"
  is "$L:   and no capabilities" "$(q 'int(d["caps"]["effective"], 16) | int(d["caps"]["permitted"], 16)')" 0
  refused "$L:   and /etc/shadow is not there" 0 ENOENT
  run_warren run --level $L mallory -- passwd --status root
  ok "$L: passwd (setuid root on the host) fails in the run (exit $rc)" test "$rc" != 0
  probe $L mallory
  is "$L:   the home is mounted nosuid" "$(q "(lambda l: bool(l) and all(l))(['nosuid' in m['options'] for m in d['mounts'] if m['target'] == '$A_home'])")" True
  is "$L:   the system directories are nosuid" \
    "$(q 'all("nosuid" in m["options"] for m in d["mounts"] if m["target"] in ("/usr", "/bin", "/sbin") or m["target"].startswith("/lib"))')" True
  if [ $fcaps = yes ]; then
    pexe $L mallory ./probe-fcaps --read "$B_sbx/warren-probe"
    is "$L: file capabilities (cap_dac_read_search): none in the run" \
      "$(q 'int(d["caps"]["effective"], 16) | int(d["caps"]["permitted"], 16)')" 0
    refused "$L:   and B's files stay out of reach" 0 'ENOENT|EACCES'
  else
    skip "$L: file capabilities are ignored" "setcap does not work on this filesystem"
  fi

  # The caller's supplementary groups and environment.
  report=$(setpriv --groups 0,4 -- env DAEMON_TOKEN=t0ken "$WARREN" run --level $L mallory --service probe -- ./warren-probe)
  is "$L: the caller's groups 0 and 4 do not reach the run" "$(q "set(d['groups']) <= {$A_uid}")" True
  is "$L: the caller's environment does not reach the run" \
    "$(q '[k for k in ("DAEMON_TOKEN", "WARREN_ADMIN_TOKEN", "AWS_SECRET") if k in d["env"]]')" "[]"

  # --- Host binary and file descriptors ------------------------------------------
  pexe $L mallory ./probe-root --write /proc/self/exe
  refused "$L: write /proc/self/exe of a root-owned program: refused" 0 'EACCES|ETXTBSY|EPERM'
  pexe $L mallory ./warren-probe --write /proc/self/exe
  refused "$L:   (its own probe: busy while it runs)" 0 'ETXTBSY'

  # warren itself: sh's pid is warren's once it execs.
  report=$(sh -c 'w=$$; exec "$0" run --level '$L' mallory --service probe -- ./warren-probe \
    --write /proc/$w/exe --read /proc/$w/environ --list /proc/$w/fd --read /proc/$w/mem --kill $w \
    --list /proc/$w/cwd --stat /proc/$w' "$WARREN" 2>/dev/null)
  # Its parent is warren's init, pid 1 of the run's namespace; warren is outside.
  is "$L: the run's parent is its init, warren is outside its pid namespace (ppid 1)" "$(q 'd["ppid"]')" 1
  for i in 0 1 2 3 5 6; do
    refused "$L: warren through $(q "d['checks'][$i]['path']" | sed 's|/proc/[0-9]*|/proc/<warren>|'): not there" $i ENOENT
  done
  refused "$L: kill warren: no such process" 4 ESRCH

  exec 7</etc/shadow
  probe $L mallory --read /proc/self/fd/7
  exec 7<&-
  is "$L: a host fd open in warren's caller is not inherited: only 0, 1, 2" "$(q '[f["fd"] for f in d["fds"]]')" "[0, 1, 2]"
  refused "$L:   /proc/self/fd/7 does not exist" 0 ENOENT

  # --- Processes ----------------------------------------------------------------
  probe $L mallory --read "/proc/$bpid/environ" --read "/proc/$bpid/maps" --read "/proc/$bpid/mem" \
    --list "/proc/$bpid/fd" --list "/proc/$bpid/cwd" --read "/proc/$bpid/cmdline"
  for i in 0 1 2 3 4 5; do
    refused "$L: B's $(q "d['checks'][$i]['path']" | sed 's|/proc/[0-9]*|/proc/<pid>|'): not there" $i ENOENT
  done
  ok "$L:   B's process survived" kill -0 "$bpid"

  # flock: B holds locks on what it sees; A may meet them only on the
  # read-only system files both roots show.
  "$WARREN" run --level $L victim --service probe --shell \
    ": > /tmp/lockfile; : > lockfile; exec ./warren-probe --flock /usr/bin/env --flock /tmp/lockfile --flock /etc/passwd --flock $B_sbx/lockfile --sleep 30" \
    >"$TEST_TMP/b-lock.json" 2>&1 &
  b_lock=$!
  for _ in $(seq 100); do [ -s "$TEST_TMP/b-lock.json" ] && break; sleep 0.1; done
  is "$L: B holds its four locks" "$(json '[c["ok"] for c in d["checks"]]' <"$TEST_TMP/b-lock.json")" "[True, True, True, True]"
  run_warren run --level $L mallory --service probe --shell \
    ": > /tmp/lockfile; exec ./warren-probe --flock /usr/bin/env --flock /tmp/lockfile --flock /etc/passwd --flock $B_sbx/lockfile"
  report=$out
  refused "$L: flock on a shared read-only system file meets B's lock (the one channel the table admits)" 0 'EAGAIN|EWOULDBLOCK'
  allowed "$L: flock on /tmp/lockfile: A's own file, not B's" 1
  allowed "$L: flock on /etc/passwd: A's own generated copy, not B's" 2
  refused "$L: B's file in its home is not there to lock" 3 ENOENT
  kill "$b_lock" 2>/dev/null; wait "$b_lock" 2>/dev/null

  # TIOCSTI into the caller's terminal (a pty standing for the admin's).
  report=$(python3 - "$WARREN" "$L" <<'EOF'
import os, pty, subprocess, sys, termios, fcntl, json, tty
master, slave = pty.openpty()
tty.setraw(slave)
p = subprocess.run([sys.argv[1], "run", "--level", sys.argv[2], "mallory", "--service", "probe",
                    "--", "./warren-probe", "--tiocsti", "0", "--tiocsti-high", "0"],
                   stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
n = fcntl.ioctl(slave, termios.FIONREAD, b"\0\0\0\0")
report = json.loads(p.stdout)
print(json.dumps({"rc": p.returncode, "queued": int.from_bytes(n, "little"), "checks": report["checks"]}))
EOF
)
  is "$L: TIOCSTI into the caller's terminal: the run exits 0" "$(q 'd["rc"]')" 0
  refused "$L:   TIOCSTI refused" 0 'EPERM|EIO'
  refused "$L:   TIOCSTI with bit 32 set refused" 1 'EPERM|EIO'
  is "$L:   nothing was typed into the caller's terminal" "$(q 'd["queued"]')" 0

  # --- Filesystem ---------------------------------------------------------------
  marker=$TEST_TMP/ran-$L
  as_uid "$A_uid" ln -sfn "$B_sbx" "$A_home/sandboxes/steal"
  as_uid "$A_uid" ln -sfn /etc "$A_home/sandboxes/etc"
  for svc in steal etc; do
    run_warren run --level $L mallory --service "$svc" --shell "touch $marker"
    ok "$L: --service through A's link sandboxes/$svc is refused (exit $rc)" test "$rc" != 0
    ok "$L:   nothing ran" test ! -e "$marker"
  done
  run_warren run --level $L mallory --cwd "$A_home/sandboxes/etc" --shell "touch $marker"
  ok "$L: --cwd through a link is refused (exit $rc), nothing ran" test "$rc" != 0 -a ! -e "$marker"
  for svc in .. ../victim /etc a/b $'a\nb' ''; do
    exits "$L: --service $(printf %q "$svc") is refused" 125 run --level $L mallory --service "$svc" --shell "touch $marker"
    ok "$L:   nothing ran" test ! -e "$marker"
  done
  is "$L:   B's sandbox is still B's" "$(stat -c %U "$B_sbx")" "$B_name"

  # The working directory swapped for a link while runs start: A's own
  # process exchanges sandboxes/race (a directory holding one file, "here")
  # with a link to /etc, over and over (renameat2 RENAME_EXCHANGE, atomic).
  # Every run either starts in that directory (whatever its name is by
  # then), or is refused or aborts in setup (125): none ever starts
  # through the link.
  # (setpriv itself, not the as_uid function, so that $! is the swapper.)
  setpriv --reuid "$A_uid" --regid "$A_uid" --clear-groups /usr/bin/python3 -c '
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b = (os.fsencode(p) for p in sys.argv[1:3])
while True: libc.syscall(316, -100, a, -100, b, 2)' "$race" "$A_home/sandboxes/race-link" &
swapper=$!
  ran=0 stopped=0 bad=
  for _ in $(seq 40); do
    run_warren run --level $L mallory --service race -- ls -A
    case "$rc" in
      0) [ "$out" = here ] && ran=$((ran + 1)) || bad="$bad [$out]" ;;
      125) stopped=$((stopped + 1)) ;;
      *) bad="$bad [exit $rc: $err]" ;;
    esac
  done
  kill "$swapper"; wait "$swapper" 2>/dev/null
  is "$L: the cwd swapped for a link during setup is never followed (ran $ran, stopped $stopped)" "$bad" ""
  ok "$L:   the race was run both ways" test "$ran" -gt 0 -a "$stopped" -gt 0

  # Mounts: none without a capability; made in a user namespace of the run's
  # own (container), it stays there; at strong both are refused.
  probe $L mallory --mount "$A_sbx/mnt"
  refused "$L: mount in the run refused" 0 EPERM
  run_warren run --level $L mallory --service probe --shell \
    'unshare -Urm sh -c "mount -t tmpfs none mnt && touch mnt/inside && grep -c \" $PWD/mnt \" /proc/self/mountinfo"'
  if [ $L = container ]; then
    is "$L: a mount in a user namespace of the run's own works there" "$rc:$out" "0:1"
  else
    ok "$L: a nested user namespace (to mount in) is refused (exit $rc)" test "$rc" != 0
  fi
  ok "$L:   the mount is not on the host" bash -c "! grep -q ' $A_sbx/mnt ' /proc/self/mountinfo"
  ok "$L:   nothing written there reached the home" test ! -e "$A_sbx/mnt/inside"
  probe $L mallory --list "$A_sbx/mnt"
  is "$L:   the next run sees an empty directory" "$(q 'd["checks"][0]["count"]')" 0

  # The old root after pivot_root: no mount of the host's root filesystem's
  # top, no /.old, none of the host's top-level directories.
  host_root_src=$(awk '$5 == "/" { for (i = 7; $i != "-"; i++); print $(i + 2); exit }' /proc/self/mountinfo)
  probe $L mallory --stat /.old --stat /root --stat /var --stat /home --stat /work --stat /opt --list /
  is "$L: no mount shows the host's root (source $host_root_src, root /)" \
    "$(q "[m['target'] for m in d['mounts'] if m['source'] == '$host_root_src' and m['root'] == '/']")" "[]"
  is "$L: the mount list has exactly one / (the new tmpfs root)" "$(q '[m["fstype"] for m in d["mounts"] if m["target"] == "/"]')" "['tmpfs']"
  for i in 0 1 2 3 4 5; do
    refused "$L: $(q "d['checks'][$i]['path']") is not there" $i ENOENT
  done
  like "$L: / holds only what the root provides" "$(q '" ".join(sorted(d["checks"][6]["names"]))')" \
    '^(bin )?dev etc (lib )?(lib32 )?(lib64 )?(libx32 )?proc (sbin )?tmp usr$'

  # The state directory and registry.
  probe $L mallory --stat "$WARREN_STATE_DIR" --read "$WARREN_STATE_DIR/registry.db" --stat /var/lib/warren
  refused "$L: the state directory is not there" 0 ENOENT
  refused "$L: the registry is not there" 1 ENOENT
  refused "$L: /var/lib/warren is not there" 2 ENOENT

  # /tmp and /dev/shm files go with the run. (The homes live under
  # /tmp/warren-test.* here, so that one name is in every run's /tmp.)
  top=$(echo "$A_home" | cut -d/ -f3)
  exits "$L: a run leaves files in /tmp and /dev/shm" 0 run --level $L mallory --shell 'echo s > /tmp/left; echo s > /dev/shm/left'
  run_warren run --level $L mallory --shell 'ls -A /tmp /dev/shm'
  is "$L:   the next run's /tmp and /dev/shm hold none of them" "$(echo "$out" | grep -vx "$top" | grep -v ':$' | grep -v '^$')" ""
  run_warren run --level $L victim --shell 'ls -A /tmp /dev/shm'
  is "$L:   nor does B's run" "$(echo "$out" | grep -vx "$top" | grep -v ':$' | grep -v '^$')" ""
done
kill "$b_warren" 2>/dev/null; wait "$b_warren" 2>/dev/null

# --- A recycled UID, at container and strong --------------------------------------
# C leaves files in /tmp and /dev/shm and a SysV segment while a run of D
# (who gets C's UID back once C is deleted and the range is full) looks.
n=0
for L in container strong; do
  n=$((n + 1))
  tenant "carol$n" C
  exits "$L: C's run leaves /tmp, /dev/shm files and a SysV segment" 0 run --level $L "carol$n" --shell \
    'echo c > /tmp/c-left; echo c > /dev/shm/c-left; python3 -c "import ctypes; print(ctypes.CDLL(None).shmget(0x5eed, 4096, 0o1600))"'
  exits "$L: C is deleted" 0 user delete "carol$n"
  WARREN_UID_RANGE=60001-$C_uid run_warren user create "dave$n" --json
  is "$L: D is created once the range is full" "$rc" 0
  is "$L:   D gets C's UID back" "$(echo "$out" | json 'd["linux_uid"]')" "$C_uid"
  top=$(echo "$A_home" | cut -d/ -f3)
  run_warren run --level $L "dave$n" --shell 'ls -A /tmp /dev/shm | grep -v ":$" | grep -v "^$"; python3 -c "import ctypes; print(ctypes.CDLL(None).shmget(0x5eed, 0, 0))"'
  is "$L:   D finds nothing of C's in /tmp, /dev/shm or SysV IPC" "$(echo "$out" | grep -vx "$top")" "-1"
done

# --- Fork bomb, at container and strong -----------------------------------------------
# As in attacks-basic.sh (tests/lib/fork-bomb.sh): the bomb stops at
# RLIMIT_NPROC, B still runs, and the timeout ends every process. Each bomber
# is a tenant at a random UID far above the others, so that RLIMIT_NPROC
# (host-wide per UID) cannot starve a test running alongside.
# (The second range lies above the first: the allocator never goes below
# its high-water mark.)
source "$WARREN_SRC/tests/lib/fork-bomb.sh"
lo=$((70000 + RANDOM % 19000))
for L in container strong; do
  WARREN_UID_RANGE=$lo-$((lo + 50)) tenant "bomber-$L" Z
  lo=$((lo + 100))
  fork_bomb "$L" "bomber-$L" "$Z_uid" victim "$L: "
done

done_testing
