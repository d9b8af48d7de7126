# /v1/: tenants (create, get, paged list, delete), stats, sandboxes, runs
# (start with level/command/env/cwd/timeout, status, output, signal, kill),
# the error shape, strict JSON and the request limits.
source "$WARREN_SRC/tests/lib/tap.sh"
source "$WARREN_SRC/tests/lib/daemon.sh"
trap stop_daemon EXIT
WARREN_MAX_BODY=4096 WARREN_CREATE_RATE=1000 start_daemon
code() { echo "$body" | json 'd["error"]["code"]'; }
json_lines() { python3 -c "import json,sys; L=[json.loads(l) for l in sys.stdin if l.strip()]; print($1, end='')"; }

api POST /v1/tenants '{"saas_user_id":"alice@example.com"}'
is "create: 201" "$status" 201
is "  pactown's fields" "$(echo "$body" | json 'list(d)')" \
  "['saas_user_id', 'linux_username', 'linux_uid', 'linux_gid', 'home_dir', 'created_at']"
uid=$(echo "$body" | json 'd["linux_uid"]')
is "  a real account" "$(getent passwd "$(echo "$body" | json 'd["linux_username"]')" | cut -d: -f3)" "$uid"
api POST /v1/tenants '{"saas_user_id":"alice@example.com"}'
is "create twice: 409 exists" "$status $(code)" "409 exists"
api POST /v1/tenants '{"saas_user_id":"x","saas_user_id":"y"}'
is "duplicate keys are refused" "$status $(code)" "400 invalid"
like "  saying so" "$(echo "$body" | json 'd["error"]["message"]')" "duplicate"
api POST /v1/tenants '{"saas_user_id":"x",}'
is "malformed JSON: 400" "$status" 400
api POST /v1/tenants '["x"]'
is "a non-object body: 400" "$status" 400
api POST /v1/tenants '{"saas_user_id":"x","extra":1}'
is "an unknown field: 400" "$status" 400
api POST /v1/tenants "{\"saas_user_id\":\"$(printf 'y%.0s' $(seq 5000))\"}"
is "a body over the limit: 413" "$status $(code)" "413 too_large"
api POST /v1/tenants '{"saas_user_id":"a\u0001b"}'
is "a bad tenant id: 400 naming it" "$status $(code)" "400 invalid"
api GET /v1/nothing
is "an unknown route: 404 no_route" "$status $(code)" "404 no_route"
api PATCH /v1/tenants
is "a wrong method: 405" "$status" 405
long=$(printf 'h%.0s' $(seq 40000))
st=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Long: $long" -H "Authorization: Bearer $ADMIN" "$URL/healthz")
like "a header over the limit is refused" "$st" '^4'

for i in $(seq 1 5); do api POST /v1/tenants "{\"saas_user_id\":\"t$i\"}"; done
api GET '/v1/tenants?limit=4'
is "list: a page of 4" "$(echo "$body" | json 'd["count"], [t["saas_user_id"] for t in d["tenants"]]')" \
  "4 ['alice@example.com', 't1', 't2', 't3']"
next=$(echo "$body" | json 'd["next"]')
api GET "/v1/tenants?limit=4&after=$next"
is "  the next page" "$(echo "$body" | json '[t["saas_user_id"] for t in d["tenants"]], d["next"]')" "['t4', 't5'] None"
api GET '/v1/tenants?limit=x'
is "  a bad limit: 400" "$status" 400

api GET /v1/tenants/t1
is "get: 200" "$(echo "$body" | json 'd["saas_user_id"]')" t1
api GET /v1/tenants/nobody
is "get unknown: 404 not_found" "$status $(code)" "404 not_found"
api PUT /v1/tenants/t1/sandboxes/my-api
sb=$(echo "$body" | json 'd["path"]')
is "sandbox: its path" "$sb" "$(echo "$(api GET /v1/tenants/t1; echo "$body")" | json 'd["home_dir"]')/sandboxes/my-api"
ok "  exists" test -d "$sb"
api PUT /v1/tenants/t1/sandboxes/.hidden
is "  a bad service id: 400" "$status" 400
api GET /v1/tenants/t1/stats
is "stats" "$(echo "$body" | json 'd["sandbox_count"], d["user"]["saas_user_id"]')" "1 t1"

# Runs.
api POST /v1/tenants/t1/runs '{"shell":"echo out-$FOO; echo err >&2; pwd; id -u; exit 3","env":{"FOO":"bar"},"service":"my-api","level":"strong"}'
is "run: 201" "$status" 201
run=$(echo "$body" | json 'd["id"]')
is "  state running (or already ended)" "$(echo "$body" | json 'd["state"] in ("running","exited")')" True
for _ in $(seq 50); do api GET "/v1/tenants/t1/runs/$run"; [ "$(echo "$body" | json 'd["state"]')" = exited ] && break; sleep 0.1; done
is "  ends: exited 3" "$(echo "$body" | json 'd["state"], d["exit_code"], d["level"]')" "exited 3 strong"
api GET "/v1/tenants/t1/runs/$run/output"
is "  stdout, with env, cwd and the tenant's uid" "$(echo "$body" | json 'd["stdout"]')" "out-bar
$sb
$(api GET /v1/tenants/t1; echo "$body" | json 'd["linux_uid"]')"
is "  stderr" "$(echo "$body" | json 'd["stderr"]')" "err"

