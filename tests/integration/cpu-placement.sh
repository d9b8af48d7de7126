# A tenant whose cpu quota is a fraction of the host runs on as many CPUs as
# the quota needs, rounded up (src/lib/cgroup-cpus.c), so a CPU-bound tenant
# never sits on every core at once. Checked from inside the runs
# (Cpus_allowed_list), against `warren stats`, and against a run that tries
# to widen its own affinity. The daemon, which supervises every run, keeps
# off the CPUs placed tenants run on while some CPU holds none
# (src/lib/supervisor.c); its runs still get every CPU their tenant may use.
source "$WARREN_SRC/tests/lib/tap.sh"
source "$WARREN_SRC/tests/lib/daemon.sh"

n=$(nproc --all)
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
have_cpuset=false
grep -q '^[0-9]*:[^:]*cpuset' /proc/self/cgroup && have_cpuset=true
[ -n "$cg2" ] && [[ " $(cat "$cg2/cgroup.controllers") " == *" cpuset "* ]] && have_cpuset=true
if [ "$n" -lt 2 ] || ! $have_cpuset; then
  ok "cpu placement # SKIP needs 2 CPUs and a cpuset controller (have $n CPUs, cpuset: $have_cpuset)" true
  done_testing; exit 0
fi
all="0-$((n - 1))"

# cpus_of TENANT: the Cpus_allowed_list a run of TENANT sees.
cpus_of() { "$WARREN" run --level basic "$1" -- awk '/^Cpus_allowed_list/ { print $2 }' /proc/self/status; }
placed_of() { "$WARREN" stats "$1" --json | json 'd["cpu"]["cpus"]'; }

for t in pl-a pl-b pl-c; do "$WARREN" user create $t >/dev/null; done
is "a tenant without a cpu quota runs on every CPU" "$(cpus_of pl-c)" "$all"
is "  and stats says it is not placed" "$(placed_of pl-c)" None

exits "A gets half a core" 0 quota set pl-a --cpu 0.5
a=$(cpus_of pl-a)
like "A's runs are placed on one CPU" "$a" '^[0-9]+$'
is "  the one stats reports" "$(placed_of pl-a)" "$a"
like "  and the text view says so" "$("$WARREN" stats pl-a)" "cpus $a\)"
# without CPU...: every CPU but those, as the kernel writes the list.
without() { python3 -c '
import sys
n, drop = int(sys.argv[1]), {int(c) for c in sys.argv[2:]}
keep = [c for c in range(n) if c not in drop]
out, i = [], 0
while i < len(keep):
    j = i
    while j + 1 < len(keep) and keep[j + 1] == keep[j] + 1: j += 1
    out.append(str(keep[i]) if i == j else "%d-%d" % (keep[i], keep[j]))
    i = j + 1
print(",".join(out))' "$n" "$@"; }
daemon_cpus() { awk '/^Cpus_allowed_list/ { print $2 }' "/proc/$DAEMON_PID/status"; }
# api_cpus TENANT: the Cpus_allowed_list a run of TENANT started by the daemon sees.
api_cpus() {
  api POST "/v1/tenants/$1/runs" '{"shell":"awk \"/^Cpus_allowed_list/ { print \\$2 }\" /proc/self/status","level":"basic"}'
  local run; run=$(echo "$body" | json 'd["id"]')
  for _ in $(seq 50); do api GET "/v1/tenants/$1/runs/$run"; [ "$(echo "$body" | json 'd["state"]')" = exited ] && break; sleep 0.1; done
  api GET "/v1/tenants/$1/runs/$run/output"
  echo "$body" | json 'd["stdout"].strip()'
}
start_daemon
is "the daemon keeps off A's CPU" "$(daemon_cpus)" "$(without "$a")"
is "  a run of an unplaced tenant it starts gets every CPU" "$(api_cpus pl-c)" "$all"
is "  a run of A gets A's CPU" "$(api_cpus pl-a)" "$a"
# An export's helper is warren's own work: every CPU. A reader that stops
# after the first 64 kB holds it long enough to look: 32 MB that zstd cannot
# shrink is more than the pipe and the sockets between them take. Then it
# reads the rest, and the export ends as it should.
"$WARREN" run --level basic pl-c -- sh -c 'head -c 32000000 /dev/urandom > big'
python3 -c '
import os, sys, time, urllib.request
req = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[2]})
with urllib.request.urlopen(req) as r:
    n = len(r.read(65536))
    while not os.path.exists(sys.argv[3]):
        time.sleep(0.05)
    while True:
        b = r.read(1 << 20)
        if not b:
            break
        n += len(b)
