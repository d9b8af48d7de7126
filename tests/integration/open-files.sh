# Open files, the run's and its starter's. A caller holding more fds than a
# run's own limit has numbers for still starts runs, which hold only their
# stdio. Every run the daemon supervises holds a few of its fds, so a daemon
# started under a service manager's default soft limit (1024) raises it to
# what its caps need, and runs started while it holds thousands still work.
# One that cannot raise it says so at start and, out of fds, refuses the runs
# it cannot take with a message that says why, without spinning, and takes
# runs again once some end.
source "$WARREN_SRC/tests/lib/tap.sh"
source "$WARREN_SRC/tests/lib/daemon.sh"
trap stop_daemon EXIT

T=fds@example.com
"$WARREN" user create "$T" >/dev/null

nofile() { awk '/^Max open files/ { print $4 " " $5 }' "/proc/$1/limits"; }
fds_of() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# N runs of `sleep S` at once through the daemon; their exit codes in
# $TEST_TMP/rc.I, their stderr in $TEST_TMP/err.I. Sets PEAK_FDS, the most
# fds the daemon held while they ran.
burst() { # N LEVEL SECONDS
  local n=$1 level=$2 secs=$3 pids=() i
  rm -f "$TEST_TMP"/rc.* "$TEST_TMP"/err.*
  for i in $(seq "$n"); do
    (
      rc=0
      timeout 120 "$WARREN" run --level "$level" "$T" -- sleep "$secs" \
        >/dev/null 2>"$TEST_TMP/err.$i" || rc=$?
      echo "$rc" >"$TEST_TMP/rc.$i"
    ) &
    pids+=($!)
  done
  PEAK_FDS=0
  while [ "$(find "$TEST_TMP" -maxdepth 1 -name 'rc.*' | wc -l)" -lt "$n" ]; do
    local f; f=$(fds_of "$DAEMON_PID")
    [ "$f" -gt "$PEAK_FDS" ] && PEAK_FDS=$f
    sleep 0.2
  done
  wait "${pids[@]}" 2>/dev/null || true
}
count_rc() { cat "$TEST_TMP"/rc.* | grep -cx "$1" || true; }

# --- a caller with 1500 fds, none of them close-on-exec --------------------
# The run's child only marks inherited fds close-on-exec; they hold their
# numbers until its exec, so it sets the run's limit (1024) last.
for level in basic container strong; do
  out=$(python3 - "$WARREN" "$T" "$level" <<'PY'
import os, resource, subprocess, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
for _ in range(1500):
    os.set_inheritable(os.open("/dev/null", os.O_RDONLY), True)
warren, tenant, level = sys.argv[1:]
r = subprocess.run([warren, "run", "--level", level, tenant, "--", "sh", "-c", "ls /proc/$$/fd; :"],
                   close_fds=False, capture_output=True, text=True,
                   env=dict(os.environ, WARREN_RUN_LOCAL="1"))
print(r.returncode, " ".join(r.stdout.split()), r.stderr.strip())
PY
)
  is "$level: a caller holding 1500 fds starts a run, which holds only its stdio" "$out" "0 0 1 2 "
done

# --- a daemon started under soft 1024: it raises the limit itself ---------
# Two listeners of 4096 connections, 256 API runs and 1024 handed-over runs
# at 8 fds each, 256 of its own (src/daemon/fdlimit.c): 18688. The soft
# limit goes that far and no further; over a lower hard limit only with
# CAP_SYS_RESOURCE (which some hosts' root lacks), else to the hard limit.
need=18688
hard0=$(ulimit -Hn)
if [ "$hard0" -ge "$need" ]; then want="$need $hard0"
elif (( 0x$(awk '/^CapEff/ { print $2 }' /proc/self/status) >> 24 & 1 )); then want="$need $need"
else want="$hard0 $hard0"; fi
ulimit -Sn 1024
start_daemon
ulimit -Sn "$hard0"
is "the daemon started at soft 1024 raises it to what its caps need (hard $hard0)" \
  "$(nofile "$DAEMON_PID")" "$want"

