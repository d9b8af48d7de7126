# The dir storage backend (any filesystem; here ns-run's tmpfs): usage is
# counted by walking the home, a tenant over its byte or inode quota is
# refused new runs with an error that says why, and stats report it. Nothing
# stops the write itself: that is what the btrfs backend is for
# (docs/STORAGE.md).
source "$WARREN_SRC/tests/lib/tap.sh"
export WARREN_UID_RANGE=71601-71610
as() { local u=$1; shift; setpriv --reuid "$u" --regid "$u" --clear-groups "$@"; }

exits "create a tenant" 0 user create dora@example.com --json
home=$(echo "$out" | json 'd["home_dir"]')
uid=$(echo "$out" | json 'd["linux_uid"]')
exits "a run starts without a quota" 0 run dora@example.com --level basic -- true
exits "set a 1M storage quota" 0 quota set dora@example.com --storage 1M
exits "a run starts under it" 0 run dora@example.com --level basic -- true

ok "the tenant writes 2M: a plain directory does not stop it" \
  as "$uid" dd if=/dev/zero of="$home/sandboxes/fill" bs=1M count=2 status=none
exits "a run is refused over the quota" 125 run dora@example.com --level basic -- true
like "the error gives usage and limit" "$err" \
  "tenant 'dora@example.com' is over its storage quota: [0-9]+ bytes used, the limit is 1048576"
like "the refusal is in the audit log" \
  "$(sqlite3 "$WARREN_STATE_DIR/registry.db" "select detail from audit_log where type = 'storage_over_quota'")" \
  '"bytes":[0-9]+,"limit":1048576,"refused":"run"'
exits "stats" 0 stats dora@example.com --json
is "stats say over-quota" "$(echo "$out" | json 'd["health"]')" over-quota
ok "stats count the bytes the walk found" test "$(echo "$out" | json 'd["storage"]["bytes"]')" -ge 2097152

as "$uid" rm "$home/sandboxes/fill"
exits "after the tenant's files go, runs start again" 0 run dora@example.com --level basic -- true

exits "set an inode quota of 50" 0 quota set dora@example.com --storage max --inodes 50
as "$uid" sh -c "for i in \$(seq 60); do : >'$home/sandboxes/f'\$i; done"
exits "a run is refused over the inode quota" 125 run dora@example.com --level basic -- true
like "the error counts inodes" "$err" "[0-9]+ inodes used, the limit is 50"
as "$uid" sh -c "rm '$home'/sandboxes/f*"
exits "and starts again below it" 0 run dora@example.com --level basic -- true

exits "delete the tenant" 0 user delete dora@example.com
ok "its home is gone" test ! -e "$home"
done_testing