print(n)' "$URL/v1/tenants/pl-c/export" "$ADMIN" "$TEST_TMP/go" >"$TEST_TMP/read" &
reader=$!
helper=
for _ in $(seq 50); do helper=$(pgrep -P "$DAEMON_PID" | head -1); [ -n "$helper" ] && break; sleep 0.1; done
is "  an export's helper it starts gets every CPU" \
  "$(awk '/^Cpus_allowed_list/ { print $2 }' "/proc/$helper/status" 2>/dev/null)" "$all"
is "  while the daemon still keeps off A's" "$(daemon_cpus)" "$(without "$a")"
touch "$TEST_TMP/go"
wait "$reader"
ok "  the export then ends whole" test "$(cat "$TEST_TMP/read")" -gt 32000000
for _ in $(seq 50); do [ -z "$(pgrep -P "$DAEMON_PID")" ] && break; sleep 0.1; done
# n - 1.5 cores: placed on the n - 1 CPUs A is not on.
api PUT /v1/tenants/pl-c/quotas '{"cpu":"'"$((n - 2)).5"'"}'
is "  a quota change through the daemon: 200" "$status" 200
is "  C is placed on the CPUs A is not on" "$(cpus_of pl-c)" "$(without "$a")"
for _ in $(seq 30); do [ "$(daemon_cpus)" = "$all" ] && break; sleep 0.1; done
is "  with no CPU left free of placed tenants, the daemon goes back to all" "$(daemon_cpus)" "$all"
is "  and a run of A still gets A's CPU" "$(api_cpus pl-a)" "$a"
api PUT /v1/tenants/pl-c/quotas '{"cpu":"default"}'
for _ in $(seq 30); do [ "$(daemon_cpus)" != "$all" ] && break; sleep 0.1; done
is "  the quota dropped again: off A's CPU again" "$(daemon_cpus)" "$(without "$a")"
daemon_log_clean

exits "B gets half a core" 0 quota set pl-b --cpu 0.5
b=$(cpus_of pl-b)
like "B's runs are placed on one CPU" "$b" '^[0-9]+$'
ok "  not A's: the fewest placed tenants' CPU" test "$a" != "$b"

run_warren run --level basic pl-a -- sh -c "taskset -pc $all \$\$ >/dev/null 2>&1; awk '/^Cpus_allowed_list/ { print \$2 }' /proc/self/status"
is "a run that widens its own affinity stays on A's CPU" "$out" "$a"
run_warren run --level basic pl-a -- sh -c 'sleep 0.2 & sh -c "awk \"/^Cpus_allowed_list/ { print \\\$2 }\" /proc/self/status"; wait'
is "  and so does every process it starts" "$out" "$a"

exits "A's quota raised to every CPU" 0 quota set pl-a --cpu "$n"
is "  its runs use every CPU again" "$(cpus_of pl-a)" "$all"
is "  and stats says it is not placed" "$(placed_of pl-a)" None
exits "A back to 1.5 cores" 0 quota set pl-a --cpu 1.5
want=$([ "$n" -gt 2 ] && echo 2 || echo "$n")
is "  its runs get ceil(1.5) CPUs (or all of $n)" "$(cpus_of pl-a | python3 -c '
import sys
c = 0
for part in sys.stdin.read().strip().split(","):
    lo, _, hi = part.partition("-")
    c += int(hi or lo) - int(lo) + 1
print(c)')" "$want"
exits "A's cpu quota removed" 0 quota set pl-a --cpu max
is "  every CPU" "$(cpus_of pl-a)" "$all"

for t in pl-a pl-b pl-c; do "$WARREN" user delete $t >/dev/null; done
done_testing
