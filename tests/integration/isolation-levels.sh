# What runs at --level container and --level strong are, checked from inside
# by warren-probe: the container and strong rows of the isolation levels in
# DESIGN.md (docs/ISOLATION.md), and real programs working at strong.
source "$WARREN_SRC/tests/lib/tap.sh"
PROBE=${WARREN_PROBE:?WARREN_PROBE must name the warren-probe binary}

setup_tenant() { # id -> sets $name $uid $home, installs the probe in sandbox "probe"
  local out
  out=$("$WARREN" user create "$1" --json)
  name=$(echo "$out" | json 'd["linux_username"]')
  uid=$(echo "$out" | json 'd["linux_uid"]')
  home=$(echo "$out" | json 'd["home_dir"]')
  install -o "$uid" -g "$uid" -m 0755 "$PROBE" "$("$WARREN" sandbox path "$1" probe)/warren-probe"
}
setup_tenant bob; bob_name=$name; bob_home=$home
setup_tenant alice

# probe LEVEL [TENANT] [PROBE ARGS...]: report in $report, warren's exit in $rc.
probe() {
  local level=$1 who=${2:-alice}; shift 2 || shift $#
  run_warren run --level "$level" "$who" --service probe -- ./warren-probe "$@"
  report=$out
}
q() { printf '%s' "$report" | json "$1"; }
host_ns() { readlink "/proc/self/ns/$1"; }
check() { # op path: the probe's verdict ("ok" or the errno) for one --read/--write/--list/--stat
  printf '%s' "$report" | json "[('ok' if c['ok'] else c['errno']) for c in d['checks'] if c['op']=='$1' and c['path']=='$2'][0]"
}

