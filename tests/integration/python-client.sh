# The Python client (clients/python) against live daemons: seed 000's demo with
# its one changed import line, pactown's migration between two warren hosts,
# and the Popen-like runs, as a pactown caller would use them.
source "$WARREN_SRC/tests/lib/tap.sh"
source "$WARREN_SRC/tests/lib/daemon.sh"
trap 'stop_daemon; [ -n "${NEW_PID:-}" ] && kill $NEW_PID 2>/dev/null; wait' EXIT
start_daemon
export PYTHONPATH=$WARREN_SRC/clients/python WARREN_URL=$URL WARREN_TOKEN=$ADMIN

out=$(python3 "$WARREN_SRC/clients/python/examples/demo.py" 2>&1); rc=$?
is "demo.py runs" "$rc" 0
alice=$("$WARREN" user get user_alice --json | json 'd["linux_username"], d["linux_uid"], d["home_dir"]')
read -r a_name a_uid a_home < <(echo "$alice" | tr -d "(),'")
like "demo: alice is a real account with its UID" "$out" "✓ user_alice -> $a_name \(UID: $a_uid\)"
like "demo: bob too" "$out" "✓ user_bob -> warren_[0-9a-f]{8} \(UID: [0-9]+\)"
like "demo: alice's sandbox path" "$out" "✓ user_alice/my-api: $a_home/sandboxes/my-api"
like "demo: the run was alice's uid in her sandbox" "$out" "✓ user_alice: uid $a_uid in $a_home/sandboxes/my-api, exit 0"
like "demo: the statistics" "$out" "user_alice: 1 sandbox, [0-9.]+ MB"
like "demo: the total" "$out" "Total isolated users: 2"

# pactown's format through the API: export_user_data of a .tar.gz asks for gzip.
curl -s -o "$TEST_TMP/a.tgz" -w '%{http_code}' -H "Authorization: Bearer $ADMIN" \
  "$URL/v1/tenants/user_alice/export?format=gz" >"$TEST_TMP/code"
is "export?format=gz answers 200" "$(cat "$TEST_TMP/code")" 200
is "  with a gzip stream" "$(head -c2 "$TEST_TMP/a.tgz" | od -An -tx1 | tr -d ' ')" 1f8b
ok "  that tar reads, holding alice's sandbox" sh -c "tar -tzf '$TEST_TMP/a.tgz' | grep -q 'home/sandboxes/my-api/'"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" \
  "$URL/v1/tenants/user_alice/export?format=bz2")
is "export?format=bz2 is refused (400)" "$code" 400

count=$TEST_TMP/checks
# The client's log (a refused call is logged, as pactown's was) stays out of
# the TAP stream; it is shown as diagnostics.
CHECKS_COUNT=$count python3 "$WARREN_SRC/tests/python/client-checks.py" "$_tap_n" \
  >"$TEST_TMP/checks.tap" 2>"$TEST_TMP/checks.err"
cat "$TEST_TMP/checks.tap"
sed 's/^/# /' "$TEST_TMP/checks.err"
if [ -s "$count" ]; then
  read -r ran bad <"$count"
  _tap_n=$ran; _tap_failed=$((_tap_failed + bad))
else
  _tap_result fail "client checks ran to the end" "$(tail -20 "$TEST_TMP/checks.tap" "$TEST_TMP/checks.err")"
fi

# Migration: a second warren host (its own registry, users base and port).
new_state=$TEST_TMP/new-state new_base=$TEST_TMP/new-users
WARREN_STATE_DIR=$new_state WARREN_USERS_BASE=$new_base WARREN_UID_RANGE=70001-70999 \
  "$WARREN" serve --listen 127.0.0.1:0 --socket "" >"$TEST_TMP/new.log" 2>&1 &
NEW_PID=$!
for _ in $(seq 100); do
  NEW_URL=$(sed -n 's|^warren: serving \(http://[^/]*\)/.*|\1|p' "$TEST_TMP/new.log")
  [ -n "$NEW_URL" ] && break; sleep 0.1
done
out=$(python3 "$WARREN_SRC/clients/python/examples/migration.py" "$URL" \
  "$WARREN_STATE_DIR/admin.token" "$NEW_URL" "$new_state/admin.token" user_dave 2>&1); rc=$?
is "migration.py runs" "$rc" 0
like "migration: the new host gave another UID" "$out" "new host: user_dave is warren_[0-9a-f]{8,} \(UID 70[0-9]{3}\)"
like "migration: the moved program runs there" "$out" "main.py prints 42, exit 0"
[ "$rc" = 0 ] || echo "$out" | sed 's/^/#   /'

done_testing
