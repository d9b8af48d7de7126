# Noisy neighbours: a memory balloon in tenant A meets A's memory quota (the
# kernel's OOM killer ends it inside A), while B and the host carry on.
source "$WARREN_SRC/tests/lib/tap.sh"
source "$WARREN_SRC/tests/lib/noisy.sh"

exits "A gets a memory quota of 64M" 0 quota set tenant-a --memory 64M
balloon='a = []
while True:
    a.append(bytearray(8 << 20))'
"$WARREN" run --level basic --timeout 60 tenant-a -- python3 -c "$balloon" >/dev/null 2>&1 &
balloon_pid=$!
# While it grows (or right after it dies) the neighbours are fine.
neighbours_fine "A's memory balloon"
rc=0; wait "$balloon_pid" || rc=$?
is "A's balloon was killed (SIGKILL: exit 137)" "$rc" 137
is "the kernel counted an OOM kill in A's group" "$(stats_a 'd["oom_kills"] >= 1')" True
is "A's memory peak stayed within 64M" "$(stats_a 'd["memory"]["peak"] <= 64 << 20')" True
is "A's health says oom-killed" "$(stats_a 'd["health"]')" oom-killed
run_warren run --level basic tenant-a -- python3 -c 'x = bytearray(16 << 20); print("small-ok")'
is "A can still run what fits its quota" "$rc:$out" "0:small-ok"
run_warren stats tenant-b --json
is "B's health is ok" "$(echo "$out" | json 'd["health"]')" ok
is "B had no OOM kill" "$(echo "$out" | json 'd["oom_kills"]')" 0
done_testing
