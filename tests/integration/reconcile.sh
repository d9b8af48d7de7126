# After a power cut (or a hand edit of /etc) the registry and the account
# files may disagree; `warren repair`, and the first open after a boot, bring
# them back together without deleting anyone's data.
source "$WARREN_SRC/tests/lib/tap.sh"

base=$WARREN_USERS_BASE
db=$WARREN_STATE_DIR/registry.db
for t in alice bob carol; do "$WARREN" user create $t >/dev/null; done
name() { "$WARREN" user get "$1" --json | json 'd["linux_username"]'; }
a=$(name alice); b=$(name bob); c=$(name carol)
buid=$("$WARREN" user get bob --json | json 'd["linux_uid"]')

exits "repair with nothing wrong" 0 repair --json
is "  changes nothing" "$(echo "$out" | json '[d[k] for k in ("accounts_restored","orphans_removed","uids_retired","conflicts")]')" "[0, 0, 0, 0]"
is "  checked every tenant" "$(echo "$out" | json 'd["tenants_checked"]')" 3

# Damage: alice lost her passwd and shadow lines (appends lost in a power cut),
# carol her group line; the registry lost bob's row (its commit lost) while his
# account and home stayed; an account warren made for a tenant whose row was
# never committed has no home at all.
sed -i "/^$a:/d" /etc/passwd /etc/shadow
sed -i "/^$c:/d" /etc/group
sqlite3 "$db" "delete from tenants where saas_user_id = 'bob'"
echo "warren_0dd0dd00:x:60050:60050::$base/warren_0dd0dd00:/usr/sbin/nologin" >> /etc/passwd
echo "warren_0dd0dd00:x:60050:" >> /etc/group
# A host account in warren's range but not made by warren (home elsewhere).
echo "hostuser:x:60060:60060::/home/hostuser:/bin/sh" >> /etc/passwd
echo "hostuser:*:19000:0:99999:7:::" >> /etc/shadow

exits "repair after damage" 0 repair --json
is "  two tenants' accounts restored" "$(echo "$out" | json 'd["accounts_restored"]')" 2
is "  two orphaned accounts removed" "$(echo "$out" | json 'd["orphans_removed"]')" 2
is "alice is whole again" "$(getent passwd "$a" | cut -d: -f1,3,4); $(getent shadow "$a" | cut -d: -f2)" "$a:60001:60001; !"
is "carol has her group again" "$(getent group "$c" | cut -d: -f3)" 60003
ok "bob's orphaned account is gone" bash -c "! getent passwd $b && ! getent group $b"
ok "bob's home is kept (data is never deleted)" test -d "$base/$b"
ok "the homeless orphan is gone" bash -c "! getent passwd warren_0dd0dd00"
ok "the host's own account is untouched" bash -c "getent passwd hostuser"
ok "pwck finds nothing wrong" pwck -r -q
ok "grpck finds nothing wrong" grpck -r -q

exits "a new tenant" 0 user create dave --json
duid=$(echo "$out" | json 'd["linux_uid"]')
ok "does not get bob's UID while bob's home remains" test "$duid" != "$buid"
ok "does not get the orphan's UID" test "$duid" != 60050
ok "does not get the host account's UID" test "$duid" != 60060

# The first open after a boot reconciles by itself.
sed -i "/^$c:/d" /etc/passwd
sqlite3 "$db" "update meta set value = 'an-earlier-boot' where key = 'reconciled_boot'"
exits "any command after a boot" 0 user list
is "repaired carol without being asked" "$(getent passwd "$c" | cut -d: -f3)" 60003
sed -i "/^$c:/d" /etc/passwd
exits "within the same boot" 0 user list
ok "nothing runs again" bash -c "! getent passwd $c"
exits "repair restores her" 0 repair
like "  and says so" "$out" "1 accounts restored"

# A tenant whose name an admin gave to another UID is a conflict: left alone.
sed -i "s/^$c:x:60003:/$c:x:60070:/" /etc/passwd
exits "a conflict exits 1" 1 repair
like "  and names the problem" "$err" "held by accounts with other IDs"
is "  the admin's line is untouched" "$(getent passwd "$c" | cut -d: -f3)" 60070

done_testing
