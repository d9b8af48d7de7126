# `warren run` hands its run to a daemon serving the same state directory
# (src/lib/handoff.h): the program, its output, its exit status and warren's
# errors are what a run of the CLI's own gives; a stopped or killed CLI takes
# its run's tree with it; nobody but the daemon's user gets to hand it a run.
source "$WARREN_SRC/tests/lib/tap.sh"
source "$WARREN_SRC/tests/lib/daemon.sh"
trap stop_daemon EXIT

T=handoff@example.com
"$WARREN" user create "$T" >/dev/null
SOCK=$WARREN_STATE_DIR/run.sock

start_daemon
is "the run socket is the daemon's user's alone" "$(stat -c '%F %a %U' "$SOCK")" "socket 600 root"

# A basic run's parent is whoever started it: the daemon, or the CLI itself.
run_warren run --level basic "$T" -- sh -c 'echo $PPID'
is "a run goes to the daemon" "$out" "$DAEMON_PID"
out=$(WARREN_RUN_LOCAL=1 "$WARREN" run --level basic "$T" -- sh -c 'echo $PPID')
ok "WARREN_RUN_LOCAL=1 runs it in the CLI" test "$out" != "$DAEMON_PID" -a -n "$out"

# JSON holds only UTF-8: a run with other bytes stays in the CLI, and runs.
out=$("$WARREN" run --level basic "$T" -- sh -c 'printf "%s" "$1" | od -An -tx1; echo "$PPID"' sh $'\xff')
is "an argument that is not UTF-8: passed as it is" "$(echo "$out" | head -1)" " ff"
ppid=$(echo "$out" | tail -1)
ok "an argument that is not UTF-8: run by the CLI itself" test -n "$ppid" -a "$ppid" != "$DAEMON_PID"

for level in basic container strong; do
  run_warren run --level "$level" "$T" -- sh -c 'echo out; echo err >&2; exit 7'
  is "$level: the program's stdout" "$out" "out"
  is "$level: the program's stderr" "$err" "err"
  is "$level: the program's exit status" "$rc" 7
done
# What its own child would inherit from the CLI, a handed-over run has too.
n=$(nproc)
for level in basic strong; do
  out=$(taskset -c 0 "$WARREN" run --level "$level" "$T" -- grep Cpus_allowed_list /proc/self/status)
  is "$level: the CLI's CPU affinity (taskset -c 0)" "${out##*:[[:space:]]}" 0
  out=$("$WARREN" run --level "$level" "$T" -- grep Cpus_allowed_list /proc/self/status)
  is "$level: every CPU when the CLI has every CPU" "${out##*:[[:space:]]}" "0-$((n - 1))"
done

run_warren run "$T" -- sh -c 'kill -TERM $$'
is "killed by a signal: 128+N" "$rc" 143
is "stdin reaches the program" "$(echo piped | "$WARREN" run "$T" -- cat)" "piped"
out=$(LANG=de_DE.UTF-8 "$WARREN" run --env FOO=bar --env X=a=b "$T" -- sh -c 'echo "$FOO $X $LANG"')
is "--env and the CLI's LANG reach the program" "$out" "bar a=b de_DE.UTF-8"
out=$("$WARREN" run --shell 'echo "$0: $(id -un)"' "$T")
like "--shell runs as the tenant" "$out" '^/bin/sh: warren_'
run_warren run --timeout 0.5 "$T" -- sleep 5
is "--timeout ends the run" "$rc" 137
like "--timeout: said so" "$err" "timed out after 0.5 s"
run_warren run --verbose "$T" -- true
like "--verbose: how the run ended" "$err" "run ended: level strong, landlock ABI [1-9][0-9]*, exit 0"

# warren's own failures: the same message and exit code either way.
same_failure() { # description args...
  local d=$1; shift
  run_warren "$@"
  local drc=$rc derr=$err
  rc=0
  local lerr
  lerr=$(WARREN_RUN_LOCAL=1 "$WARREN" "$@" 2>&1 >/dev/null) || rc=$?
  is "$d: the daemon's exit code is the CLI's" "$drc" "$rc"
  is "$d: the daemon's message is the CLI's" "$derr" "$lerr"
  ok "$d: it failed" test "$drc" -ne 0
}
same_failure "unknown tenant" run nobody@example.com -- true
same_failure "missing program" run "$T" -- /nonexistent
same_failure "cwd outside the home" run --cwd ../.. "$T" -- true
same_failure "bad service id" run --service ../x "$T" -- true
same_failure "bad --env" run --env '1X=y' "$T" -- true

