# Non-root mode (seed 001): tenants are tracked without accounts, files belong
# to the caller, and homes live in the caller's own data directory.
source "$WARREN_SRC/tests/lib/tap.sh"

# An unprivileged user of our own, in the overlay /etc only.
useradd -m -d "$TEST_TMP/plainhome" -s /bin/sh plainuser
pu=$(id -u plainuser)
as_plain() { setpriv --reuid "$pu" --regid "$pu" --init-groups env -i HOME="$TEST_TMP/plainhome" PATH=/usr/bin:/bin "$@"; }
passwd_before=$(sha256sum /etc/passwd /etc/group)

is "warren runs unprivileged" "$(as_plain "$WARREN" user list; echo "rc=$?")" "$(printf '0 tenants\nrc=0')"
out=$(as_plain "$WARREN" user create alice --json)
home=$(echo "$out" | json 'd["home_dir"]')
is "the home is in the caller's data directory" "$home" "$TEST_TMP/plainhome/.local/share/warren/users/$(echo "$out" | json 'd["linux_username"]')"
ok "the registry is in the caller's state directory" test -f "$TEST_TMP/plainhome/.local/state/warren/registry.db"
is "the home belongs to the caller, 0700" "$(stat -c '%u %a' "$home")" "$pu 700"
is "no account was made" "$(sha256sum /etc/passwd /etc/group)" "$passwd_before"
is "nothing of the caller's in /tmp or /var/tmp" \
  "$(find /tmp /var/tmp -xdev -maxdepth 3 -user plainuser -not -path "$TEST_TMP*" 2>/dev/null)" ""
out=$(as_plain "$WARREN" sandbox path alice my-api)
is "sandbox path" "$out" "$home/sandboxes/my-api"
is "stats" "$(as_plain "$WARREN" user stats alice --json | json 'd["sandbox_count"]')" 1
is "delete" "$(as_plain "$WARREN" user delete alice --json | json 'd["success"]')" True
ok "the home is gone" test ! -e "$home"
rc=0; msg=$(as_plain "$WARREN" --state-dir /var/lib/warren-nonroot-test user list 2>&1) || rc=$?
is "an unwritable state dir fails with exit 1" "$rc" 1
like "  and names it" "$msg" "/var/lib/warren-nonroot-test"
done_testing
