# A tenant whose cpu quota is a fraction of the host runs on as many CPUs as
# the quota needs, rounded up (src/lib/cgroup-cpus.c), so a CPU-bound tenant
# never sits on every core at once. Checked from inside the runs
# (Cpus_allowed_list), against `warren stats`, and against a run that tries
# to widen its own affinity.
source "$WARREN_SRC/tests/lib/tap.sh"

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
