# Non-root mode (seed 001): tenants are tracked without accounts, files belong
# to the caller, and homes live in the caller's own data directory.
source "$WARREN_SRC/tests/lib/tap.sh"

# An unprivileged user of our own, in the overlay /etc only, with one
# supplementary group.
useradd -m -d "$TEST_TMP/plainhome" -s /bin/sh plainuser
groupadd plainextra
usermod -aG plainextra plainuser
pu=$(id -u plainuser)
pg=$(id -g plainuser)
# Runs need a cgroup the user may write: systemd hands a user one with
# Delegate=yes; here a child of the test's own cgroup, handed over the same
# way (owned by the user), and every command of the user's starts in it.
cg_mount=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
plain_cg=
if [ -n "$cg_mount" ]; then
  plain_cg=$cg_mount/plainuser
  mkdir "$plain_cg"
  chown -R plainuser "$plain_cg"
fi
as_plain() {
  ( [ -z "$plain_cg" ] || echo "$BASHPID" >"$plain_cg/cgroup.procs"
    exec setpriv --reuid "$pu" --regid "$pg" --init-groups env -i HOME="$TEST_TMP/plainhome" PATH=/usr/bin:/bin "$@" )
}
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

# --- Runs without root ------------------------------------------------------
# basic: the caller's uid, and warren says so. container and strong: a user
# namespace in which the caller maps itself (and only itself) to the tenant's
# uid, then every layer of root mode; never more than the caller may do.
if [ -z "$plain_cg" ]; then
  echo "ok $((++_tap_n)) - runs without root # SKIP no cgroup2 hierarchy to delegate"
  done_testing; exit
fi
if [ "$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 1)" = 0 ] ||
   [ "$(cat /proc/sys/user/max_user_namespaces)" = 0 ]; then
  echo "ok $((++_tap_n)) - container and strong without root # SKIP this kernel refuses users a user namespace"
  done_testing; exit
fi
PROBE=${WARREN_PROBE:?WARREN_PROBE must name the warren-probe binary}
for t in carol dave; do
  j=$(as_plain "$WARREN" user create $t --json)
  printf -v "${t}_uid" %s "$(echo "$j" | json 'd["linux_uid"]')"
  printf -v "${t}_home" %s "$(echo "$j" | json 'd["home_dir"]')"
  printf -v "${t}_name" %s "$(echo "$j" | json 'd["linux_username"]')"
  sbx=$(as_plain "$WARREN" sandbox path $t probe)
  install -o "$pu" -g "$pg" -m 0755 "$PROBE" "$sbx/warren-probe"
done
# What the caller itself may not read or write, inside the tenant's home;
# and what only its supplementary group lets it read.
install -o root -g root -m 0600 /dev/null "$carol_home/root-only"
echo secret >"$carol_home/root-only"
install -d -o root -g root -m 0755 "$carol_home/root-dir"
echo group-data >"$carol_home/group-only"
chown root:plainextra "$carol_home/group-only"; chmod 0640 "$carol_home/group-only"
echo caller-secret >"$TEST_TMP/plainhome/caller-file"
chown plainuser "$TEST_TMP/plainhome/caller-file"
q() { printf '%s' "$report" | json "$1"; }
check() { q "(lambda c: 'ok' if c['ok'] else c['errno'])(d['checks'][$1])"; }

out=$(as_plain "$WARREN" run --level basic carol -- id -u 2>"$TEST_TMP/err")
is "basic: the run has the caller's uid" "$out" "$pu"
like "  and warren says plainly there is no uid separation" "$(cat "$TEST_TMP/err")" "without root, basic gives no uid separation"

