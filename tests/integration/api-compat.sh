# Seed 001's four routes under /runner/isolation/, exactly: shapes, field
# order, pactown's {"detail": ...} errors, and the real accounts behind them.
source "$WARREN_SRC/tests/lib/tap.sh"
source "$WARREN_SRC/tests/lib/daemon.sh"
trap stop_daemon EXIT
start_daemon

keys() { python3 -c 'import json,sys; print(list(json.loads(sys.stdin.read(), object_pairs_hook=lambda p: dict(p)).keys()))'; }

api GET /runner/isolation/users
is "users: empty list" "$status $body" '200 {"users":[],"count":0}'

api GET /runner/isolation/user/user123
is "get-or-create: 200" "$status" 200
is "get-or-create: the seed's fields, in its order" "$(echo "$body" | keys)" \
  "['saas_user_id', 'linux_username', 'linux_uid', 'linux_gid', 'home_dir', 'created_at']"
name=$(echo "$body" | json 'd["linux_username"]')
like "  an account name warren_<8 hex>" "$name" '^warren_[0-9a-f]{8}$'
is "  the account really exists" "$(getent passwd "$name" | cut -d: -f3,6)" \
  "$(echo "$body" | json 'str(d["linux_uid"])+":"+d["home_dir"]')"
is "  created_at is a float" "$(echo "$body" | json 'type(d["created_at"]).__name__')" float
first=$body
api GET /runner/isolation/user/user123
is "get-or-create again: the same user" "$body" "$first"

api GET /runner/isolation/users
is "users: one, with count" "$(echo "$body" | json '[u["saas_user_id"] for u in d["users"]], d["count"]')" "['user123'] 1"
is "users: top-level key order" "$(echo "$body" | keys)" "['users', 'count']"

mkdir -p "$(echo "$first" | json 'd["home_dir"]')/sandboxes/svc1"
api GET /runner/isolation/user/user123/stats
is "stats: 200" "$status" 200
is "stats: the seed's shape" "$(echo "$body" | keys)" "['user', 'sandbox_count', 'total_size_mb']"
is "stats: user names the tenant and account" "$(echo "$body" | json 'list(d["user"].items())')" \
  "[('saas_user_id', 'user123'), ('linux_username', '$name')]"
is "stats: sandbox_count" "$(echo "$body" | json 'd["sandbox_count"]')" 1
is "stats: total_size_mb is a float" "$(echo "$body" | json 'type(d["total_size_mb"]).__name__')" float

# A tenant id with '/' and other bytes travels percent-encoded.
odd='team/a b?c#d'
api GET "/runner/isolation/user/$(urlenc "$odd")"
is "an id with / ? # and space round-trips" "$(echo "$body" | json 'd["saas_user_id"]')" "$odd"

# Errors: pactown's {"detail": "..."}.
api GET /runner/isolation/user/nobody/stats
is "stats of an unknown user: 404" "$status" 404
is "  as {\"detail\": ...}" "$(echo "$body" | keys)" "['detail']"
like "  naming the user" "$(echo "$body" | json 'd["detail"]')" "nobody"
api GET "/runner/isolation/user/$(urlenc $'bad\x01id')"
is "a bad id: 400 with detail" "$status $(echo "$body" | keys)" "400 ['detail']"
api GET /runner/isolation/user/x%zz
is "a malformed escape: 400 with detail" "$status $(echo "$body" | keys)" "400 ['detail']"
api GET /runner/isolation/users '' -
is "no token: 401 with detail" "$status $(echo "$body" | keys)" "401 ['detail']"
api GET /runner/isolation/users '' "$(printf 'f%.0s' $(seq 64))"
is "a bad token: 401" "$status" 401
api DELETE /runner/isolation/user/nobody
is "delete an unknown user: 404" "$status $(echo "$body" | keys)" "404 ['detail']"
api DELETE '/runner/isolation/user/user123?delete_home=maybe'
is "delete_home must be a boolean: 400" "$status" 400

home=$(echo "$first" | json 'd["home_dir"]')
api DELETE '/runner/isolation/user/user123?delete_home=true'
is "delete: the seed's answer" "$status $body" '200 {"success":true,"user_id":"user123"}'
ok "  the account is gone" bash -c "! getent passwd $name"
ok "  the home is gone" test ! -e "$home"
api GET /runner/isolation/user/keeper
khome=$(echo "$body" | json 'd["home_dir"]')
api DELETE '/runner/isolation/user/keeper?delete_home=false'
is "delete with delete_home=false" "$status" 200
ok "  keeps the home" test -d "$khome"
api GET /runner/isolation/users
is "users: only the odd one left" "$(echo "$body" | json 'd["count"]')" 1

# Keep-alive: several requests on one connection (libmicrohttpd keeps it
# only when the answer is queued after the first handler call).
n=$(curl -s -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}\n' -H "Authorization: Bearer $ADMIN" \
  "$URL/runner/isolation/users" "$URL/runner/isolation/users" "$URL/runner/isolation/users" | awk '{ s += $1 } END { print s }')
is "three requests, one connection" "$n" 1

daemon_log_clean
done_testing
