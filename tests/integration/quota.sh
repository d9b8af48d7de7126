# Quotas: `warren quota get|set`, the host-wide defaults, their enforcement
# in the tenant's cgroup (read back from the kernel's own files), RLIMIT_NOFILE
# of runs, changes reaching a running run, bad values refused with nothing
# changed, `warren stats`/`top`, and nothing left in any hierarchy after a
# delete. Runs on the host's layout: cgroup v1 controllers beside cgroup2
# (hybrid), or cgroup2 with controllers (v2).
source "$WARREN_SRC/tests/lib/tap.sh"

cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
# v1_dir CONTROLLER: the mount point of the v1 hierarchy that has it.
v1_dir() { awk -v c="$1" '$3 == "cgroup" { n = split($4, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) { print $2; exit } }' /proc/self/mounts; }
mem_v1=$(v1_dir memory); cpu_v1=$(v1_dir cpu); pids_v1=$(v1_dir pids)
if [ -n "$mem_v1" ]; then layout=hybrid; else layout=v2; fi
echo "# cgroup layout: $layout"

"$WARREN" user create alice >/dev/null
"$WARREN" user create bob >/dev/null
name=$("$WARREN" user get alice --json | json 'd["linux_username"]')

# --- get/set and the registry ---------------------------------------------------------
run_warren quota get alice --json
is "a new tenant has no quota of its own" "$(echo "$out" | json 'list(d["own"].values()).count(None)')" 9
is "  and no default applies: effective memory unlimited" "$(echo "$out" | json 'd["effective"]["memory"]')" None

run_warren quota set alice --memory 256M --cpu 0.5 --pids 64 --nofile 256 --json
is "quota set succeeds" "$rc" 0
[ "$rc" = 0 ] || echo "# $err"
is "  memory stored in bytes" "$(echo "$out" | json 'd["own"]["memory"]')" 268435456
is "  cpu stored in cores" "$(echo "$out" | json 'd["own"]["cpu"]')" 0.5
is "  pids and nofile stored" "$(echo "$out" | json '[d["own"]["pids"], d["own"]["nofile"]]')" "[64, 256]"
run_warren quota get alice
like "text output lists the memory quota" "$out" "memory +256M +256M"

# Bad values: usage error naming the option and value; nothing changes.
before=$("$WARREN" quota get alice --json)
for bad in "--memory 12Q" "--memory -5" "--cpu 0.0001" "--cpu lots" "--pids 0" "--nofile 3" \
           "--net-rate 10mbps" "--storage 1X" "--inodes -1" "--cpu-weight 20000"; do
  set -- $bad
  run_warren quota set alice "$1" "$2"
  is "quota set $bad: usage error (exit 2)" "$rc" 2
  like "  the message names $1 '$2'" "$err" "$1 '$2'"
done
is "refused values changed nothing" "$("$WARREN" quota get alice --json)" "$before"
exits "quota set with nothing to set: usage error" 2 quota set alice
exits "quota of an unknown tenant: not found (3)" 3 quota set nobody --memory 1G
exits "quota get of an unknown tenant: not found (3)" 3 quota get nobody

# --- the kernel has it -----------------------------------------------------------------
if [ "$layout" = hybrid ]; then
  tg_mem=$mem_v1/warren/$name; tg_cpu=$cpu_v1/warren/$name; tg_pids=$pids_v1/warren/$name
  is "memory.limit_in_bytes of the tenant's v1 group" "$(cat "$tg_mem/memory.limit_in_bytes")" 268435456
  [ -f "$tg_mem/memory.memsw.limit_in_bytes" ] &&
    is "  memory+swap the same (swap off)" "$(cat "$tg_mem/memory.memsw.limit_in_bytes")" 268435456
  is "cpu.cfs_quota_us / period = 0.5 core" "$(cat "$tg_cpu/cpu.cfs_quota_us") $(cat "$tg_cpu/cpu.cfs_period_us")" "50000 100000"
  is "pids.max" "$(cat "$tg_pids/pids.max")" 64
else
  tg=$cg2/warren/$name
  is "memory.max of the tenant's group" "$(cat "$tg/memory.max")" 268435456
  is "memory.swap.max 0 (swap off)" "$(cat "$tg/memory.swap.max" 2>/dev/null || echo 0)" 0
  is "cpu.max = 0.5 core" "$(cat "$tg/cpu.max")" "50000 100000"
  is "pids.max" "$(cat "$tg/pids.max")" 64
fi

# A run lives in the tenant's groups and has the open-files limit.
run_warren run --level basic alice -- sh -c 'ulimit -n; ulimit -Hn; cat /proc/self/cgroup'
is "a run succeeds under its quota" "$rc" 0
is "RLIMIT_NOFILE soft and hard = the nofile quota" "$(echo "$out" | sed -n 1,2p | paste -sd' ')" "256 256"
like "the run is in the tenant's cgroup2 group (a run child)" "$out" "0::/warren/$name/run-"
if [ "$layout" = hybrid ]; then
  like "  and in the tenant's v1 memory group" "$out" "memory:/warren/$name"
  like "  and in the tenant's v1 pids group" "$out" "pids:/warren/$name"
fi
run_warren run --level strong alice -- sh -c 'ulimit -n; cat /proc/self/cgroup'
is "a strong run succeeds too" "$rc" 0
[ "$rc" = 0 ] || echo "# $err"
is "  with the same nofile limit" "$(echo "$out" | head -1)" 256

