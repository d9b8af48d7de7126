# Shared by tests/integration/noisy-*.sh (sourced after tap.sh): two tenants,
# A the noisy one and B its neighbour, and the checks every noisy test makes
# while A attacks: B's runs work, the host can still start processes, and
# warren still answers about A.

"$WARREN" user create tenant-a >/dev/null
"$WARREN" user create tenant-b >/dev/null

# wait_runs TENANT N: until the tenant has N runs going (at most ~10 s).
wait_runs() {
  for _ in $(seq 100); do
    [ "$("$WARREN" stats "$1" --json 2>/dev/null | json 'd["runs"]')" = "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

# stats_a EXPR: EXPR over `warren stats tenant-a --json` (python, d).
stats_a() { "$WARREN" stats tenant-a --json | json "$1"; }

# neighbours_fine WHAT: the checks made while A attacks.
neighbours_fine() {
  local t0 t1
  t0=$(date +%s.%N)
  run_warren run --level basic tenant-b -- sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do /bin/true; done; echo b-ok'
  t1=$(date +%s.%N)
  is "during $1: tenant B's run works" "$rc:$out" "0:b-ok"
  echo "# B's run took $(echo "$t1 - $t0" | bc) s during $1"
  ok "during $1: the host still starts processes" sh -c 'for i in 1 2 3 4 5; do /bin/true; done'
  run_warren stats tenant-a --json
  is "during $1: warren still answers about A" "$rc" 0
}