# A stopped CLI ends its run's tree; so does a killed one.
"$WARREN" run "$T" -- sh -c 'sleep 31.25 & sleep 31.25' &
cli=$!
sleep 1
kill -INT "$cli"
rc=0; wait "$cli" || rc=$?
is "SIGINT to the CLI: 128+2" "$rc" 130
sleep 0.3
is "SIGINT to the CLI: the run's processes are gone" "$(pgrep -fc 'sleep 31.25' || true)" 0
"$WARREN" run "$T" -- sh -c 'sleep 32.5 & sleep 32.5' &
cli=$!
sleep 1
kill -KILL "$cli"
wait "$cli" 2>/dev/null || true
for _ in $(seq 30); do pgrep -f 'sleep 32.5' >/dev/null || break; sleep 0.1; done
is "a killed CLI: the run's processes are gone" "$(pgrep -fc 'sleep 32.5' || true)" 0

# The socket's peers: bad requests get an error that names them; other users
# cannot connect at all.
client() { # python code with `s`, a connected socket, and `send(text, fds)`
  python3 - "$SOCK" "$1" <<'EOF'
import array, json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
def send(text, fds):
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
    s.sendmsg([text.encode()], anc)
exec(sys.argv[2])
print(s.recv(65536).decode())
EOF
}
null3="[os.open('/dev/null', os.O_RDWR)] * 3"
out=$(client "send('{\"tenant\":\"$T\",\"run\":{\"command\":[\"true\"]}}', [])")
like "a request without its fds: refused, said why" "$out" 'expected three fds.*got 0'
out=$(client "send('not json', $null3)")
like "a request that is not JSON: refused" "$out" '"code":"invalid".*run request'
out=$(client "send('{\"tenant\":\"$T\",\"run\":{\"command\":[\"true\"]},\"x\":1}', $null3)")
like "an unknown field: refused, named" "$out" "unknown field 'x'"
out=$(client "send('{\"tenant\":\"$T\",\"run\":{\"command\":[\"true\"],\"level\":\"weak\"}}', $null3)")
like "a bad level: refused, named" "$out" "level 'weak'"
out=$(client "send('{\"tenant\":\"$T\",\"run\":{\"command\":[\"sh\",\"-c\",\"exit 3\"]}}', $null3)")
like "a well-formed request runs" "$out" '^\{"exit_code":3,"signal":0,"timed_out":false'
# A client that connects and says nothing is told, after 10 s, and closed:
# it no longer holds a daemon fd for as long as it likes.
fds_before=$(ls /proc/"$DAEMON_PID"/fd | wc -l)
# (Its fds are counted while the client still holds its end, so a daemon that
# kept the connection would show one more.)
out=$(client "import time; t0 = time.monotonic(); s.settimeout(30)
r = s.recv(65536).decode(); print(round(time.monotonic() - t0), r); print(s.recv(65536) == b'' and 'closed')
print('fds', len(os.listdir('/proc/$DAEMON_PID/fd')))")
like "a silent client: told after 10 s" "$out" '^1[01] \{"error":\{"code":"invalid","message":"run request: none came within 10 s"'
like "  and closed" "$out" 'closed'
like "  the daemon holds no fd more than before, the client still connected" "$out" "fds $fds_before\$"
out=$(setpriv --reuid 65534 --regid 65534 --clear-groups /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
try:
    s.connect(sys.argv[1]); print("connected")
except OSError as e:
    print(e.errno)' "$SOCK" 2>&1)
is "another user cannot connect" "$out" 13

# A stopping daemon gives a handed-over run its grace period, then ends it.
stop_daemon
WARREN_GRACE_SECONDS=1 start_daemon
"$WARREN" run "$T" -- sh -c 'sleep 33.75 & sleep 33.75' 2>"$TEST_TMP/stop.err" &
cli=$!
sleep 1
kill -TERM "$DAEMON_PID"
rc=0; wait "$cli" || rc=$?
is "the daemon stopped: the run was killed" "$rc" 137
like "the daemon stopped: the CLI says so" "$(cat "$TEST_TMP/stop.err")" "daemon serving .* stopped; the run's processes were ended"
is "the daemon stopped: the run's processes are gone" "$(pgrep -fc 'sleep 33.75' || true)" 0
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=
start_daemon

run_warren audit --tenant "$T" --type run_ended --limit 1
like "a handed-over run is in the audit" "$out" "run_ended"

daemon_log_clean
ok "the daemon removed its run socket" test ! -e "$SOCK"
run_warren run "$T" -- echo local
is "without a daemon the CLI runs it itself" "$out" "local"

done_testing