# 300 strong runs at once hold about five fds each in the daemon: more than
# the 1024 it started with, and in each run's child more inherited fds than
# the run's own limit (1024) has numbers for, until its exec closes them.
burst 300 strong 10
ok "300 strong runs at once: the daemon held more than 1024 fds (held $PEAK_FDS)" \
  test "$PEAK_FDS" -gt 1024
is "300 strong runs at once: every one ran and exited 0" "$(count_rc 0)" 300
run_warren run --level strong "$T" -- sh -c 'ulimit -n; ulimit -Hn'
is "a run still gets its own open-files limit, not the daemon's" "$(echo $out)" "1024 4096"
stop_daemon

# --- a daemon that may not raise its limit (64, no CAP_SYS_RESOURCE) -------
cat >"$TEST_TMP/limited" <<EOF
#!/bin/sh
ulimit -n 64
exec setpriv --bounding-set -sys_resource "$WARREN" "\$@"
EOF
chmod +x "$TEST_TMP/limited"
real=$WARREN
WARREN=$TEST_TMP/limited start_daemon
WARREN=$real
is "limited: the daemon keeps 64" "$(nofile "$DAEMON_PID")" "64 64"
like "limited: it says so at start" "$(cat "$DAEMON_LOG")" \
  "open files limited to 64, under the 18688 that 4096 connections"

burst 40 strong 3
ran=$(count_rc 0)
refused=$(cat "$TEST_TMP"/rc.* | grep -vcx 0 || true)
ok "limited, 40 runs at once: some ran ($ran)" test "$ran" -ge 1
ok "limited, 40 runs at once: the rest were refused ($refused)" test "$refused" -ge 1
is "limited: no client was left waiting (none timed out)" "$(count_rc 124)" 0
# Each refusal is warren's (125) and says why: before the run's child, the
# daemon's limit or what it was making when it had no fd left; in the
# child's setup, the step.
unclear=$(for i in $(seq 40); do
  rc=$(cat "$TEST_TMP/rc.$i")
  case $rc in
    0) ;;
    125) grep -qE "the daemon has no file descriptors left \(its open-files limit is 64\)|^warren: .*: Too many open files$|run setup failed at step '.*'.*: Too many open files" \
         "$TEST_TMP/err.$i" || echo "exit 125: $(cat "$TEST_TMP/err.$i")" ;;
    *) echo "exit $rc: $(cat "$TEST_TMP/err.$i")" ;;
  esac
done | head -3)
is "limited: each refused run says why: out of fds, and where" "$unclear" ""
# 80 clients that connect and say nothing fill the daemon's fds, and the
# rest wait for an accept that fails with EMFILE. A daemon that spins on its
# listener burns a CPU for as long as they wait (3 s); one that refuses the
# waiting ones with its reason is quiet.
t0=$(cpu_ticks "$DAEMON_PID")
out=$(python3 - "$WARREN_STATE_DIR/run.sock" <<'PY'
import json, socket, sys, time
conns = []
for _ in range(80):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1])
    conns.append(s)
time.sleep(3)
told = set()
for s in conns:
    s.setblocking(False)
    try:
        m = s.recv(4096)
    except BlockingIOError:
        continue
    if m:
        told.add(json.loads(m)["error"]["message"])
print(len(told) and "\n".join(sorted(told)))
PY
)
t1=$(cpu_ticks "$DAEMON_PID")
ticks=$(getconf CLK_TCK)
ok "limited, 80 silent clients: the daemon did not spin ($((t1 - t0)) ticks of $ticks/s in 3 s)" \
  test $((t1 - t0)) -lt "$ticks"
is "limited, 80 silent clients: the ones it had no fd for were told why" "$out" \
  "the daemon has no file descriptors left (its open-files limit is 64); try again later, or run with WARREN_RUN_LOCAL=1"
run_warren run --level strong "$T" -- echo again
is "limited: once the burst is over, a run goes through again" "$rc $out" "0 again"
daemon_log_clean

done_testing
