# Who may do what: every route of the API (as /openapi.json lists them) x
# {no token, bad token, the tenant's own token, another tenant's token, the
# admin token}; cross-tenant attempts audited naming both; tokens in the
# query string refused; tokens stored hashed; the Unix socket root's only.
source "$WARREN_SRC/tests/lib/tap.sh"
source "$WARREN_SRC/tests/lib/daemon.sh"
trap stop_daemon EXIT
start_daemon

is "the admin token file is 0600" "$(stat -c %a "$WARREN_STATE_DIR/admin.token")" 600
like "  and holds 64 hex digits" "$ADMIN" '^[0-9a-f]{64}$'
like "the daemon says where the admin token is" "$(cat "$DAEMON_LOG")" "admin token in $WARREN_STATE_DIR/admin.token"

api POST /v1/tenants '{"saas_user_id":"alice"}'
api POST /v1/tenants '{"saas_user_id":"bob"}'
api POST /v1/tenants/bob/tokens
BOB=$(echo "$body" | json 'd["token"]')
is "a token is issued" "$status $(echo "$body" | json 'sorted(d)')" "201 ['id', 'saas_user_id', 'token']"
ok "  and only its hash is stored" bash -c "! sqlite3 '$WARREN_STATE_DIR/registry.db' 'select * from api_tokens' | grep -q '$BOB' &&
  sqlite3 '$WARREN_STATE_DIR/registry.db' 'select hash from api_tokens' | grep -q \$(printf %s '$BOB' | sha256sum | cut -c1-64)"
BAD=$(printf '0%.0s' $(seq 64))

fresh_alice() { # alice exists, with a fresh token ALICE, a run RUN, a spare token id SPARE
  api GET /v1/tenants/alice
  [ "$status" = 200 ] || api POST /v1/tenants '{"saas_user_id":"alice"}'
  api POST /v1/tenants/alice/tokens; ALICE=$(echo "$body" | json 'd["token"]')
  api POST /v1/tenants/alice/tokens; SPARE=$(echo "$body" | json 'd["id"]')
  api POST /v1/tenants/alice/runs '{"command":["sleep","60"],"level":"basic"}'
  RUN=$(echo "$body" | json 'd["id"]')
}

n=0
body_for() { # METHOD PATTERN
  case "$1 $2" in
    "POST /v1/tenants") n=$((n + 1)); echo "{\"saas_user_id\":\"carol$n\"}" ;;
    "POST /v1/tenants/{id}/runs") echo '{"command":["true"],"level":"basic"}' ;;
    "POST /v1/tenants/{id}/runs/{run}/signal") echo '{"signal":"CONT"}' ;;
    "PUT /v1/tenants/{id}/quotas") echo '{"pids":"500"}' ;;
  esac
}

api GET /openapi.json '' -
routes=$(echo "$body" | json '"\n".join(m.upper()+" "+p for p in d["paths"] for m in d["paths"][p])')
access=$(echo "$body" | json '"\n".join(d["paths"][p][m]["x-access"] for p in d["paths"] for m in d["paths"][p])')
is "the API lists its routes" "$(echo "$routes" | wc -l)" "$(grep -c '^    {"[A-Z]*", "/' "$WARREN_SRC/src/daemon/routes.c")"

cross=0
while read -r method pattern && read -r acc <&3; do
  fresh_alice
  path=${pattern//\{id\}/alice}; path=${path//\{service\}/svc}; path=${path//\{run\}/$RUN}
  path=${path//\{token_id\}/$SPARE}
  data=$(body_for "$method" "$pattern")
  tenant_path=false; [[ "$pattern" == *"{id}"* ]] && tenant_path=true
  what="$method $pattern"
  if [ "$acc" = public ]; then
    api "$method" "$path" "$data" -
    is "$what: no token needed" "$status" 200
    continue
  fi
  api "$method" "$path" "$data" -
  is "$what: no token -> 401" "$status" 401
  api "$method" "$path" "$data" "$BAD"
  is "$what: bad token -> 401" "$status" 401
  api "$method" "$path" "$data" "$BOB"
  is "$what: another tenant's token -> 403" "$status" 403
  $tenant_path && cross=$((cross + 1))
  # An import without an archive, and a stream without the WebSocket upgrade,
  # reach their handlers, which answer 400.
  want='^2'; [[ "$pattern" == */import || "$pattern" == */stream ]] && want='^400$'
  api "$method" "$path" "$data" "$ALICE"
  if [ "$acc" = tenant ]; then
    like "$what: own tenant's token -> allowed" "$status" "$want"
  else
    is "$what: own tenant's token on an admin route -> 403" "$status" 403
  fi
  api "$method" "$path" "$data" "$ADMIN"
  like "$what: admin -> allowed" "$status" "$want"
done < <(echo "$routes") 3< <(echo "$access")

api GET '/v1/audit?type=cross_tenant_access&limit=1000'
is "every cross-tenant attempt is audited" "$(echo "$body" | json 'd["count"]')" "$cross"
is "  naming both tenants" "$(echo "$body" | json '{(e["tenant"], e["detail"]["target"]) for e in d["events"]}')" "{('bob', 'alice')}"
api GET '/v1/audit?type=denied&limit=1000'
like "tenant tokens on admin routes are audited as denied" "$(echo "$body" | json 'd["count"]')" '^[1-9]'

# pactown's header works too.
st=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Runner-Token: $BOB" "$URL/v1/tenants/bob")
is "X-Runner-Token is accepted" "$st" 200
st=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Basic $ADMIN" "$URL/v1/tenants/bob")
is "a non-Bearer Authorization is refused" "$st" 401
for q in token access_token api_key TOKEN; do
  api GET "/v1/tenants/bob?$q=$BOB" '' -
  is "a token in the query (?$q=) is refused" "$status $(echo "$body" | json 'd["error"]["code"]')" "400 token_in_query"
done
api GET "/v1/tenants/bob?token=$ADMIN"
is "  even with a valid header token too" "$status" 400

# Revocation, and deletion, end a token.
api POST /v1/tenants/bob/tokens; tid=$(echo "$body" | json 'd["id"]'); t2=$(echo "$body" | json 'd["token"]')
api GET /v1/tenants/bob '' "$t2"; is "a second token works" "$status" 200
api DELETE "/v1/tenants/bob/tokens/$tid"; is "revoking one token" "$status $(echo "$body" | json 'd["revoked"]')" "200 1"
api GET /v1/tenants/bob '' "$t2"; is "  ends it" "$status" 401
api GET /v1/tenants/bob '' "$BOB"; is "  and not the others" "$status" 200
api DELETE /v1/tenants/bob/tokens/ffffffffffffffff; is "revoking an unknown token: 404" "$status" 404
api DELETE /v1/tenants/bob
api POST /v1/tenants '{"saas_user_id":"bob"}'
api GET /v1/tenants/bob '' "$BOB"; is "a re-created tenant does not inherit old tokens" "$status" 401

# The Unix socket: root's alone, and root there is the admin.
sock="$WARREN_STATE_DIR/warren.sock"
is "the Unix socket is 0600 root" "$(stat -c '%a %U' "$sock")" "600 root"
st=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" http://warren/v1/tenants)
is "  root needs no token there" "$st" 200
st=$(setpriv --reuid=65534 --regid=65534 --clear-groups curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" http://warren/v1/tenants 2>/dev/null || true)
is "  another user cannot connect" "$st" 000

daemon_log_clean
done_testing
