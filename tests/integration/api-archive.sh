# Quotas, usage, export (streamed) and import (uploaded) over the API.
source "$WARREN_SRC/tests/lib/tap.sh"
source "$WARREN_SRC/tests/lib/daemon.sh"
trap stop_daemon EXIT
start_daemon

api POST /v1/tenants '{"saas_user_id":"alice","quotas":{"pids":"100","memory":"256M"}}'
is "create with quotas: 201" "$status" 201
is "  the quotas are in force" "$(echo "$body" | json 'd["quotas"]["pids"], d["quotas"]["memory"]')" "100 268435456"
api POST /v1/tenants '{"saas_user_id":"bob","quotas":{"pids":"lots"}}'
is "a bad quota: 400, naming it" "$status" 400
like "  naming it" "$(echo "$body" | json 'd["error"]["message"]')" "pids"
api GET /v1/tenants/bob
is "  and nothing was created" "$status" 404
api PUT /v1/tenants/alice/quotas '{"cpu":"0.5","pids":"default"}'
is "quota change: 200" "$status" 200
is "  own values" "$(echo "$body" | json 'd["own"]["cpu"], d["own"]["pids"], d["own"]["memory"]')" "0.5 None 268435456"
api GET '/v1/audit?type=quota_changed'
like "  audited" "$(echo "$body" | json 'd["count"]')" '^[1-9]'
api GET /v1/tenants/alice/usage
is "usage: 200 with a health word" "$status $(echo "$body" | json 'd["health"] in ("ok","throttled","over-quota","oom-killed")')" "200 True"

api POST /v1/tenants/alice/tokens; ALICE=$(echo "$body" | json 'd["token"]')
api POST /v1/tenants '{"saas_user_id":"bob"}'
api POST /v1/tenants/bob/tokens; BOB=$(echo "$body" | json 'd["token"]')

api PUT /v1/tenants/alice/sandboxes/svc
sb=$(echo "$body" | json 'd["path"]')
api POST /v1/tenants/alice/runs '{"shell":"echo precious > data.txt","service":"svc","level":"basic"}'
sleep 0.5
ok "the run wrote its file" test -f "$sb/data.txt"

st=$(curl -s -o "$TEST_TMP/a.tar.zst" -w '%{http_code}' -H "Authorization: Bearer $ALICE" "$URL/v1/tenants/alice/export")
is "export with the tenant's own token: 200" "$st" 200
is "  a zstd stream" "$(head -c4 "$TEST_TMP/a.tar.zst" | od -An -tx1 | tr -d ' ')" 28b52ffd
like "  holding the file" "$(zstd -dc "$TEST_TMP/a.tar.zst" | tar -t 2>/dev/null)" "sandboxes/svc/data.txt"
st=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $BOB" "$URL/v1/tenants/alice/export")
is "export with another tenant's token: 403" "$st" 403
st=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ALICE" "$URL/v1/tenants/nobody/export")
is "export of another (unknown) tenant: 403" "$st" 403
api GET /v1/tenants/nobody/export
is "export of an unknown tenant (admin): 404" "$status" 404

rm -f "$sb/data.txt"
up() { # TOKEN PATH FILE
  status=$(curl -s -o "$TEST_TMP/body" -w '%{http_code}' -X PUT -H "Authorization: Bearer $1" \
    --data-binary @"$3" "$URL$2"); body=$(cat "$TEST_TMP/body")
}
up "$ALICE" /v1/tenants/alice/import "$TEST_TMP/a.tar.zst"
is "import into a home with files, without replace: refused" "$(echo "$status" | cut -c1)" 4
up "$ALICE" '/v1/tenants/alice/import?replace=true' "$TEST_TMP/a.tar.zst"
is "import with replace: 200" "$status" 200
is "  the file is back" "$(cat "$sb/data.txt" 2>/dev/null)" precious
is "  owned by the tenant" "$(stat -c %U "$sb/data.txt")" "$(api GET /v1/tenants/alice; echo "$body" | json 'd["linux_username"]')"
up "$BOB" '/v1/tenants/alice/import?replace=true' "$TEST_TMP/a.tar.zst"
is "import with another tenant's token: 403" "$status" 403
head -c 5000 /dev/urandom > "$TEST_TMP/junk"
up "$ADMIN" '/v1/tenants/alice/import?replace=true' "$TEST_TMP/junk"
is "importing junk: a 4xx error" "$(echo "$status" | cut -c1) $(echo "$body" | json '"error" in d')" "4 True"
is "  and the home is as it was" "$(cat "$sb/data.txt" 2>/dev/null)" precious
api GET '/v1/audit?tenant=alice'
like "export and import are audited" "$(echo "$body" | json '" ".join(e["type"] for e in d["events"])')" "export.*import"

daemon_log_clean
done_testing
