# THREATS.md at the container and strong levels, tenant A against tenant B and
# the host: processes, IPC, sockets, keyrings, /dev/shm. (The filesystem,
# namespace and network rows are in isolation-levels.sh; basic's in
# attacks-basic.sh.) Each refusal has a control that must succeed.
source "$WARREN_SRC/tests/lib/tap.sh"
PROBE=${WARREN_PROBE:?WARREN_PROBE must name the warren-probe binary}

for t in alice bob; do
  out=$("$WARREN" user create $t --json)
  u=$(echo "$out" | json 'd["linux_uid"]')
  install -o "$u" -g "$u" -m 0755 "$PROBE" "$("$WARREN" sandbox path $t probe)/warren-probe"
done
check() { printf '%s' "$out" | json "[('ok' if c['ok'] else c['errno']) for c in d['checks'] if c['op']=='$1'][${2:-0}]"; }

# A long-lived process of bob's, seen from the host.
"$WARREN" run --level container bob -- sleep 60 >/dev/null 2>&1 &
runner=$!
for _ in $(seq 50); do bpid=$(pgrep -f '^sleep 60$' | head -1); [ -n "$bpid" ] && break; sleep 0.1; done
ok "bob's process is running (host pid $bpid)" test -n "$bpid"

# A SysV shared-memory segment and an abstract unix socket of bob's, made in
# a container run that stays alive while alice looks for them.
"$WARREN" run --level container bob -- python3 -c '
import socket, sys, time, ctypes
libc = ctypes.CDLL(None, use_errno=True)
shmid = libc.shmget(0x5eed, 4096, 0o1666)
s = socket.socket(socket.AF_UNIX); s.bind("\0bob-secret"); s.listen()
print(shmid, flush=True); time.sleep(30)' >"$TEST_TMP/bob-ipc" 2>&1 &
ipc_runner=$!
for _ in $(seq 50); do [ -s "$TEST_TMP/bob-ipc" ] && break; sleep 0.1; done
like "bob made a SysV segment and an abstract socket" "$(cat "$TEST_TMP/bob-ipc")" '^[0-9]+$'

for level in container strong; do
  run_warren run --level $level alice --service probe -- ./warren-probe --kill "$bpid" --ptrace "$bpid" --vm-read "$bpid" --kill 1
  is "$level: kill of bob's process: not there (ESRCH)" "$(check kill 0)" ESRCH
  like "$level: ptrace of bob's process refused" "$(check ptrace)" '^(ESRCH|EPERM)$'
  like "$level: process_vm_readv of bob's process refused" "$(check vm_read)" '^(ESRCH|EPERM|ENOSYS)$'
  is "$level: pid 1 is alice's own program (control: signal 0 works)" "$(check kill 1)" ok
  run_warren run --level $level alice -- python3 -c '
import ctypes; libc = ctypes.CDLL(None, use_errno=True)
print(libc.shmget(0x5eed, 0, 0), ctypes.get_errno())'
  is "$level: bob's SysV segment is not there (own IPC namespace)" "$out" "-1 2"
  run_warren run --level $level alice -- python3 -c '
import socket
s = socket.socket(socket.AF_UNIX)
try: s.connect("\0bob-secret"); print("connected")
except OSError as e: print(e.errno)'
  like "$level: bob's abstract socket is unreachable" "$out" '^(111|1)$'
  run_warren run --level $level alice -- ls -A /dev/shm
  is "$level: /dev/shm is empty and private" "$out" ""
done

# Strong only: keyrings, AF_VSOCK and io_uring are refused by the filter.
run_warren run --level strong alice -- python3 -c '
import ctypes, socket; libc = ctypes.CDLL(None, use_errno=True)
r = libc.syscall(248, b"user", b"k", b"v", 1, -4)   # add_key into the session keyring
print(r, ctypes.get_errno())
try: socket.socket(40, socket.SOCK_STREAM); print("vsock")
except OSError as e: print(e.errno)
print(libc.syscall(425, 8, ctypes.create_string_buffer(128)), ctypes.get_errno())  # io_uring_setup'
is "strong: add_key refused (EPERM)" "$(echo "$out" | sed -n 1p)" "-1 1"
is "strong: AF_VSOCK refused (EAFNOSUPPORT)" "$(echo "$out" | sed -n 2p)" 97
is "strong: io_uring_setup refused (EPERM)" "$(echo "$out" | sed -n 3p)" "-1 1"
run_warren run --level container alice -- python3 -c '
import socket
try: socket.socket(40, socket.SOCK_STREAM); print("vsock ok")
except OSError as e: print(e.errno)'
is "  control: container has no filter, AF_VSOCK is only absent or allowed" "$(echo "$out" | grep -c 'vsock ok\|^97$')" 1

ok "bob's process survived everything" kill -0 "$bpid"
kill "$runner" "$ipc_runner" 2>/dev/null; wait 2>/dev/null
done_testing