# A change reaches a running run at once.
"$WARREN" run --level basic alice -- sleep 30 &
runner=$!
for _ in $(seq 50); do
  [ "$("$WARREN" stats alice --json | json 'd["runs"]')" = 1 ] && break; sleep 0.1
done
run_warren quota set alice --memory 128M --pids 32
is "changing quotas while a run is going succeeds" "$rc" 0
if [ "$layout" = hybrid ]; then
  is "  the running run's group has the new memory limit" "$(cat "$tg_mem/memory.limit_in_bytes")" 134217728
  is "  and the new pids.max" "$(cat "$tg_pids/pids.max")" 32
  pid=$(pgrep -f '^sleep 30$' | head -1)
  like "  the sleeping run is in that group" "$(cat "$tg_mem/cgroup.procs")" "(^|$'\n')$pid($|$'\n')"
else
  is "  the running run's group has the new memory.max" "$(cat "$tg/memory.max")" 134217728
  is "  and the new pids.max" "$(cat "$tg/pids.max")" 32
fi

# stats while it runs
run_warren stats alice --json
is "stats --json works" "$rc" 0
is "  one run going" "$(echo "$out" | json 'd["runs"]')" 1
is "  processes now >= 1" "$(echo "$out" | json 'd["pids"]["current"] >= 1')" True
is "  memory now > 0 and <= peak" "$(echo "$out" | json '0 < d["memory"]["current"] <= d["memory"]["peak"]')" True
is "  quota limits reported" "$(echo "$out" | json '[d["memory"]["max"], d["pids"]["max"], d["cpu"]["max_cores"]]')" "[134217728, 32, 0.5]"
# ok; or throttled where the machine is so slow (an emulated guest) that a
# sleeping run's start really meets its half core.
like "  health ok (or throttled on a very slow machine)" "$(echo "$out" | json 'd["health"]')" '^(ok|throttled)$'
is "  every figure is there" "$(echo "$out" | json 'sorted(d)')" "['cpu', 'frozen', 'health', 'linux_username', 'memory', 'network', 'oom_kills', 'pids', 'refused_syscalls', 'runs', 'saas_user_id', 'storage']"
run_warren top --json
is "top lists both tenants" "$(echo "$out" | json 'sorted(t["saas_user_id"] for t in d["tenants"])')" "['alice', 'bob']"
run_warren top
like "top's text has a header" "$out" "TENANT +HEALTH"
kill "$runner" 2>/dev/null; wait "$runner" 2>/dev/null

# A memory limit below what the run holds: refused, or the kernel reclaims
# (v1 refuses with EBUSY when it cannot); either way the registry says what
# the kernel has.
exits "memory quota 'max' lifts the limit" 0 quota set alice --memory max
if [ "$layout" = hybrid ]; then
  like "  the group is unlimited again" "$(cat "$tg_mem/memory.limit_in_bytes")" '^9223372036854[0-9]+$'
fi

# --- network rate: handed to the network part ---------------------------------------------
run_warren quota set alice --net-rate 10mbit --json
is "quota set --net-rate" "$rc" 0
is "  both directions stored" "$(echo "$out" | json '[d["own"]["net_egress"], d["own"]["net_ingress"]]')" "[10000000, 10000000]"
run_warren net get alice --json
like "  the network part has the rate (applied when the tenant is nat)" "$out" "10000000"
exits "--net-rate max lifts it" 0 quota set alice --net-rate max

# --- defaults ------------------------------------------------------------------------------
run_warren quota set-defaults --pids 100 --memory 1G --json
is "set-defaults succeeds" "$rc" 0
is "  shows the defaults" "$(echo "$out" | json '[d["defaults"]["pids"], d["defaults"]["memory"]]')" "[100, 1073741824]"
run_warren quota get bob --json
is "a tenant without its own value gets the default" "$(echo "$out" | json '[d["own"]["pids"], d["effective"]["pids"]]')" "[None, 100]"
run_warren quota get alice --json
is "a tenant's own value wins over the default" "$(echo "$out" | json 'd["effective"]["pids"]')" 32
run_warren quota set alice --pids default --json
is "'default' drops the tenant's own value" "$(echo "$out" | json '[d["own"]["pids"], d["effective"]["pids"]]')" "[None, 100]"
if [ "$layout" = hybrid ]; then
  is "  and the kernel follows" "$(cat "$tg_pids/pids.max")" 100
fi
"$WARREN" run --level basic bob -- true
if [ "$layout" = hybrid ]; then
  bname=$("$WARREN" user get bob --json | json 'd["linux_username"]')
  is "bob's first run made his group with the default limit" "$(cat "$pids_v1/warren/$bname/pids.max")" 100
fi

# --- audit -----------------------------------------------------------------------------------
run_warren audit alice --type quota_changed --json
is "quota changes are audited" "$(echo "$out" | json 'd["count"] >= 3')" True
like "  with what changed" "$(echo "$out" | json 'd["events"][0]["detail"]')" "memory"

# --- nothing left behind ---------------------------------------------------------------------
"$WARREN" user delete alice >/dev/null
ok "delete removes the tenant's cgroup2 group" test ! -e "$cg2/warren/$name"
if [ "$layout" = hybrid ]; then
  ok "  and its v1 memory group" test ! -e "$tg_mem"
  ok "  and its v1 cpu group" test ! -e "$tg_cpu"
  ok "  and its v1 pids group" test ! -e "$tg_pids"
fi
like "no run groups left under warren's cgroup2 tree" "$(find "$cg2/warren" -name 'run-*' | wc -l)" '^0$'

done_testing
