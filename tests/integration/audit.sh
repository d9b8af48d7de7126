# The audit log: tenant and run events in the registry and in audit.log,
# queried by `warren audit` with filters; refused system calls included.
source "$WARREN_SRC/tests/lib/tap.sh"

t0=$(date +%s)
"$WARREN" user create alice >/dev/null
"$WARREN" user create bob >/dev/null
"$WARREN" user delete bob >/dev/null

exits "audit lists the log" 0 audit --json
is "three events so far" "$(echo "$out" | json 'd["count"]')" 3
is "in order, with their types" "$(echo "$out" | json '[e["type"]+":"+e["tenant"] for e in d["events"]]')" \
  "['tenant_created:alice', 'tenant_created:bob', 'tenant_deleted:bob']"
is "a created event names the account" \
  "$(echo "$out" | json 'd["events"][0]["detail"]["linux_username"]')" \
  "$(getent passwd | awk -F: '$5=="alice"{print $1}')"
is "a delete says whether the home was kept" "$(echo "$out" | json 'd["events"][2]["detail"]["home_kept"]')" False

exits "filter by --tenant" 0 audit --tenant bob --json
is "  only bob's events" "$(echo "$out" | json '[e["type"] for e in d["events"]]')" "['tenant_created', 'tenant_deleted']"
exits "a deleted tenant's history stays queryable" 0 audit bob --json
is "  with its (now empty) refusals" "$(echo "$out" | json 'd["refused_syscalls"]')" "[]"
exits "filter by --type" 0 audit --type tenant_deleted --json
is "  only deletes" "$(echo "$out" | json '[e["tenant"] for e in d["events"]]')" "['bob']"
exits "--since in the future" 0 audit --since $((t0 + 3600)) --json
is "  finds nothing" "$(echo "$out" | json 'd["count"]')" 0
exits "--since as an age" 0 audit --since 1h --json
is "  finds all three" "$(echo "$out" | json 'd["count"]')" 3
exits "--since as a date" 0 audit --since "$(date -u -d @$((t0 - 86400)) +%Y-%m-%d)" --json
is "  finds all three" "$(echo "$out" | json 'd["count"]')" 3
exits "--limit" 0 audit --limit 1 --json
is "  one event" "$(echo "$out" | json 'd["count"]')" 1

exits "a bad --since is refused" 2 audit --since yesterday-ish
like "  naming the value" "$err" "yesterday-ish"
exits "a bad --type is refused" 2 audit --type 'Bad Type'
like "  naming the type" "$err" "Bad Type"
exits "an unknown tenant with no history is not found" 3 audit nobody
exits "text output lists the events" 0 audit
like "  with a header and the types" "$out" "TYPE.*tenant_created.*alice"

log="$WARREN_STATE_DIR/audit.log"
is "audit.log is private" "$(stat -c %a "$log")" 600
is "audit.log has one JSON line per event" "$(python3 -c '
import json,sys
print([json.loads(l)["type"] for l in open(sys.argv[1])])' "$log")" \
  "['tenant_created', 'tenant_created', 'tenant_deleted']"

# Refused system calls join the log as syscall_refused events.
if "$WARREN" run --level strong alice -- /usr/bin/unshare -U true >/dev/null 2>&1; then :; fi
exits "refusals appear in the log" 0 audit alice --type syscall_refused --json
like "  as a syscall_refused event naming the call" "$(echo "$out" | json '[e["detail"]["syscall"] for e in d["events"]]')" "unshare"
is "  and in the refused_syscalls summary" "$(echo "$out" | json '"unshare" in [r["syscall"] for r in d["refused_syscalls"]]')" True
exits "runs are audited" 0 audit alice --json
is "  started and ended, the same run" "$(echo "$out" | json '[e["type"] for e in d["events"] if e["type"].startswith("run_")] + [len({e["detail"]["run"] for e in d["events"] if e["type"].startswith("run_")})]')" \
  "['run_started', 'run_ended', 1]"
is "  the start names the level" "$(echo "$out" | json '[e["detail"]["level"] for e in d["events"] if e["type"]=="run_started"]')" "['strong']"
# A short run's start is written with its end (one commit per run); a run
# still going after a second has its start recorded then, while it runs.
starts() { "$WARREN" audit alice --type run_started --json | json 'd["count"]'; }
before=$(starts)
"$WARREN" run alice -- /bin/sleep 4 >/dev/null 2>&1 &
runner=$!
seen=
for _ in $(seq 30); do
  [ "$(starts)" -gt "$before" ] && { kill -0 $runner 2>/dev/null && seen=running || seen=ended; break; }
  sleep 0.2
done
is "a long run's start is recorded while it still runs" "$seen" running
wait $runner
is "  and only once, when it ends" "$(starts)" $((before + 1))

exits "bob's refusals are not alice's" 0 audit bob --type syscall_refused --json
is "  none" "$(echo "$out" | json 'd["count"]')" 0

done_testing
