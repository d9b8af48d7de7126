# The cgroup2 side of warren, read back from the kernel's own files:
#  - always (any host with a cgroup2 mount, controllers or not): a run's tree
#    is its run group's, however it daemonises; kill and freeze per tenant;
#    nothing left in the hierarchy after a run or a tenant ends;
#  - with cgroup2 controllers (a v2-only host, or the KVM guest of
#    tests/vm/run-in-guest, booted with cgroup_no_v1=all): the v2 backend's
#    limits (memory.max, memory.swap.max, cpu.max, cpu.weight, pids.max,
#    cpuset.cpus), the
#    no-internal-processes layout, OOM kills and refused forks counted by the
#    kernel and reported by `warren stats`. On a host whose controllers are
#    in v1 these cases are skipped (tests/integration/quota.sh covers v1).
source "$WARREN_SRC/tests/lib/tap.sh"

cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
if [ -z "$cg2" ]; then
  ok "cgroup v2 # SKIP no cgroup2 mount" true
  done_testing; exit 0
fi
ctrls=$(cat "$cg2/cgroup.controllers")
echo "# cgroup2 at $cg2, controllers: ${ctrls:-none}"

"$WARREN" user create v2-alice >/dev/null
"$WARREN" user create v2-bob >/dev/null
name=$("$WARREN" user get v2-alice --json | json 'd["linux_username"]')
tg=$cg2/warren/$name

# --- tracking and kill ----------------------------------------------------------------
run_warren run --level basic v2-alice -- sh -c 'cat /proc/self/cgroup; setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!'
is "a run succeeds" "$rc" 0
like "it runs in its own group below the tenant's" "$out" "0::/warren/$name/run-[0-9]+-[0-9a-f]+"
daemon=$(echo "$out" | tail -1)
ok "the daemonised grandchild is gone when the run ends" sh -c "! kill -0 $daemon 2>/dev/null"
is "no run group is left" "$(find "$tg" -mindepth 1 -maxdepth 1 -type d -name 'run-*' | wc -l)" 0

"$WARREN" run --level basic --timeout 900 v2-alice -- sh -c 'while :; do echo tick >> ticks; sleep 0.05; done' &
runner=$!
"$WARREN" run --level basic --timeout 900 v2-bob -- sleep 900 &
bobrun=$!
for _ in $(seq 100); do [ "$(find "$tg" -maxdepth 1 -name 'run-*' | wc -l)" = 1 ] && break; sleep 0.1; done
home=$("$WARREN" user get v2-alice --json | json 'd["home_dir"]')
sleep 0.3

# --- freeze -------------------------------------------------------------------------------
exits "freeze the tenant" 0 freeze v2-alice
like "the kernel says the tenant's group is frozen" "$(cat "$tg/cgroup.events")" "frozen 1"
n1=$(wc -l < "$home/ticks"); sleep 0.5; n2=$(wc -l < "$home/ticks")
is "a frozen run makes no progress" "$n2" "$n1"
run_warren stats v2-alice --json
is "stats says frozen" "$(echo "$out" | json 'd["frozen"]')" True
bname=$("$WARREN" user get v2-bob --json | json 'd["linux_username"]')
like "the neighbour is not frozen" "$(cat "$cg2/warren/$bname/cgroup.events")" "frozen 0"
exits "thaw the tenant" 0 thaw v2-alice
like "the kernel says thawed" "$(cat "$tg/cgroup.events")" "frozen 0"
grown=0
for _ in $(seq 100); do
  [ "$(wc -l < "$home/ticks")" -gt "$n2" ] && { grown=1; break; }
  sleep 0.1
done
is "the run goes on after thawing" "$grown" 1

