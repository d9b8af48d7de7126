# SIGKILL during an import, at random points, 30 times: the home is always
# either the old one or the new one, never a mix, and the next warren that
# starts leaves no staging directory or marker behind.
source "$WARREN_SRC/tests/lib/tap.sh"
fp() { python3 "$WARREN_SRC/tests/lib/archive-tree.py" "$1" | sha256sum | cut -c1-16; }
as_tenant() { local u=$1; shift; setpriv --reuid "$u" --regid "$u" --clear-groups "$@"; }
base=$WARREN_USERS_BASE
litter() { { ls -A "$base" | grep '^\.import-'; ls -A "$WARREN_STATE_DIR/imports" 2>/dev/null; } | wc -l; }

out=$("$WARREN" user create alice --json); ha=$(echo "$out" | json 'd["home_dir"]'); ua=$(echo "$out" | json 'd["linux_uid"]')
out=$("$WARREN" user create src --json); hs=$(echo "$out" | json 'd["home_dir"]'); us=$(echo "$out" | json 'd["linux_uid"]')
as_tenant "$ua" bash -c "cd '$ha/sandboxes' && mkdir old && for i in \$(seq 200); do echo old \$i > old/f\$i; done"
# The new home: big enough that an import takes a while (many files, some data).
as_tenant "$us" bash -c "cd '$hs/sandboxes' && for d in \$(seq 20); do mkdir -p new/d\$d; for i in \$(seq 100); do echo new \$d \$i > new/d\$d/f\$i; done; done && head -c 40000000 /dev/urandom > new/big"
"$WARREN" export alice "$TEST_TMP/old.tar.zst" >/dev/null
"$WARREN" export src "$TEST_TMP/new.tar.zst" >/dev/null

t0=$(date +%s%N)
exits "a whole import (new)" 0 import alice "$TEST_TMP/new.tar.zst" --replace --from src
took_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
new=$(fp "$ha")
exits "a whole import (old)" 0 import alice "$TEST_TMP/old.tar.zst" --replace
old=$(fp "$ha")
ok "  the two homes differ" test "$old" != "$new"
echo "# one import takes ${took_ms} ms"

bad=0 saw_old=0 saw_new=0 litter_left=0 litter_seen=0
for i in $(seq 30); do
  cur=$(fp "$ha")
  if [ "$cur" = "$old" ]; then arch=$TEST_TMP/new.tar.zst; else arch=$TEST_TMP/old.tar.zst; fi
  "$WARREN" import alice "$arch" --replace --from src >/dev/null 2>&1 &
  pid=$!
  ms=$((RANDOM % (took_ms * 11 / 10 + 1)))
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  now=$(fp "$ha")
  if [ "$now" = "$old" ]; then saw_old=$((saw_old + 1))
  elif [ "$now" = "$new" ]; then saw_new=$((saw_new + 1))
  else bad=$((bad + 1)); echo "# kill $i: the home is neither old nor new"; fi
  [ "$(litter)" = 0 ] || litter_seen=$((litter_seen + 1))
  # The next start cleans up after the killed import.
  "$WARREN" user get alice >/dev/null
  [ "$(litter)" = 0 ] || { litter_left=$((litter_left + 1)); echo "# kill $i: litter: $(ls -A "$base")"; }
done
is "30 kills: the home was always the old or the new one" "$bad" 0
echo "# old $saw_old times, new $saw_new times"
ok "  kills landed mid-import and left staging litter ($litter_seen times)" test "$litter_seen" -gt 0
is "  none left after the next start" "$litter_left" 0
ok "  no process of an import is left" bash -c "! pgrep -f '^$WARREN import' >/dev/null"
exits "  the tenant still works" 0 user stats alice
done_testing