for level in container strong; do
  probe $level alice --write / --write /etc/passwd --write /usr/x --write /tmp/t --write "$home/w" \
    --read /etc/shadow --stat "$bob_home" --stat /sys --read /proc/kcore --write /proc/sys/kernel/hostname \
    --list /proc --stat /home --stat /work
  is "$level: the probe runs" "$rc" 0
  [ "$rc" = 0 ] || echo "# stderr: $err"
  for ns in mnt pid ipc uts cgroup net; do
    ok "$level: own $ns namespace" test "$(q "d['namespaces']['$ns']")" != "$(host_ns $ns)"
  done
  # pid 1 is warren's init (src/init/warren-init.c), the command its only child.
  is "$level: pid 2 of its namespace, under warren's init" "$(q 'd["pid"]')" 2
  # The init's own fds (error and status pipes, the seccomp listener) stay with it.
  is "$level: only fds 0, 1, 2 are open" "$(q '[f["fd"] for f in d["fds"]]')" "[0, 1, 2]"
  is "$level: sees only its own processes and the init" "$(q 'd["pids"]["list"]')" "[1, 2]"
  is "$level: hostname is the account name" "$(q 'd["hostname"]')" "$name"
  is "$level: loopback only" "$(q 'd["net_interfaces"]')" "['lo']"
  is "$level: its cgroup is the root of its view" "$(q '[l for l in d["cgroup"] if l.startswith("0::")]')" "['0::/']"
  is "$level: the tenant's uid" "$(q '[d["uid"][k] for k in ("real","effective","saved")]')" "[$uid, $uid, $uid]"
  is "$level: / is read-only" "$(check write /)" EROFS
  like "$level: /etc cannot be written" "$(check write /etc/passwd)" '^(EROFS|EACCES)$'
  is "$level: /usr is read-only" "$(check write /usr/x)" EROFS
  is "$level: /tmp is writable" "$(check write /tmp/t)" ok
  is "$level: the home is writable at its real path" "$(check write "$home/w")" ok
  is "$level: no /etc/shadow" "$(check read /etc/shadow)" ENOENT
  is "$level: another tenant's home is not there" "$(check stat "$bob_home")" ENOENT
  is "$level: no /sys" "$(check stat /sys)" ENOENT
  like "$level: /proc/sys cannot be written" "$(check write /proc/sys/kernel/hostname)" '^(EROFS|EACCES)$'
  like "$level: /proc/kcore masked or absent" "$(check read /proc/kcore)" '^(ok|ENOENT)$'
  # The masks of /proc: host timers and keys read as empty, the hardware
  # directories are empty and read-only, the kernel settings read-only.
  run_warren run --level $level alice --shell \
    'wc -c < /proc/timer_list; wc -c < /proc/keys; ls -A /proc/acpi 2>&1 | wc -l; touch /proc/acpi/x 2>&1; grep -E " /proc/(sys|irq|bus|fs|acpi) " /proc/self/mountinfo | cut -d" " -f5,6 | sort'
  want=$(printf '0\n0\n')
  if [ -d /proc/acpi ]; then
    want=$(printf '%s\n0\ntouch: cannot touch %s: Read-only file system\n' "$want" "'/proc/acpi/x'")
  else
    want=$(printf '%s\n1\ntouch: cannot touch %s: No such file or directory\n' "$want" "'/proc/acpi/x'")
  fi
  for d in acpi bus fs irq sys; do
    [ -e /proc/$d ] && want=$(printf '%s\n/proc/%s ro,nosuid,nodev,noexec,relatime' "$want" "$d")
  done
  is "$level: /proc's masks: timer_list and keys empty, acpi empty and read-only, the settings read-only" \
    "$out" "$want"
  # Whichever of the masked files this kernel has, each is /dev/null in the run.
  run_warren run --level $level alice --shell \
    'for n in kcore keys timer_list timer_stats sched_debug latency_stats sysrq-trigger; do [ -e /proc/$n ] && echo "$n $(stat -c %F:%t:%T /proc/$n)"; done; :'
  want=$(for n in kcore keys timer_list timer_stats sched_debug latency_stats sysrq-trigger; do
    [ -e /proc/$n ] && echo "$n character special file:1:3"; done; :)
  is "$level: every masked /proc file the kernel has is /dev/null" "$out" "$want"
  is "$level: the host's /home and /work are not there" "$(check stat /home) $(check stat /work)" "ENOENT ENOENT"
  run_warren run --level $level alice -- cat /etc/passwd
  is "$level: /etc/passwd shows root and the tenant only" "$(echo "$out" | cut -d: -f1 | tr '\n' ' ')" "root $name "
  is "$level: effective capabilities empty" "$(q "int(d['caps']['effective'], 16)")" 0
  is "$level: no_new_privs" "$(q 'd["no_new_privs"]')" 1
  # The minimal /dev: the host's six nodes (type, numbers, modes), the links,
  # its own devpts and /dev/shm; nothing can be added; the nodes work.
  run_warren run --level $level alice --shell 'cd /dev && stat -c "%n %F %t:%T %a" * | sort'
  want=$(cd /dev && for n in null zero full random urandom tty; do stat -c "%n %F %t:%T %a" $n; done)
  want=$(printf '%s\nfd symbolic link 0:0 777\nptmx symbolic link 0:0 777\npts directory 0:0 755\nshm directory 0:0 1777\nstderr symbolic link 0:0 777\nstdin symbolic link 0:0 777\nstdout symbolic link 0:0 777\n' "$want" | sort)
  is "$level: /dev holds the six nodes, the links, pts and shm" "$out" "$want"
  run_warren run --level $level alice --shell 'touch /dev/new 2>&1; mknod /dev/sda1 b 8 1 2>&1; echo w > /dev/null && head -c 3 /dev/zero | od -An -tx1 | tr -d " "'
  like "$level: nothing can be made in /dev" "$(echo "$out" | head -2 | tr '\n' ' ')" \
    "^touch: .*(Read-only file system|Permission denied) mknod: .*(Read-only file system|Operation not permitted|Permission denied) $"
  is "$level: /dev/null takes writes, /dev/zero reads zeros" "$(echo "$out" | tail -1)" 000000
done

# The network namespace is the tenant's: kept across its runs, not shared.
probe container alice; a1=$(q 'd["namespaces"]["net"]')
probe strong alice; a2=$(q 'd["namespaces"]["net"]')
probe strong bob; b1=$(q 'd["namespaces"]["net"]')
is "one network namespace for all of a tenant's runs" "$a2" "$a1"
ok "another tenant has another" test "$b1" != "$a1"

# /tmp is private to each run. (Here the homes themselves live under
# /tmp/warren-test.*, so that path is in every run's /tmp too.)
top=$(echo "$home" | cut -d/ -f3)
run_warren run --level container alice --shell 'echo secret > /tmp/left; ls -A /tmp'
is "a run writes in its /tmp" "$(echo "$out" | grep -vx "$top")" left
run_warren run --level container alice -- ls -A /tmp
is "the next run's /tmp holds nothing of it" "$(echo "$out" | grep -vx "$top")" ""

