# Delete leaves nothing of the tenant's UID behind, and the UID policy holds.
#
# With a UID range of one UID, the second tenant can only get the first one's
# UID back, and only if its delete left nothing: files in /tmp, /var/tmp,
# /dev/shm and /run/lock (planted links and a deep tree among them), SysV
# shared memory, semaphores and message queues, keys in its keyrings, a
# process that escaped warren. The new tenant is then checked, as itself, for
# anything of the old one. Finally a delete that cannot remove everything (a
# key another user keeps alive) retires the UID for good, and a create then
# finds the range exhausted.
#
# The shared directories are the test's own tmpfs mounts (private-scratch.sh);
# IPC is ns-run's private namespace. Keyrings are the one thing the kernel
# does not put in a namespace we own: the test uses UIDs of its own
# and empties their keyrings before it ends.
source "$WARREN_SRC/tests/lib/tap.sh"
source "$WARREN_SRC/tests/lib/private-scratch.sh"
private_scratch

U=71301 # the range's only UID
OTHER=71399 # a host user that is no tenant
export WARREN_UID_RANGE=$U-$U

as() { local u=$1; shift; setpriv --reuid "$u" --regid "$u" --clear-groups "$@"; }

# Empties and invalidates the user keyrings of a UID (what a delete does),
# for the test's own clean-up.
drop_keyrings() {
  python3 - "$1" <<'EOF'
import ctypes, os, sys
u = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
os.setgroups([]); os.setresgid(u, u, u); os.setresuid(u, u, u)
ids = [libc.syscall(250, 0, -4, 1), libc.syscall(250, 0, -5, 1)]  # KEYCTL_GET_KEYRING_ID @u @us
for k in ids:
    libc.syscall(250, 7, k)   # KEYCTL_CLEAR
    libc.syscall(250, 21, k)  # KEYCTL_INVALIDATE
EOF
}
keys_of() { awk -v u="$1:" '$1 == u { split($3, a, "/"); print a[1]; f = 1 } END { if (!f) print 0 }' /proc/key-users; }
cleanup() { drop_keyrings $OTHER; drop_keyrings $U; private_scratch_undo; }
trap cleanup EXIT

ipc_of() { # UID: SysV objects the UID owns or made, from /proc/sysvipc
  local f
  for f in /proc/sysvipc/shm /proc/sysvipc/sem /proc/sysvipc/msg; do
    awk -v u="$1" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
      $c["uid"] == u || $c["cuid"] == u { print FILENAME ": " $0 }' "$f"
  done
}
owned_by() { # UID: entries the UID owns in the shared directories (this mount only)
  find /tmp /var/tmp /dev/shm /run/lock -xdev -uid "$1" 2>/dev/null | sort
}

# --- the first tenant, and what it leaves lying around ------------------------
exits "create the first tenant" 0 user create first@example.com --json
is "it has the range's only UID" "$(echo "$out" | json 'd["linux_uid"]')" $U
first=$(echo "$out" | json 'd["linux_username"]')

echo "root's file" >"$TEST_TMP/victim" && chmod 644 "$TEST_TMP/victim"
as $U sh -c '
  echo secret >/tmp/first-file && chmod 644 /tmp/first-file
  mkdir -p /tmp/first-dir/a/b && echo secret >/tmp/first-dir/a/b/f
  echo secret >/var/tmp/first-file
  echo secret >/dev/shm/first-shm
  echo secret >/run/lock/first.lock
  ln -s "$TEST_TMP/victim" /tmp/first-link
  ln -s / /var/tmp/first-root-link
  d=/tmp/first-deep; mkdir $d; for i in $(seq 300); do d=$d/d; mkdir $d; done; echo x >$d/f
'
mkdir -m 1777 /tmp/shared
as $U sh -c 'echo secret >/tmp/shared/first-in-shared'
as $OTHER sh -c 'echo mine >/tmp/other-file; echo mine >/tmp/shared/other-in-shared'
# A directory of the first tenant's that another user wrote into: it goes
# whole (it was the tenant's to empty at any time).
as $U sh -c 'mkdir -m 777 /tmp/first-open'
as $OTHER sh -c 'echo mine >/tmp/first-open/other-file'
# A filesystem mounted inside /tmp is not walked (nor is ns-run's scratch).
mkdir /tmp/mnt && mount -t tmpfs tmpfs /tmp/mnt && chmod 1777 /tmp/mnt
as $U sh -c 'echo secret >/tmp/mnt/first-on-other-fs'

shm=$(as $U ipcmk -M 4096 | awk '{ print $NF }')
sem=$(as $U ipcmk -S 2 | awk '{ print $NF }')
msq=$(as $U ipcmk -Q | awk '{ print $NF }')
is "the tenant made a shared memory segment, a semaphore set and a message queue" \
  "$(ipc_of $U | wc -l)" 3
key=$(as $U keyctl add user first-secret hunter2 @u)
as $U keyctl add user first-session-secret hunter3 @us >/dev/null
is "the tenant put keys in its keyrings" "$(as $U keyctl print "$key")" hunter2
as $U setsid sleep 1000 </dev/null >/dev/null 2>&1 &
sleep 0.2
is "a process of the tenant runs outside warren" "$(pgrep -u $U -c sleep)" 1
like "the tenant owns files in every shared directory" "$(owned_by $U | wc -l)" '^[1-9]'

