# Operating the daemon: /healthz, /metrics, /openapi.json checked against the
# server both ways, per-client rate limits, SIGTERM with a grace period, and
# a restart that reports the runs that died with the old process.
source "$WARREN_SRC/tests/lib/tap.sh"
source "$WARREN_SRC/tests/lib/daemon.sh"
trap stop_daemon EXIT
WARREN_GRACE_SECONDS=2 start_daemon

api GET /healthz '' -
is "healthz: ok without a token" "$status $(echo "$body" | json 'd["status"]')" "200 ok"

# OpenAPI 3.1, both ways: every documented operation is served, and every
# route of the server's table is documented.
api GET /openapi.json '' -
doc=$body
is "openapi: version 3.1" "$(echo "$doc" | json 'd["openapi"][:3]')" 3.1
for p in /runner/isolation/users /runner/isolation/user/{id} /runner/isolation/user/{id}/stats; do
  is "  documents seed route $p" "$(echo "$doc" | json "'$p' in d['paths']")" True
done
documented=$(echo "$doc" | json '"\n".join(sorted(m.upper()+" "+p for p in d["paths"] for m in d["paths"][p]))')
in_source=$(sed -n 's/^    {"\([A-Z]*\)", "\(\/[^"]*\)".*/\1 \2/p' "$WARREN_SRC/src/daemon/routes.c" | sort)
is "  every route in the server's table is documented, and nothing else" "$documented" "$in_source"
missing=
while read -r m p; do
  path=${p//\{id\}/nobody}; path=${path//\{service\}/svc}; path=${path//\{run\}/0000000000000000}
  path=${path//\{token_id\}/0000000000000000}
  api "$m" "$path" '{}'
  c=$(echo "$body" | python3 -c 'import json,sys
try: d=json.load(sys.stdin); print(d.get("error",{}).get("code",""))
except Exception: print("")')
  [ "$status" = 405 ] || [ "$c" = no_route ] && missing="$missing $m:$p"
done <<<"$documented"
is "  every documented operation is served" "$missing" ""
api GET /v1/undocumented
is "  and an undocumented path is not" "$(echo "$body" | json 'd["error"]["code"]')" no_route

# Metrics.
api POST /v1/tenants '{"saas_user_id":"alice"}'
api POST /v1/tenants/alice/runs '{"command":["true"],"level":"basic"}'
sleep 0.5
api GET /metrics '' -
is "metrics need the admin token" "$status" 401
api GET /metrics
is "metrics: 200" "$status" 200
like "  request counter" "$body" 'warren_http_requests_total\{code="2xx"\} [1-9]'
like "  latency histogram" "$body" 'warren_http_request_duration_seconds_bucket\{le="\+Inf"\} [1-9]'
like "  per-tenant runs" "$body" 'warren_runs_started_total\{tenant="alice"\} 1'
like "  tenants (alice, and nobody whom the get-or-create route made above)" "$body" 'warren_tenants 2'
like "  denied requests" "$body" 'warren_http_denied_total [1-9]'
bad=$(echo "$body" | grep -v '^#' | grep -Evc '^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$' || true)
is "  every sample line is well formed" "$bad" 0

# SIGTERM: stop accepting, let runs finish within the grace period, end the rest.
api POST /v1/tenants/alice/runs '{"command":["sleep","0.5"],"level":"basic"}'; quick=$(echo "$body" | json 'd["id"]')
api POST /v1/tenants/alice/runs '{"command":["sleep","60"],"level":"basic"}'; slow=$(echo "$body" | json 'd["id"]')
python3 "$WARREN_SRC/tests/lib/wsclient.py" "${URL/http/ws}/v1/tenants/alice/runs/$slow/stream" "$ADMIN" >"$TEST_TMP/ws.out" 2>&1 &
ws=$!
for _ in $(seq 50); do grep -q '^# HTTP/1.1 101' "$TEST_TMP/ws.out" && break; sleep 0.1; done
t0=$(date +%s.%N)
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID"; rc=$?; DAEMON_PID=
t=$(echo "$(date +%s.%N) - $t0" | python3 -c 'print(round(eval(input())))')
is "SIGTERM: a clean exit" "$rc" 0
is "  after the grace period (2 s)" "$t" 2
ok "  no sleep left" bash -c '! pgrep -x sleep'
wait "$ws"
is "  a live-output client saw the run end, killed, and a close" \
  "$(grep '"event":"end"' "$TEST_TMP/ws.out" | json 'd["run"]["state"]') $(tail -1 "$TEST_TMP/ws.out")" "killed # close"

WARREN_GRACE_SECONDS=2 start_daemon
api GET /v1/tenants/alice/runs
is "after a restart: the run that finished in the grace period" "$(echo "$body" | json "[r['state'] for r in d['runs'] if r['id']=='$quick']")" "['exited']"
is "  the one ended at the deadline" "$(echo "$body" | json "[r['state'] for r in d['runs'] if r['id']=='$slow']")" "['killed']"

# A daemon that dies: its runs die with it and the next one reports them lost.
api POST /v1/tenants/alice/runs '{"command":["sleep","60"],"level":"basic"}'; lost=$(echo "$body" | json 'd["id"]')
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=
sleep 0.3
ok "the run died with its daemon" bash -c '! pgrep -x sleep'
start_daemon
api GET /v1/tenants/alice/runs
is "the restarted daemon reports it lost" "$(echo "$body" | json "[r['state'] for r in d['runs'] if r['id']=='$lost']")" "['lost']"
api GET '/v1/audit?type=run_lost'
is "  and audits run_lost" "$(echo "$body" | json '[e["detail"]["run"] for e in d["events"]]')" "['$lost']"
api GET /v1/tenants/alice
is "tenants survive restarts" "$status" 200
stop_daemon

# Per-client rate limits: requests, and (stricter) creates.
WARREN_RATE_LIMIT=5 start_daemon
codes=$(for i in $(seq 20); do curl -s -o /dev/null -w '%{http_code}\n' "$URL/healthz"; done | sort | uniq -c | awk '{print $2}' | paste -sd' ')
is "a client over its request rate gets 429" "$codes" "200 429"
stop_daemon
WARREN_CREATE_RATE=1 start_daemon
codes=$(for i in $(seq 8); do curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $ADMIN" "$URL/runner/isolation/user/rl$i"; done | sort | uniq -c | awk '{print $2}' | paste -sd' ')
is "creates over the create rate get 429" "$codes" "200 429"
api GET /runner/isolation/user/rl1
is "  reads of existing users are not limited" "$status" 200

daemon_log_clean
done_testing
