# Two tenant ids whose hashes share their first 8 hex digits: the later one gets
# the next longer name (9 digits of its own hash), deterministically, and the two
# never share an account, a UID or a home. Deleting one leaves the other whole.
source "$WARREN_SRC/tests/lib/tap.sh"

prefix=warren_

# A real collision, found by a birthday search over sha256 (about 77,000 ids,
# well under a second). The search order is fixed, so every run finds the same
# pair; what is tested does not depend on which pair it is.
read -r A B < <(python3 - <<'EOF'
import hashlib
seen = {}
i = 0
while True:
    tid = f"tenant-{i}@collide.example"
    h = hashlib.sha256(tid.encode()).hexdigest()[:8]
    if h in seen:
        print(seen[h], tid)
        break
    seen[h] = tid
    i += 1
EOF
)
hex() { printf '%s' "$1" | sha256sum | cut -c1-"$2"; }
is "the brute force found two ids" "$([ -n "${A:-}" ] && [ -n "${B:-}" ] && [ "$A" != "$B" ] && echo yes)" yes
is "their hashes share the first 8 hex digits" "$(hex "$A" 8)" "$(hex "$B" 8)"
isnt_9=$([ "$(hex "$A" 9)" != "$(hex "$B" 9)" ] && echo differ)
is "but not the first 9 (so the 9-digit names are distinct)" "$isnt_9" differ
echo "# colliding ids: '$A' and '$B' (both ${prefix}$(hex "$A" 8))"

name_a8=${prefix}$(hex "$A" 8)
name_b8=${prefix}$(hex "$B" 8)
name_a9=${prefix}$(hex "$A" 9)
name_b9=${prefix}$(hex "$B" 9)

# field TENANT-JSON KEY
field() { json "d[\"$1\"]" <<<"$2"; }

# The account as the system sees it: `name uid gid home` from NSS.
pw() { getent passwd "$1" | awk -F: '{print $1, $3, $4, $6}'; }

# check_tenant LABEL ID NAME: the tenant's row, account, group and home agree.
check_tenant() {
  local label=$1 id=$2 name=$3 j uid home
  run_warren user get --json "$id"
  is "$label: user get succeeds" "$rc" 0
  j=$out
  is "$label: user get returns its own tenant id" "$(field saas_user_id "$j" 2>&1)" "$id"
  is "$label: user get returns account $name" "$(field linux_username "$j" 2>&1)" "$name"
  uid=$(field linux_uid "$j" 2>/dev/null)
  home=$(field home_dir "$j" 2>/dev/null)
  is "$label: home is <users base>/$name" "$home" "$WARREN_USERS_BASE/$name"
  is "$label: getent passwd shows its own UID and home" "$(pw "$name")" "$name $uid $uid $home"
  is "$label: getent group has gid = uid" "$(getent group "$name" | cut -d: -f1,3)" "$name:$uid"
  is "$label: exactly one passwd line holds its UID" \
    "$(awk -F: -v u="$uid" '$3 == u' /etc/passwd | cut -d: -f1)" "$name"
  is "$label: home is a directory owned by its UID, mode 700" \
    "$(stat -c '%F %u %g %a' "$home" 2>&1)" "directory $uid $uid 700"
}

# --- create A, then B -------------------------------------------------------
run_warren user create --json "$A"
is "create the first colliding tenant" "$rc" 0
ja=$out
run_warren user create --json "$B"
is "create the second colliding tenant" "$rc" 0
jb=$out
is "the first gets the 8-digit name" "$(field linux_username "$ja" 2>&1)" "$name_a8"
is "the later one gets the 9-digit name of its own hash" "$(field linux_username "$jb" 2>&1)" "$name_b9"
uid_a=$(field linux_uid "$ja" 2>/dev/null)
uid_b=$(field linux_uid "$jb" 2>/dev/null)
like "the first has a UID" "$uid_a" '^[0-9]+$'
like "the second has a UID" "$uid_b" '^[0-9]+$'
[ "$uid_a" != "$uid_b" ]; is "the two UIDs differ" "$?" 0
[ "$(field home_dir "$ja" 2>&1)" != "$(field home_dir "$jb" 2>&1)" ]; is "the two homes differ" "$?" 0

