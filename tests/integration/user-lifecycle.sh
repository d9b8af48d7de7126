# A tenant's whole life through the CLI, checked the way an admin would: with
# getent, id, ls and stat, and the exact JSON shapes of the seed.
source "$WARREN_SRC/tests/lib/tap.sh"

base=$WARREN_USERS_BASE
exits "create alice" 0 user create alice@example.com --json
alice=$out
is "JSON fields in the seed's order" "$(echo "$alice" | json 'list(d.keys())')" \
  "['saas_user_id', 'linux_username', 'linux_uid', 'linux_gid', 'home_dir', 'created_at']"
name=$(echo "$alice" | json 'd["linux_username"]')
uid=$(echo "$alice" | json 'd["linux_uid"]')
is "username is warren_ + 8 hex of sha256" "$name" \
  "warren_$(printf '%s' alice@example.com | sha256sum | cut -c1-8)"
is "first tenant gets UID 60001" "$uid" 60001
is "GID = UID" "$(echo "$alice" | json 'd["linux_gid"]')" 60001
is "home under the users base" "$(echo "$alice" | json 'd["home_dir"]')" "$base/$name"
like "created_at is a float timestamp" "$(echo "$alice" | json 'repr(d["created_at"])')" '^1[0-9]{9}\.[0-9]+$'

is "getent passwd shows the account" "$(getent passwd "$name" | cut -d: -f1,3,4,5,6,7)" \
  "$name:60001:60001:alice@example.com:$base/$name:/usr/sbin/nologin"
is "getent group shows its group" "$(getent group "$name" | cut -d: -f1,3,4)" "$name:60001:"
is "id has no supplementary groups" "$(id "$name")" "uid=60001($name) gid=60001($name) groups=60001($name)"
is "password is locked" "$(getent shadow "$name" | cut -d: -f2)" "!"
is "users base is root 0711" "$(stat -c '%U %a' "$base")" "root 711"
is "home is the tenant's, 0700" "$(stat -c '%U %G %a' "$base/$name")" "$name $name 700"
is "sandboxes/ is the tenant's, 0700" "$(stat -c '%U %a' "$base/$name/sandboxes")" "$name 700"
is ".cache/ is the tenant's, 0700" "$(stat -c '%U %a' "$base/$name/.cache")" "$name 700"
setpriv --reuid "$uid" --regid "$uid" --clear-groups sleep 30 &
p=$!
sleep 0.1
is "ps names the account" "$(ps -o user:32= -p $p)" "$name"
kill $p; wait $p 2>/dev/null

exits "create alice again fails" 1 user create alice@example.com
like "duplicate tenant is named" "$err" "tenant 'alice@example.com' already exists"
exits "create --exist-ok returns her" 0 user create alice@example.com --exist-ok --json
is "--exist-ok gives the same tenant" "$out" "$alice"

exits "create bob" 0 user create bob --json
bob_name=$(echo "$out" | json 'd["linux_username"]')
is "second tenant gets UID 60002" "$(echo "$out" | json 'd["linux_uid"]')" 60002
ok "bob cannot list alice's home" bash -c "! setpriv --reuid 60002 --regid 60002 --clear-groups ls $base/$name"
ok "bob cannot list the users base" bash -c "! setpriv --reuid 60002 --regid 60002 --clear-groups ls $base"
ok "alice can write in her sandboxes" setpriv --reuid 60001 --regid 60001 --clear-groups touch "$base/$name/sandboxes/x"
rm -f "$base/$name/sandboxes/x"

exits "get alice" 0 user get alice@example.com --json
is "get returns what create returned" "$out" "$alice"
exits "get alice in text" 0 user get alice@example.com
like "text output names account and home" "$out" "account +$name \(uid 60001, gid 60001\).*home +$base/$name"

exits "list" 0 user list --json
is "list count" "$(echo "$out" | json 'd["count"]')" 2
is "list shape" "$(echo "$out" | json 'list(d.keys())')" "['users', 'count']"
is "list in UID order" "$(echo "$out" | json '[u["saas_user_id"] for u in d["users"]]')" "['alice@example.com', 'bob']"
is "list entries are full users" "$(echo "$out" | json 'd["users"][0]')" "$(echo "$alice" | json 'd')"

