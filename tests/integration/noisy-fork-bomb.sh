# Noisy neighbours: a fork bomb in tenant A stays inside A's process quota.
source "$WARREN_SRC/tests/lib/tap.sh"
source "$WARREN_SRC/tests/lib/noisy.sh"

exits "A gets a process quota of 64" 0 quota set tenant-a --pids 64
# The classic bomb, with a shell function as ':' would be.
"$WARREN" run --level basic --timeout 30 tenant-a -- \
  sh -c 'bomb() { bomb | bomb & }; bomb; sleep 30' >/dev/null 2>&1 &
bomber=$!
ok "A's bomb is running" wait_runs tenant-a 1
sleep 2
# The first look: the kernel has refused forks since (pids.events), so the
# health word says so. (A bomb can burn itself out when forks fail, so later
# looks may find it quiet again.)
is "A's health says over-quota: its forks met the limit" "$(stats_a 'd["health"]')" over-quota
is "A's processes stay at or under 64" "$(stats_a 'd["pids"]["current"] <= 64')" True
is "A's peak stays at or under 64" "$(stats_a 'd["pids"]["peak"] <= 64')" True
run_warren run --level basic tenant-a -- sh -c 'sh -c true & wait $!'
echo "# A's next run during the bomb: exit $rc ($err)"
neighbours_fine "A's fork bomb"

# Ending A's run ends the whole bomb, nothing left.
kill -TERM "$bomber"; wait "$bomber" 2>/dev/null
ok "after the bomb's run ends, A has no runs" wait_runs tenant-a 0
is "  and no processes" "$(stats_a 'd["pids"]["current"]')" 0
done_testing