check_tenant first "$A" "$name_a8"
check_tenant second "$B" "$name_b9"

run_warren user list --json
is "user list shows both, each once, on its own account" \
  "$(json '" ".join(sorted(u["saas_user_id"] + "=" + u["linux_username"] for u in d["users"]))' <<<"$out" 2>&1)" \
  "$(printf '%s\n' "$A=$name_a8" "$B=$name_b9" | sort | tr '\n' ' ' | sed 's/ $//')"
is "the account files hold one line per account" \
  "$(for f in passwd group shadow gshadow; do grep -c "^${prefix}" /etc/$f; done | tr '\n' ' ')" "2 2 2 2 "

# Files of one stay out of the other's reach: a file B writes in its home is
# B's, and A's account cannot enter B's home.
run_warren sandbox path "$B" api
is "sandbox path for the second tenant" "$out" "$WARREN_USERS_BASE/$name_b9/sandboxes/api"
fails "the first tenant's account cannot list the second's home" \
  setpriv --reuid="$uid_a" --regid="$uid_a" --clear-groups ls "$WARREN_USERS_BASE/$name_b9"
ok "the second tenant's account can list its own home" \
  setpriv --reuid="$uid_b" --regid="$uid_b" --clear-groups ls "$WARREN_USERS_BASE/$name_b9"

# --- delete the first: the second stays whole ---------------------------------
exits "delete the first tenant" 0 user delete "$A"
exits "the first tenant is gone from the registry" 3 user get "$A"
is "its account is gone" "$(getent passwd "$name_a8")" ""
is "its group is gone" "$(getent group "$name_a8")" ""
[ ! -e "$WARREN_USERS_BASE/$name_a8" ]; is "its home is gone" "$?" 0
check_tenant "second after the first's delete" "$B" "$name_b9"
ok "the second's sandbox survived" test -d "$WARREN_USERS_BASE/$name_b9/sandboxes/api"

# With the 8-digit name free again, the first id gets it back; the second keeps
# the name it was created with.
run_warren user create --json "$A"
is "recreate the first tenant" "$rc" 0
is "it gets its 8-digit name again" "$(field linux_username "$out" 2>&1)" "$name_a8"
check_tenant "second after the first's return" "$B" "$name_b9"

# --- delete the second: the first stays whole --------------------------------
exits "delete the second tenant" 0 user delete "$B"
exits "the second tenant is gone from the registry" 3 user get "$B"
is "its account is gone" "$(getent passwd "$name_b9")" ""
[ ! -e "$WARREN_USERS_BASE/$name_b9" ]; is "its home is gone" "$?" 0
check_tenant "first after the second's delete" "$A" "$name_a8"
exits "delete the first tenant again" 0 user delete "$A"
is "no warren accounts remain" "$(grep -c "^${prefix}" /etc/passwd)" 0

# --- deterministic: the same order gives the same names ----------------------
run_warren user create --json "$A"; n1=$(field linux_username "$out" 2>&1)
run_warren user create --json "$B"; n2=$(field linux_username "$out" 2>&1)
is "created again in the same order: the same two names" "$n1 $n2" "$name_a8 $name_b9"
check_tenant "first, second time" "$A" "$name_a8"
check_tenant "second, second time" "$B" "$name_b9"

# The rule is "the later one", not "this id": in the other order the roles swap.
exits "delete both (1)" 0 user delete "$A"
exits "delete both (2)" 0 user delete "$B"
run_warren user create --json "$B"; n2=$(field linux_username "$out" 2>&1)
run_warren user create --json "$A"; n1=$(field linux_username "$out" 2>&1)
is "in the other order the second id gets 8 digits, the first 9" "$n2 $n1" "$name_b8 $name_a9"
check_tenant "second id created first" "$B" "$name_b8"
check_tenant "first id created later" "$A" "$name_a9"

done_testing