exits "sandbox path" 0 sandbox path alice@example.com my-api
is "sandbox path" "$out" "$base/$name/sandboxes/my-api"
is "sandbox is the tenant's, 0700" "$(stat -c '%U %a' "$base/$name/sandboxes/my-api")" "$name 700"
exits "sandbox path again is the same" 0 sandbox path alice@example.com my-api
is "sandbox path is stable" "$out" "$base/$name/sandboxes/my-api"

# Stats count disk usage: blocks, each inode once.
setpriv --reuid 60001 --regid 60001 --clear-groups \
  dd if=/dev/urandom of="$base/$name/sandboxes/my-api/data" bs=1M count=3 status=none
setpriv --reuid 60001 --regid 60001 --clear-groups \
  ln "$base/$name/sandboxes/my-api/data" "$base/$name/sandboxes/my-api/data.link"
exits "stats" 0 user stats alice@example.com --json
is "stats shape" "$(echo "$out" | json 'list(d.keys())')" "['user', 'sandbox_count', 'total_size_mb']"
is "stats user is the full user" "$(echo "$out" | json 'd["user"]')" "$(echo "$alice" | json 'd')"
is "one sandbox" "$(echo "$out" | json 'd["sandbox_count"]')" 1
want=$(du -sB1 "$base/$name" | python3 -c 'import sys; print(round(int(sys.stdin.read().split()[0])/1048576, 2))')
is "total_size_mb matches du (hard link once)" "$(echo "$out" | json 'd["total_size_mb"]')" "$want"
survived=$(python3 -c "print($(echo "$out" | json 'd["total_size_mb"]') < 3.5)")
is "the hard link was not counted twice" "$survived" True

# Restarts keep tenants with their original created_at.
exits "get after 'restart'" 0 user get alice@example.com --json
is "created_at survives" "$(echo "$out" | json 'd["created_at"]')" "$(echo "$alice" | json 'd["created_at"]')"

# Delete ends processes, removes home, account and row.
setpriv --reuid 60001 --regid 60001 --clear-groups sleep 300 &
sleeper=$!
setpriv --reuid 60001 --regid 60001 --clear-groups setsid sh -c 'sleep 300 & sleep 300' &
sleep 0.2
exits "delete alice" 0 user delete alice@example.com --json
is "delete shape" "$out" "$(printf '{\n  "success": true,\n  "user_id": "alice@example.com"\n}')"
for _ in $(seq 50); do pgrep -u 60001 >/dev/null || break; sleep 0.1; done
is "her processes are gone" "$(pgrep -u 60001 | wc -l)" 0
pkill -9 -u 60001 2>/dev/null; wait 2>/dev/null
ok "her home is gone" test ! -e "$base/$name"
ok "her account is gone" bash -c "! getent passwd $name && ! getent group $name && ! grep -q '^$name:' /etc/shadow /etc/gshadow"
exits "she is not found" 3 user get alice@example.com
ok "bob is intact" bash -c "getent passwd $bob_name && test -d $base/$bob_name"

# --keep-home leaves the home; its UID is never handed out again.
exits "delete bob keeping his home" 0 user delete bob --keep-home
ok "bob's home is still there" test -d "$base/$bob_name"
ok "bob's account is gone" bash -c "! getent passwd $bob_name"
exits "create carol" 0 user create carol --json
is "carol does not get a retired UID" "$(echo "$out" | json 'd["linux_uid"]')" 60003
exits "recreate bob" 0 user create bob --json
like "bob reborn does not take over the kept home" "$(echo "$out" | json 'd["home_dir"]')" "$base/${bob_name}[0-9a-f]$"

# The prefix is configurable: pactown_ gives the seed's names.
exits "create with --prefix pactown_" 0 --prefix pactown_ user create dave --json
is "pactown_ prefix" "$(echo "$out" | json 'd["linux_username"]')" "pactown_$(printf dave | sha256sum | cut -c1-8)"
WARREN_USER_PREFIX=pactown_ exits "prefix from the environment" 0 user create erin --json
like "WARREN_USER_PREFIX" "$(echo "$out" | json 'd["linux_username"]')" '^pactown_'

done_testing
