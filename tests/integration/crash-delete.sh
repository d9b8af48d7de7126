# A delete killed (SIGKILL) at each of its steps: the next warren start
# finishes it, and afterwards nothing of the tenant is left — no file of its
# UID in the shared directories, no SysV object, no key, no process, no home,
# no account line, no registry row — and the UID is clean: with a range of one
# UID, the next round's tenant gets it back only if so.
#
# strace delivers the SIGKILL on entry to the Nth call of a system call, so
# warren dies right before that step: removing IPC objects (msgctl, semctl,
# shmctl), files and the home (unlinkat), the account files (renameat), the
# namespace (umount2). The keyring helper is killed too (a child of warren:
# the delete fails, and the next start finishes it).
source "$WARREN_SRC/tests/lib/tap.sh"
source "$WARREN_SRC/tests/lib/private-scratch.sh"
private_scratch

if ! command -v strace >/dev/null; then
  ok "deletes killed at each step # SKIP strace is not installed" true
  done_testing
  exit 0
fi

U=71501
export WARREN_UID_RANGE=$U-$U
log=$TEST_TMP/log
mkdir -p "$log"
as() { local u=$1; shift; setpriv --reuid "$u" --regid "$u" --clear-groups "$@"; }
traced() { ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace "$@"; }
trap 'python3 -c "
import ctypes, os
libc = ctypes.CDLL(None); u = $U
os.setgroups([]); os.setresgid(u, u, u); os.setresuid(u, u, u)
for k in (libc.syscall(250, 0, -4, 1), libc.syscall(250, 0, -5, 1)):
    libc.syscall(250, 7, k); libc.syscall(250, 21, k)
"; private_scratch_undo' EXIT

# make ID: creates tenant ID and has it leave something of every kind.
make() {
  local home
  home=$("$WARREN" user create "$1" --json | json 'd["home_dir"]') || return 1
  HOME_DIR=$home as $U sh -c '
    echo x >/tmp/f; echo x >/var/tmp/f; echo x >/dev/shm/f; echo x >/run/lock/f
    mkdir -p /tmp/d/e/f && echo x >/tmp/d/e/f/g
    ipcmk -M 4096 >/dev/null; ipcmk -S 1 >/dev/null; ipcmk -Q >/dev/null
    keyctl add user k v @u >/dev/null
    for i in 1 2 3; do echo x >"$HOME_DIR/sandboxes/f$i"; done
  '
  as $U setsid sleep 1000 </dev/null >/dev/null 2>&1 &
}

# What is left of the UID anywhere (empty when nothing).
leftovers() {
  find /tmp /var/tmp /dev/shm /run/lock -xdev -uid $U 2>/dev/null | head -3
  awk -v u=$U 'FNR == 1 { delete c; for (i = 1; i <= NF; i++) c[$i] = i; next }
    $c["uid"] == u || $c["cuid"] == u { print FILENAME }' /proc/sysvipc/shm /proc/sysvipc/sem /proc/sysvipc/msg
  awk -v u="$U:" '$1 == u { split($3, a, "/"); if (a[1] > 0) print "keys: " $0 }' /proc/key-users
  pgrep -u $U | sed 's/^/process /'
  ls -A "$WARREN_USERS_BASE" | grep -v '^\.' | sed 's/^/home /'
  grep -h "^[^:]*:[^:]*:$U:" /etc/passwd /etc/group | sed 's/^/account /'
  sqlite3 "$WARREN_STATE_DIR/registry.db" "select 'row ' || saas_user_id || ' state ' || state from tenants"
}

state_of() { sqlite3 "$WARREN_STATE_DIR/registry.db" "select state from tenants where saas_user_id = '$1'"; }

# The steps, from a trace of a whole delete.
steps=msgctl,semctl,shmctl,unlinkat,renameat,renameat2,umount2
make reference@example.com
traced -o "$log/trace" -qq -e trace="flock,$steps" "$WARREN" user delete reference@example.com >/dev/null 2>&1
awk '/^[a-z0-9_]+\(/ { name = substr($0, 1, index($0, "(") - 1); n[name]++
       if (name == "flock" && /LOCK_EX/) locked = 1
       else if (locked && name != "flock") print name, n[name] }' "$log/trace" >"$log/all"
cp "$log/all" "$log/points"
echo "# $(wc -l <"$log/all") steps in a delete; killing at each"
like "the delete's IPC, file and account steps were found" "$(cut -d' ' -f1 "$log/points" | sort -u | paste -sd,)" \
  'msgctl.*renameat.*semctl.*shmctl.*unlinkat'
is "the reference delete left nothing" "$(leftovers)" ""

k=0
: >"$log/problems"
while read -r sc n <&3; do
  k=$((k + 1))
  id=victim-$k@example.com
  if ! make "$id"; then
    echo "$sc#$n: could not create $id (the UID was not clean): $(leftovers | paste -sd';')" >>"$log/problems"
    continue
  fi
  rc=$( (traced -o /dev/null -qq -e trace="$sc" -e inject="$sc":signal=KILL:when="$n" \
    "$WARREN" user delete "$id" >/dev/null 2>&1; echo $?) 2>/dev/null)
  st=$(state_of "$id")
  echo "# $sc#$n: exit $rc, row state '${st:-gone}'"
  [ "$rc" = 137 ] || echo "$sc#$n: the kill did not land (exit $rc)" >>"$log/problems"
  "$WARREN" user list >/dev/null 2>>"$log/problems" # the next start finishes it
  left=$(leftovers | paste -sd';')
  [ -n "$left" ] && echo "$sc#$n: left after the next start: $left" >>"$log/problems"
done 3<"$log/points"
is "every delete killed at a step was finished by the next start, leaving nothing" \
  "$(head -5 "$log/problems")" ""

# The keyring helper killed: the delete fails, the next start finishes it.
make helper@example.com
rc=$( (traced -f -o /dev/null -qq -e trace=keyctl -e inject=keyctl:signal=KILL:when=1 \
  "$WARREN" user delete helper@example.com >/dev/null 2>"$log/helper-err"; echo $?) 2>/dev/null)
is "a delete whose keyring helper is killed fails" "$rc" 1
like "saying so" "$(cat "$log/helper-err")" "keyrings of uid $U"
is "the row stays in state deleting" "$(state_of helper@example.com)" 2
exits "the next start finishes it" 0 user list
is "and nothing is left" "$(leftovers)" ""

exits "a tenant still gets the UID afterwards" 0 user create after@example.com --json
is "the same UID" "$(echo "$out" | json 'd["linux_uid"]')" $U
done_testing