api POST /v1/tenants/t1/runs '{"command":["sleep","30"],"level":"container","timeout":0.5}'
run2=$(echo "$body" | json 'd["id"]')
sleep 1.5
api GET "/v1/tenants/t1/runs/$run2"
is "a timeout ends a run" "$(echo "$body" | json 'd["state"], d["timed_out"]')" "timed_out True"

api POST /v1/tenants/t1/runs '{"command":["sleep","30"],"level":"basic","cwd":"sandboxes/my-api"}'
run3=$(echo "$body" | json 'd["id"]')
api POST "/v1/tenants/t1/runs/$run3/signal" '{"signal":"TERM"}'
is "signal: 200" "$status" 200
sleep 0.5
api GET "/v1/tenants/t1/runs/$run3"
is "  the run ended by SIGTERM" "$(echo "$body" | json 'd["state"], d["signal"]')" "signaled 15"
api POST "/v1/tenants/t1/runs/$run3/signal" '{"signal":"SEGV"}'
is "  an unlisted signal: 400" "$status" 400

api POST /v1/tenants/t1/runs '{"shell":"sleep 30 & sleep 30","level":"basic"}'
run4=$(echo "$body" | json 'd["id"]')
api POST "/v1/tenants/t1/runs/$run4/kill"
is "kill: 200" "$status $(echo "$body" | json 'd["killed"]')" "200 True"
sleep 0.5
api GET "/v1/tenants/t1/runs/$run4"
is "  the run is killed" "$(echo "$body" | json 'd["state"]')" killed
is "  with its whole tree" "$(pgrep -u "$(api GET /v1/tenants/t1; echo "$body" | json 'd["linux_uid"]')" | wc -l)" 0

api POST /v1/tenants/t1/runs '{"command":["/nonexistent"],"level":"basic"}'
is "a run that cannot start: an error" "$(echo "$status" | cut -c1)" 4
api POST /v1/tenants/t1/runs '{"command":["true"],"shell":"true"}'
is "command and shell together: 400" "$status" 400
api POST /v1/tenants/t1/runs '{"command":["true"],"level":"godmode"}'
is "a bad level: 400" "$status" 400
api POST /v1/tenants/t1/runs '{"command":["true"],"cwd":"../../etc"}'
like "a cwd outside the home is refused" "$status" '^4'

# Live output over a WebSocket: what was written before, then each chunk, then the end.
api POST /v1/tenants/t1/runs '{"shell":"echo early; sleep 1.5; for i in 1 2 3; do echo line$i; sleep 0.4; done; echo done >&2","level":"basic"}'
run5=$(echo "$body" | json 'd["id"]')
frames=$(python3 "$WARREN_SRC/tests/lib/wsclient.py" "${URL/http/ws}/v1/tenants/t1/runs/$run5/stream" "$ADMIN")
is "stream: the WebSocket handshake" "$(echo "$frames" | grep -c '^# HTTP/1.1 101')" 1
is "  stdout in order" "$(echo "$frames" | grep '^{' | json_lines '"".join(d.get("data","") for d in L if d.get("stream")=="stdout")')" \
  "early
line1
line2
line3"
is "  stderr" "$(echo "$frames" | grep '^{' | json_lines '"".join(d.get("data","") for d in L if d.get("stream")=="stderr")')" "done"
like "  live: the lines came as separate frames" "$(echo "$frames" | grep -c '"stream":"stdout","data":"line')" '^[2-9]$'
is "  ends with the run's status, then a close" "$(echo "$frames" | grep '^{' | tail -1 | json 'd["event"], d["run"]["state"], d["run"]["exit_code"]')$(echo "$frames" | tail -1)" "end exited 0# close"
frames=$(python3 "$WARREN_SRC/tests/lib/wsclient.py" "${URL/http/ws}/v1/tenants/t1/runs/$run5/stream" "$ADMIN")
is "  a finished run: its output and end at once" "$(echo "$frames" | grep -c '"event":"end"')" 1
api GET "/v1/tenants/t1/runs/$run5/stream"
is "  without the upgrade: 400" "$status" 400

api GET /v1/tenants/t1/runs
is "list runs: the ones that started" "$(echo "$body" | json 'd["count"]')" 5
api GET /v1/tenants/t1/runs/ffffffffffffffff
is "an unknown run: 404" "$status" 404

api GET /v1/tenants/t1/audit
like "the tenant's audit: created, runs" "$(echo "$body" | json '" ".join(e["type"] for e in d["events"])')" \
  "^tenant_created sandbox|tenant_created.*run_started.*run_ended"

api DELETE '/v1/tenants/t1?keep_home=false'
is "delete: 200" "$status $(echo "$body" | json 'd["deleted"]')" "200 True"
api GET /v1/tenants/t1
is "  then 404" "$status" 404

daemon_log_clean
done_testing
