# Two processes creating 500 tenants each at the same time: no duplicate UID or
# name, the account files still parse (pwck, grpck), and the registry and the
# account files describe the same accounts, in both directions.
source "$WARREN_SRC/tests/lib/tap.sh"
source "$WARREN_SRC/tests/lib/consistency.sh"

prefix=warren_
per_loop=${WARREN_CONCURRENT_N:-500}

# While the writers run, a reader keeps checking what a reader may rely on at
# any instant: every line whole, and (the files are appended group first) every
# warren account's group already there when its passwd line is.
watch_files() {
  local samples=0 bad=0
  while [ ! -e "$TEST_TMP/done" ]; do
    python3 - "$prefix" >>"$TEST_TMP/watch.log" 2>&1 <<'EOF' || bad=$((bad + 1))
import sys
prefix = sys.argv[1]
pw = open("/etc/passwd").read()
gr = open("/etc/group").read()
bad = [l for l in pw.splitlines() if len(l.split(":")) != 7]
bad += [l for l in gr.splitlines() if len(l.split(":")) != 4]
gids = {l.split(":")[2] for l in gr.splitlines() if len(l.split(":")) == 4}
bad += [l for l in pw.splitlines() if l.startswith(prefix) and len(l.split(":")) == 7
        and l.split(":")[3] not in gids]
if bad or not pw.endswith("\n") or not gr.endswith("\n"):
    print("torn or inconsistent:", bad[:3])
    sys.exit(1)
EOF
    samples=$((samples + 1))
    sleep 0.2
  done
  echo "$samples $bad" >"$TEST_TMP/watch.result"
}

create_many() { # TAG COUNT
  local fails=0 i
  for ((i = 0; i < $2; i++)); do
    "$WARREN" user create "concurrent-$1-$i@example.com" >/dev/null 2>>"$TEST_TMP/err-$1" ||
      fails=$((fails + 1))
  done
  echo "$fails" >"$TEST_TMP/fails-$1"
}

watch_files &
watcher=$!
start=$(date +%s.%N)
create_many a "$per_loop" &
pa=$!
create_many b "$per_loop" &
pb=$!
wait "$pa" "$pb"
end=$(date +%s.%N)
touch "$TEST_TMP/done"
wait "$watcher"
awk -v a="$start" -v b="$end" -v n=$((2 * per_loop)) \
  'BEGIN { printf "# %d creates in two parallel loops took %.1f s\n", n, b - a }'

# failures FILE ERRFILE: the count, followed by the first errors if any.
failures() {
  local n
  n=$(cat "$1" 2>/dev/null || echo "no result")
  echo "$n"
  [ "$n" = 0 ] || head -3 "$2"
}
is "loop a: every create succeeded" "$(failures "$TEST_TMP/fails-a" "$TEST_TMP/err-a")" 0
is "loop b: every create succeeded" "$(failures "$TEST_TMP/fails-b" "$TEST_TMP/err-b")" 0
read -r samples bad <"$TEST_TMP/watch.result"
echo "# the reader sampled the account files $samples times during the creates"
is "a reader never saw a torn line or a passwd line before its group" \
  "$(failures <(echo "$bad") "$TEST_TMP/watch.log")" 0
ok "the reader took samples" test "$samples" -gt 0

ntenants=
consistency
is "the registry lists all $((2 * per_loop)) tenants" "$ntenants" $((2 * per_loop))
run_warren user list --json
is "user list --json says count $((2 * per_loop))" "$(json 'd["count"]' <<<"$out" 2>&1)" $((2 * per_loop))
is "the registry holds exactly the ids both loops created" \
  "$(json '"\n".join(sorted(u["saas_user_id"] for u in d["users"]))' <<<"$out" | sha256sum)" \
  "$(for t in a b; do for ((i = 0; i < per_loop; i++)); do echo "concurrent-$t-$i@example.com"; done; done |
    sort | sha256sum)"
is "no registry row is left in flight" \
  "$(sqlite3 "$WARREN_STATE_DIR/registry.db" 'select count(*) from tenants where state != 1' 2>&1)" 0
account_tools
is "getent agrees with the files: $((2 * per_loop)) warren accounts" \
  "$(getent passwd | grep -c "^$prefix")" $((2 * per_loop))

done_testing
