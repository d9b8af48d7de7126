# Noisy neighbours: CPU spinners in tenant A get A's cpu quota (0.2 of a
# core, however many processes spin), while B's run completes.
source "$WARREN_SRC/tests/lib/tap.sh"
source "$WARREN_SRC/tests/lib/noisy.sh"

work='i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; echo done'
t0=$(date +%s.%N); "$WARREN" run --level basic tenant-b -- sh -c "$work" >/dev/null; t1=$(date +%s.%N)
quiet=$(echo "$t1 - $t0" | bc)

exits "A gets a cpu quota of 0.2 cores" 0 quota set tenant-a --cpu 0.2
cpu0=$(stats_a 'd["cpu"]["seconds"]')
start=$(date +%s.%N)
"$WARREN" run --level basic --timeout 4 tenant-a -- \
  sh -c 'while :; do :; done & while :; do :; done & while :; do :; done & wait' >/dev/null 2>&1 &
spinner=$!
ok "A's spinners are running" wait_runs tenant-a 1
sleep 0.5
is "A's health says throttled" "$(stats_a 'd["health"]')" throttled
t0=$(date +%s.%N); run_warren run --level basic tenant-b -- sh -c "$work"; t1=$(date +%s.%N)
busy=$(echo "$t1 - $t0" | bc)
is "B's CPU-bound run completes while A spins" "$rc:$out" "0:done"
echo "# B's run: ${quiet}s quiet, ${busy}s while A spins"
is "  and takes at most 5x its quiet time + 1 s (A holds 0.2 of 2 cores)" "$(echo "$busy <= 5 * $quiet + 1" | bc)" 1
neighbours_fine "A's CPU spin"
wait "$spinner" 2>/dev/null
end=$(date +%s.%N)
used=$(echo "$(stats_a 'd["cpu"]["seconds"]') - $cpu0" | bc)
wall=$(echo "$end - $start" | bc)
echo "# A used ${used}s of CPU in ${wall}s with 3 spinners"
is "A used at most 0.2 core over the spin (+0.3 s slack)" "$(echo "$used <= 0.2 * $wall + 0.3" | bc)" 1
is "the kernel reports A's time throttled" "$(stats_a 'd["cpu"]["throttled_seconds"] > 0')" True
done_testing