for level in container strong; do
  rc=0
  report=$(as_plain "$WARREN" run --level $level carol --service probe -- ./warren-probe \
    --read /proc/self/uid_map --read /proc/self/gid_map --read /proc/self/setgroups \
    --read "$carol_home/root-only" --write "$carol_home/root-dir" --read "$carol_home/group-only" \
    --stat "$dave_home" --stat "$TEST_TMP/plainhome/caller-file" \
    --stat "$TEST_TMP/plainhome/.local/state/warren/registry.db" --stat /home --write /proc/self/comm \
    --mount "$carol_home" 2>"$TEST_TMP/err") || rc=$?
  is "$level: the run starts without root" "$rc" 0
  [ "$rc" = 0 ] || { echo "# $(cat "$TEST_TMP/err")"; continue; }
  for ns in user mnt pid ipc uts net cgroup; do
    ok "$level: own $ns namespace" test "$(q "d['namespaces']['$ns']")" != "$(readlink /proc/self/ns/$ns)"
  done
  is "$level: the tenant's uid and gid inside" "$(q '[d["uid"]["real"], d["uid"]["effective"], d["uid"]["saved"], d["gid"]["effective"]]')" \
    "[$carol_uid, $carol_uid, $carol_uid, $carol_uid]"
  is "$level: uid map: the tenant's uid is the caller, and nothing else is mapped" \
    "$(q 'd["checks"][0]["head"].split()')" "['$carol_uid', '$pu', '1']"
  is "$level: gid map likewise" "$(q 'd["checks"][1]["head"].split()')" "['$carol_uid', '$pg', '1']"
  is "$level: setgroups denied in the namespace" "$(q 'd["checks"][2]["head"].strip()')" deny
  is "$level: the caller's supplementary group shows as the overflow gid" "$(q 'sorted(d["groups"])')" "[$carol_uid, 65534]"
  is "$level: no capability in any set" \
    "$(q '[int(d["caps"][k], 16) for k in ("effective", "permitted", "inheritable", "ambient")]')" "[0, 0, 0, 0]"
  is "$level: no_new_privs" "$(q 'd["no_new_privs"]')" 1
  # pid 1 is warren's init (spawn.c), the command its only child.
  is "$level: pid 2 under warren's init, alone with it" "$(q '[d["pid"], d["pids"]["list"]]')" "[2, [1, 2]]"
  is "$level: hostname is the account name" "$(q 'd["hostname"]')" "$carol_name"
  is "$level: loopback only" "$(q 'd["net_interfaces"]')" "['lo']"
  is "$level: the root is a fresh tmpfs" "$(q '[m["fstype"] for m in d["mounts"] if m["target"] == "/"]')" "['tmpfs']"
  is "$level: root's 0600 file in the home stays unreadable (EACCES)" "$(check 3)" EACCES
  is "$level: root's directory in the home stays unwritable (EACCES)" "$(check 4)" EACCES
  is "$level: a file the caller reads through its group is readable (no more, no less)" "$(check 5)" ok
  is "$level: another tenant's home is not there" "$(check 6)" ENOENT
  is "$level: the caller's own files are not there" "$(check 7)" ENOENT
  is "$level: the registry is not there" "$(check 8)" ENOENT
  is "$level: the host's /home is not there" "$(check 9)" ENOENT
  is "$level: mount refused (no capability left)" "$(check 11)" EPERM
  if [ $level = strong ]; then
    is "strong: bounding set empty" "$(q 'int(d["caps"]["bounding"], 16)')" 0
    is "strong: seccomp filter mode" "$(q 'd["seccomp"]')" 2
    is "strong: Landlock: /proc/self/comm not writable (read-only below /)" "$(check 10)" EACCES
  else
    is "container: no seccomp filter" "$(q 'd["seccomp"]')" 0
    is "container: /proc/self/comm writable (control for strong's Landlock)" "$(check 10)" ok
  fi
done
( as_plain cat "$carol_home/root-only" ) >/dev/null 2>&1
is "  (control: the caller itself cannot read root's file either)" "$?" 1

# A nested user namespace makes the run root of its own namespace, with every
# capability there, and still not one in the host's: root's file stays closed.
rc=0
out=$(as_plain "$WARREN" run --level container carol --shell \
  "unshare -Ur sh -c 'id -u; cat \"$carol_home/root-only\" || echo refused'" 2>&1) || rc=$?
is "container: nested unshare -Ur is uid 0 inside and still cannot read root's file" "$out" \
  "$(printf '0\ncat: %s: Permission denied\nrefused' "$carol_home/root-only")"
rc=0; as_plain "$WARREN" run --level strong carol -- unshare -Ur true >/dev/null 2>&1 || rc=$?
ok "strong: nested user namespace refused (exit $rc)" test "$rc" != 0

# Tenants apart without uid separation: only the namespaces keep carol from
# dave's process, which has the same host uid. A basic run shows why.
as_plain "$WARREN" run --level container dave --service probe -- ./warren-probe --sleep 60 >/dev/null 2>&1 &
dave_run=$!
dpid=
for _ in $(seq 100); do dpid=$(pgrep -u "$pu" -f '^./warren-probe --sleep 60$' | head -1); [ -n "$dpid" ] && break; sleep 0.1; done
ok "dave's process runs as the caller (host pid $dpid)" test -n "$dpid"
for level in container strong; do
  report=$(as_plain "$WARREN" run --level $level carol --service probe -- ./warren-probe \
    --kill "$dpid" --ptrace "$dpid" --read "/proc/$dpid/environ" 2>/dev/null)
  is "$level: carol cannot signal dave's process (not there)" "$(check 0)" ESRCH
  like "$level: nor trace it" "$(check 1)" '^(ESRCH|EPERM)$'
  is "$level: nor read its environment" "$(check 2)" ENOENT
done
report=$(as_plain "$WARREN" run --level basic carol --service probe -- ./warren-probe --kill "$dpid" 2>/dev/null)
is "  (basic, no uid separation: carol can signal dave's process)" "$(check 0)" ok
ok "dave's process survived" kill -0 "$dpid"
kill "$dpid"; wait "$dave_run" 2>/dev/null

# Real programs at strong without root.
out=$(as_plain "$WARREN" run --level strong carol -- python3 -c 'import subprocess; print(subprocess.run(["echo", "py ok"], capture_output=True, text=True).stdout.strip())' 2>&1)
is "strong: python3 with a subprocess" "$out" "py ok"
out=$(as_plain "$WARREN" run --level strong carol --shell 'echo sh ok' 2>&1)
is "strong: sh -c" "$out" "sh ok"

rc=0; msg=$(as_plain "$WARREN" --state-dir /var/lib/warren-nonroot-test user list 2>&1) || rc=$?
is "an unwritable state dir fails with exit 1" "$rc" 1
like "  and names it" "$msg" "/var/lib/warren-nonroot-test"
done_testing