# Strong adds: every capability gone (bounding set too), seccomp, Landlock.
probe strong alice
is "strong: bounding set empty" "$(q "int(d['caps']['bounding'], 16)")" 0
is "strong: seccomp filter mode" "$(q 'd["seccomp"]')" 2
ok "strong: Landlock enforced at the kernel's ABI" test "$(q 'd["landlock"]["abi"]')" -ge 1
probe container alice
ok "container: the bounding set is not emptied (that is strong's)" test "$(q "int(d['caps']['bounding'], 16)")" -ne 0
is "container: no seccomp filter" "$(q 'd["seccomp"]')" 0

# Refused at strong, and audited.
run_warren run --level strong alice -- unshare -U true
ok "strong: a nested user namespace is refused" test "$rc" -ne 0
run_warren run --level strong alice -- python3 -c 'import ctypes; print(ctypes.CDLL(None).syscall(1000))'
is "strong: an unknown system call fails (ENOSYS, libc falls back)" "$out" "-1"
# Joining a mount namespace passes the filter (a run's command joins its
# root after loading it); without capabilities the kernel refuses it.
run_warren run --level strong alice -- nsenter --mount=/proc/self/ns/mnt true
ok "strong: joining a mount namespace is refused" test "$rc" -ne 0
like "  with EPERM (no capability)" "$err" "Operation not permitted"
run_warren audit alice --json
is "warren audit lists the refused unshare" "$(echo "$out" | json '[r["syscall"] for r in d["refused_syscalls"] if r["syscall"]=="unshare"]')" "['unshare']"
run_warren audit bob --json
is "bob's audit is his own" "$(echo "$out" | json 'len(d["refused_syscalls"])')" 0

# Real programs at strong.
run_warren run --level strong alice -- sh -c 'echo shell ok'
is "strong: sh -c" "$out" "shell ok"
run_warren run --level strong alice -- python3 -c 'import threading, subprocess; print(subprocess.run(["echo", "py ok"], capture_output=True, text=True).stdout.strip())'
is "strong: python3 with threads and subprocess" "$out" "py ok"
run_warren run --level strong --service build alice --shell 'printf "#include <stdio.h>\nint main(void){puts(\"gcc ok\");return 0;}\n" > h.c && gcc h.c -o h && ./h'
is "strong: gcc compiles and the result runs" "$out" "gcc ok"
if command -v node >/dev/null; then
  run_warren run --level strong alice -- node -e 'console.log("node ok")'
  is "strong: node -e" "$out" "node ok"
else
  echo "ok $((++_tap_n)) - strong: node -e # SKIP node is not installed"
fi
"$WARREN" run --level strong --timeout 20 alice -- python3 -m http.server 8765 --bind 127.0.0.1 >/dev/null 2>&1 &
server=$!
got=
for _ in $(seq 40); do
  run_warren run --level strong alice -- python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:8765/", timeout=2).status)'
  got=$out; [ "$got" = 200 ] && break; sleep 0.25
done
is "strong: another run of the tenant reaches its loopback server" "$got" 200
run_warren run --level strong bob -- python3 -c '
import urllib.request
try: urllib.request.urlopen("http://127.0.0.1:8765/", timeout=2); print("reached")
except Exception as e: print("refused")'
is "  another tenant's run does not" "$out" refused
kill "$server" 2>/dev/null; wait "$server" 2>/dev/null

# warren stopped by a signal ends the run's whole tree; killed outright, it
# cannot, so the next run of the tenant (or `warren repair`) ends what its
# runs left behind.
"$WARREN" run --level basic alice --shell 'setsid sleep 301 & sleep 301' & w=$!
sleep 0.5
kill -TERM "$w"; wait "$w"; st=$?
is "SIGTERM: warren exits 128+15" "$st" 143
is "  and nothing of the run is left" "$(pgrep -u "$uid" -f 'sleep 301' | wc -l)" 0
"$WARREN" run --level basic alice --shell 'setsid sleep 302 & sleep 302' & w=$!
sleep 0.5
kill -KILL "$w"; wait "$w" 2>/dev/null
sleep 0.3
ok "SIGKILL: the daemonised grandchild outlives warren" test "$(pgrep -u "$uid" -f 'setsid sleep 302|^sleep 302' | wc -l)" -ge 1
run_warren run --level basic alice -- true
sleep 0.2
is "  until the tenant's next run ends it" "$(pgrep -u "$uid" -f 'sleep 302' | wc -l)" 0
"$WARREN" run --level basic alice --shell 'setsid sleep 303 & sleep 303' & w=$!
sleep 0.5
kill -KILL "$w"; wait "$w" 2>/dev/null
run_warren repair --json
is "  or warren repair does" "$(echo "$out" | json 'd["runs_ended"]') $(pgrep -u "$uid" -f 'sleep 303' | wc -l)" "1 0"

done_testing
