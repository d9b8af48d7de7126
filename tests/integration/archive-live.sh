# Export while the tenant writes: the tenant's runs are frozen for the copy,
# so the archive is one instant of the home. The writer makes f.N complete
# (written as tmp.N, then renamed) before it appends N to `log`: in any
# instant, every N in the log has its f.N, whole. A walk of a home that keeps
# changing would read the directory before the log and miss some.
source "$WARREN_SRC/tests/lib/tap.sh"
WB=$TEST_TMP/warren-b
printf '#!/bin/sh\nexport WARREN_STATE_DIR=%s/state-b WARREN_USERS_BASE=%s/users-b WARREN_UID_RANGE=70001-70999\nexec %s "$@"\n' \
  "$TEST_TMP" "$TEST_TMP" "$WARREN" > "$WB"
chmod +x "$WB"
on_b() { local WARREN=$WB; "$@"; }
out=$("$WARREN" user create alice --json); ha=$(echo "$out" | json 'd["home_dir"]')

"$WARREN" run --level basic --timeout 300 alice --shell "cd '$ha/sandboxes' && i=0 && while :; do head -c 100000 /dev/urandom > tmp.\$i; mv tmp.\$i f.\$i; echo \$i >> log; i=\$((i+1)); done" \
  >/dev/null 2>&1 &
writer=$!
for _ in $(seq 100); do [ -s "$ha/sandboxes/log" ] && break; sleep 0.05; done
ok "the tenant is writing" test -s "$ha/sandboxes/log"

for n in 1 2 3; do
  sleep 0.3
  exits "export $n while the tenant writes" 0 export alice "$TEST_TMP/live$n.tar.zst" --json
  is "  its runs were frozen for the copy" "$(echo "$out" | json 'd["frozen"]')" True
  on_b exits "  the archive verifies (import on another host)" 0 import "t$n" "$TEST_TMP/live$n.tar.zst" --from alice --json
  h=$(echo "$out" | json 'd["user"]["home_dir"]')
  ok "  one instant: every N in the log has its f.N, whole" python3 - "$h/sandboxes" <<'PY'
import os, sys
d = sys.argv[1]
ns = [int(x) for x in open(os.path.join(d, "log")).read().split()]
missing = [n for n in ns if os.path.getsize(os.path.join(d, f"f.{n}")) != 100000]
assert ns and not missing, (len(ns), missing[:5])
PY
done
before=$(wc -l < "$ha/sandboxes/log"); sleep 0.5; after=$(wc -l < "$ha/sandboxes/log")
ok "the tenant runs on after the exports (thawed)" test "$after" -gt "$before"

# An export stopped midway (a reader that stalls, then a TERM) thaws the tenant.
("$WARREN" export alice - 2>"$TEST_TMP/cancel.err" | sleep 30) &
pipeline=$!
for _ in $(seq 100); do exp=$(pgrep -f "^$WARREN export alice -") && break; sleep 0.05; done
sleep 0.5
frozen_log=$(wc -l < "$ha/sandboxes/log")
sleep 0.3
is "  while it waits on its reader, the tenant is frozen" "$(wc -l < "$ha/sandboxes/log")" "$frozen_log"
kill -TERM "$exp"
ok "  the export ends at once" timeout 5 tail --pid="$exp" -f /dev/null
like "a TERM ends the export" "$(cat "$TEST_TMP/cancel.err")" "cancel|Interrupted"
before=$(wc -l < "$ha/sandboxes/log"); sleep 0.5; after=$(wc -l < "$ha/sandboxes/log")
ok "  and the tenant runs again" test "$after" -gt "$before"
is "  no freeze marker left" "$(ls -A "$WARREN_STATE_DIR/imports" 2>/dev/null)" ""
kill "$pipeline" 2>/dev/null; pkill -x sleep 2>/dev/null; wait "$pipeline" 2>/dev/null

# Replacing the home of a running tenant: its runs end first.
exits "import --replace while the tenant runs" 0 import alice "$TEST_TMP/live1.tar.zst" --replace
ok "  the writer's run ended" timeout 10 tail --pid="$writer" -f /dev/null
tree() { python3 "$WARREN_SRC/tests/lib/archive-tree.py" "$@"; }
is "  the home is exactly the archive's" "$(tree "$ha")" "$(tree "$("$WB" user get t1 --json | json 'd["home_dir"]')")"
kill -TERM "$writer" 2>/dev/null; wait "$writer" 2>/dev/null
done_testing