exits "delete the first tenant" 0 user delete first@example.com
is "no entry of the UID is left in /tmp, /var/tmp, /dev/shm, /run/lock" "$(owned_by $U)" ""
is "its planted link was removed, not followed" "$(ls /tmp/first-link 2>&1 | grep -c 'No such'):$(cat "$TEST_TMP/victim")" "1:root's file"
ok "the link to / was removed, / is still there" test -d /etc -a ! -L /var/tmp/first-root-link
is "another user's files stay" "$(cat /tmp/other-file /tmp/shared/other-in-shared)" $'mine\nmine'
ok "the shared directory stays" test -d /tmp/shared
ok "the tenant's open directory went whole" test ! -e /tmp/first-open
is "a file on another filesystem inside /tmp is not reached" "$(cat /tmp/mnt/first-on-other-fs)" secret
rm -f /tmp/mnt/first-on-other-fs; umount /tmp/mnt
ok "ns-run's scratch tmpfs (a mount in /tmp) is untouched" test -d "$WARREN_STATE_DIR"
is "no SysV object of the UID is left" "$(ipc_of $U)" ""
like "the segment id is gone" "$(ipcs -m -i "$shm" 2>&1)" "not found"
like "the semaphore id is gone" "$(ipcs -s -i "$sem" 2>&1)" "not found"
like "the queue id is gone" "$(ipcs -q -i "$msq" 2>&1)" "not found"
is "the kernel counts no key of the UID" "$(keys_of $U)" 0
is "no process of the UID is left" "$(pgrep -u $U -c)" 0
is "the UID is retired as clean" \
  "$(sqlite3 "$WARREN_STATE_DIR/registry.db" "select clean from retired_uids where uid = $U")" 1

# --- a new tenant on the same UID finds nothing -------------------------------
exits "create a second tenant" 0 user create second@example.com --json
is "it gets the first tenant's UID back (the range has no other)" \
  "$(echo "$out" | json 'd["linux_uid"]')" $U
is "it finds no file of the old tenant" "$(as $U find /tmp /var/tmp /dev/shm /run/lock -xdev -user $U 2>/dev/null)" ""
ok "it cannot read the old key by its id" bash -c "! setpriv --reuid $U --regid $U --clear-groups keyctl print $key"
ok "its user keyring has no old key" bash -c "! setpriv --reuid $U --regid $U --clear-groups keyctl search @u user first-secret"
ok "its session keyring has no old key" \
  bash -c "! setpriv --reuid $U --regid $U --clear-groups keyctl search @us user first-session-secret"
like "it cannot find the old segment" "$(as $U ipcs -m -i "$shm" 2>&1)" "not found"
is "no process of its UID is running before its first run" "$(pgrep -u $U)" ""

# --- a delete that cannot remove everything retires the UID for good ----------
# The tenant lets another user link one of its keys, and that user does: the
# key outlives the tenant's keyrings.
shared=$(as $U keyctl add user kept-alive v @u)
as $U keyctl setperm "$shared" 0x3f3f3f3f
as $OTHER keyctl link "$shared" @u
exits "delete the second tenant" 0 user delete second@example.com
is "the UID is retired as not clean" \
  "$(sqlite3 "$WARREN_STATE_DIR/registry.db" "select clean from retired_uids where uid = $U")" 0
like "the audit log says what was left" \
  "$(sqlite3 "$WARREN_STATE_DIR/registry.db" "select detail from audit_log where type = 'offboard_incomplete'")" \
  "key\(s\) of uid $U still exist"
exits "a third tenant is refused: the only UID is not reusable" 1 user create third@example.com
like "the error says the range is exhausted" "$err" "UID range $U-$U is exhausted"

# --- an account whose registry row was lost (a power cut) ---------------------
# repair removes the account warren made, and what its UID left with it.
export WARREN_UID_RANGE=71302-71310
exits "create a tenant" 0 user create lost@example.com --json
lost=$(echo "$out" | json 'd["linux_uid"]')
lost_home=$(echo "$out" | json 'd["home_dir"]')
as "$lost" sh -c 'echo x >/tmp/lost-file; echo x >/dev/shm/lost-shm'
as "$lost" keyctl add user lost-key v @u >/dev/null
as "$lost" ipcmk -M 4096 >/dev/null
sqlite3 "$WARREN_STATE_DIR/registry.db" "delete from tenants where saas_user_id = 'lost@example.com'"
exits "repair finds the orphan account" 0 repair
is "its files, IPC objects and keys are gone" "$(owned_by "$lost")$(ipc_of "$lost")$(keys_of "$lost" | grep -v '^0$')" ""
ok "its home is left in place (repair never deletes a tenant's data)" test -d "$lost_home"
is "so its UID is retired as not clean" \
  "$(sqlite3 "$WARREN_STATE_DIR/registry.db" "select clean from retired_uids where uid = $lost")" 0
drop_keyrings "$lost"

# --- --keep-home ----------------------------------------------------------------
exits "create a tenant whose home is kept" 0 user create kept@example.com --json
kept=$(echo "$out" | json 'd["linux_uid"]')
as "$kept" sh -c 'echo x >/tmp/kept-file'
exits "delete it with --keep-home" 0 user delete kept@example.com --keep-home
is "its /tmp file went anyway" "$(ls /tmp/kept-file 2>&1 | grep -c 'No such')" 1
is "its UID is retired as not clean (the home holds its files)" \
  "$(sqlite3 "$WARREN_STATE_DIR/registry.db" "select clean from retired_uids where uid = $kept")" 0

done_testing