# --- kill per tenant ---------------------------------------------------------------------------
exits "kill every process of the tenant" 0 kill v2-alice
rc=0; wait "$runner" || rc=$?
is "the killed run ends with SIGKILL (137)" "$rc" 137
like "the tenant's group is empty" "$(cat "$tg/cgroup.events")" "populated 0"
ok "the neighbour's run is untouched" kill -0 "$bobrun"
exits "freeze a tenant with no runs" 0 freeze v2-alice
exits "thaw it" 0 thaw v2-alice
exits "freeze of an unknown tenant: not found" 3 freeze nobody

# --- the v2 backend's limits (controllers needed) -------------------------------------------------
if [[ " $ctrls " != *" memory "* || " $ctrls " != *" pids "* || " $ctrls " != *" cpu "* ]]; then
  ok "cgroup v2 limits # SKIP this host's memory, cpu and pids controllers are in cgroup v1 (run tests/vm/run-in-guest)" true
else
  exits "quota set on the v2 backend" 0 quota set v2-alice --memory 64M --cpu 0.25 --cpu-weight 50 --pids 32
  is "memory.max" "$(cat "$tg/memory.max")" 67108864
  [ -f "$tg/memory.swap.max" ] && is "memory.swap.max 0: swap off" "$(cat "$tg/memory.swap.max")" 0
  is "cpu.max: 0.25 core" "$(cat "$tg/cpu.max")" "25000 100000"
  is "cpu.weight" "$(cat "$tg/cpu.weight")" 50
  is "pids.max" "$(cat "$tg/pids.max")" 32
  if [[ " $ctrls " == *" cpuset "* ]] && [ "$(nproc --all)" -ge 2 ]; then
    like "cpuset.cpus: a quarter core is placed on one CPU" "$(cat "$tg/cpuset.cpus")" '^[0-9]+$'
    run_warren run --level basic v2-alice -- awk '/^Cpus_allowed_list/ { print $2 }' /proc/self/status
    is "  and its runs run there" "$out" "$(cat "$tg/cpuset.cpus")"
  fi
  like "warren's group hands the controllers down" "$(cat "$cg2/warren/cgroup.subtree_control")" "memory"
  is "warren's group holds no process itself" "$(cat "$cg2/warren/cgroup.procs" | wc -l)" 0
  run_warren run --level basic v2-alice -- python3 -c 'a = []
while True: a.append(bytearray(8 << 20))'
  is "a balloon past memory.max is OOM-killed (137)" "$rc" 137
  like "memory.events counts the OOM kill" "$(cat "$tg/memory.events")" "oom_kill [1-9]"
  run_warren stats v2-alice --json
  is "stats reports it" "$(echo "$out" | json 'd["oom_kills"] >= 1 and d["health"] == "oom-killed"')" True
  is "memory peak within the limit" "$(echo "$out" | json 'd["memory"]["peak"] <= 64 << 20')" True
  run_warren run --level basic v2-alice -- sh -c 'for i in $(seq 64); do sleep 900 & done 2>/dev/null; echo spawned'
  like "pids.events counts refused forks" "$(cat "$tg/pids.events")" "max [1-9]"
  run_warren run --level basic --timeout 3 v2-alice -- sh -c 'while :; do :; done'
  like "cpu.stat counts throttling" "$(cat "$tg/cpu.stat")" "nr_throttled [1-9]"
  exits "quota set back to unlimited" 0 quota set v2-alice --memory max --cpu max --pids max
  is "memory.max back to max" "$(cat "$tg/memory.max")" max
  is "cpu.max back to max" "$(cat "$tg/cpu.max")" "max 100000"
  [ -f "$tg/cpuset.cpus" ] && is "cpuset.cpus empty again: all of warren's" "$(cat "$tg/cpuset.cpus")" ""
fi

kill "$bobrun" 2>/dev/null; wait "$bobrun" 2>/dev/null
"$WARREN" user delete v2-alice >/dev/null
"$WARREN" user delete v2-bob >/dev/null
ok "deleting the tenants leaves no group of theirs" test -z "$(find "$cg2/warren" -mindepth 1 -type d)"
done_testing
