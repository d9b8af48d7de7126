# Helpers for the API tests (sourced after tap.sh): start `warren serve` on a
# free port inside the test's namespaces, and call it with curl.
#   start_daemon [ARGS...]  sets URL, ADMIN (the admin token), DAEMON_PID
#   api METHOD PATH [BODY] [TOKEN|-]  sets $status and $body ("-": no token)
#   stop_daemon             SIGTERM, waits
DAEMON_LOG=${TEST_TMP:-/tmp}/daemon.log

start_daemon() {
  # Each daemon's log joins the test's record when the next one starts.
  [ -s "$DAEMON_LOG" ] && cat "$DAEMON_LOG" >>"$DAEMON_LOG.all"
  : >"$DAEMON_LOG"
  "$WARREN" serve --listen 127.0.0.1:0 "$@" >>"$DAEMON_LOG" 2>&1 &
  DAEMON_PID=$!
  for _ in $(seq 100); do
    URL=$(sed -n 's|^warren: serving \(http://[^/]*\)/.*|\1|p' "$DAEMON_LOG")
    [ -n "$URL" ] && break
    kill -0 "$DAEMON_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$URL" ]; then
    echo "# daemon did not start:"; sed 's/^/#   /' "$DAEMON_LOG"
    return 1
  fi
  ADMIN=$(cat "${WARREN_ADMIN_TOKEN_FILE:-$WARREN_STATE_DIR/admin.token}")
}

stop_daemon() {
  [ -n "${DAEMON_PID:-}" ] || return 0
  kill -TERM "$DAEMON_PID" 2>/dev/null || true
  wait "$DAEMON_PID" 2>/dev/null || true
  DAEMON_PID=
}

# daemon_log_clean: stops the daemon; a check that no daemon of this test
# reported a sanitizer error or a leak (the ASan build's daemons log there).
daemon_log_clean() {
  stop_daemon
  cat "$DAEMON_LOG" >>"$DAEMON_LOG.all"; : >"$DAEMON_LOG"
  local bad
  bad=$(grep -E -A12 'Sanitizer|runtime error:' "$DAEMON_LOG.all" 2>/dev/null | head -40 || true)
  if [ -z "$bad" ]; then _tap_result ok "the daemon logged no sanitizer report"
  else _tap_result fail "the daemon logged no sanitizer report" "$bad"; fi
}

# api METHOD PATH [BODY] [TOKEN]: TOKEN defaults to $ADMIN; "-" sends none.
api() {
  local method=$1 path=$2 data=${3:-} tok=${4:-$ADMIN}
  local args=(-s -o "$TEST_TMP/body" -w '%{http_code}' -X "$method")
  [ "$tok" != - ] && args+=(-H "Authorization: Bearer $tok")
  [ -n "$data" ] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
  status=$(curl "${args[@]}" "$URL$path") || status=000
  body=$(cat "$TEST_TMP/body")
}

# urlenc STRING: percent-encodes every byte but unreserved ones.
urlenc() { python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
