# Shared by tests/attacks/attacks-basic.sh and attacks-levels.sh (sourced after
# tap.sh, with run_warren): the fork-bomb row of the attack table at one level.
#
# fork_bomb LEVEL BOMBER BOMBER_UID VICTIM PREFIX: BOMBER (a tenant at a UID of
# its own: RLIMIT_NPROC counts a UID's processes host-wide) runs a fork bomb at
# LEVEL with --timeout 25. The bomb forks subshells that block reading a pipe
# nobody writes, so that the count only grows: fork without exec, the quickest
# way to the limit on a loaded machine. bash retries a failed fork for a while
# and then gives up; the run's program then becomes a sleep (exec, no fork), so
# that only the timeout can end it. The checks (their names begin with PREFIX):
# the bomb stops at RLIMIT_NPROC (2048 per UID), VICTIM still runs, and the
# timeout ends every process of the bomb. (The outer timeout stops a warren
# whose --timeout does nothing from hanging the suite.)
fork_bomb() {
  local level=$1 bomber=$2 uid=$3 victim=$4 p=$5
  local bomb bomb_start bomb_rc bomb_took n peak=0 b_rc=none took= t0
  bomb_start=$(date +%s)
  timeout 90 "$WARREN" run --level "$level" --timeout 25 "$bomber" \
    --shell 'bash -c "exec 3< <(exec sleep 600); while :; do (read -u 3) & done" 2>/dev/null; exec sleep 600' \
    >/dev/null 2>&1 &
  bomb=$!
  while kill -0 "$bomb" 2>/dev/null; do
    n=$(ps -u "$uid" --no-headers | wc -l)
    [ "$n" -gt "$peak" ] && peak=$n
    if [ "$b_rc" = none ] && [ "$n" -ge 1800 ]; then
      t0=$(date +%s.%N)
      run_warren run --level "$level" "$victim" -- true
      b_rc=$rc
      took=$(python3 -c "import time; print(round(time.time() - $t0, 1))")
    fi
    sleep 0.5
  done
  bomb_rc=0
  wait "$bomb" || bomb_rc=$?
  bomb_took=$(($(date +%s) - bomb_start))
  is "${p}B runs while the fork bomb holds 1800+ processes" "$b_rc" 0
  ok "${p}  within 5 s (took ${took:-?}s)" python3 -c "assert ${took:-99} < 5"
  ok "${p}  the bomb reached the limit: close to 2048 processes (peak $peak)" test "$peak" -ge 2000
  ok "${p}  and stayed under RLIMIT_NPROC 2048 (peak $peak)" test "$peak" -le 2048
  ok "${p}  the timeout ended every process of the bomber's (left: $(ps -u "$uid" --no-headers | wc -l))" \
    test "$(ps -u "$uid" --no-headers | wc -l)" -eq 0
  is "${p}  the bomb was ended by its --timeout 25 (SIGKILL: 137)" "$bomb_rc" 137
  ok "${p}  in time (took ${bomb_took}s)" test "$bomb_took" -ge 25 -a "$bomb_took" -lt 45
}
