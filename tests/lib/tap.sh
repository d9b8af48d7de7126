# A small TAP producer for the integration tests (sourced, bash).
# Each check prints `ok N - what` or `not ok N - what` with the evidence;
# `done_testing` prints the plan and fails the script if any check failed.
_tap_n=0
_tap_failed=0
WARREN=${WARREN:?WARREN must name the warren binary}

_tap_result() { # ok|fail description [diagnostics]
  _tap_n=$((_tap_n + 1))
  if [ "$1" = ok ]; then
    echo "ok $_tap_n - $2"
  else
    _tap_failed=$((_tap_failed + 1))
    echo "not ok $_tap_n - $2"
    [ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/#   /'
  fi
  return 0
}

# ok DESCRIPTION CMD...: passes when CMD exits 0.
ok() {
  local d=$1; shift
  local out
  if out=$("$@" 2>&1); then _tap_result ok "$d"; else _tap_result fail "$d" "exit $?: $out"; fi
}

# fails DESCRIPTION CMD...: passes when CMD exits non-zero.
fails() {
  local d=$1; shift
  local out
  if out=$("$@" 2>&1); then _tap_result fail "$d" "unexpectedly succeeded: $out"; else _tap_result ok "$d"; fi
}

# is DESCRIPTION GOT WANT
is() {
  if [ "$2" = "$3" ]; then _tap_result ok "$1"; else _tap_result fail "$1" "got:  '$2'"$'\n'"want: '$3'"; fi
}

# like DESCRIPTION GOT REGEX
like() {
  if [[ "$2" =~ $3 ]]; then _tap_result ok "$1"; else _tap_result fail "$1" "got:  '$2'"$'\n'"want match: $3"; fi
}

# run_warren ARGS...: runs warren, leaving stdout in $out, stderr in $err, exit code in $rc.
run_warren() {
  local o e
  o=$(mktemp); e=$(mktemp)
  rc=0
  "$WARREN" "$@" >"$o" 2>"$e" || rc=$?
  out=$(cat "$o"); err=$(cat "$e")
  rm -f "$o" "$e"
}

# exits DESCRIPTION CODE ARGS...: runs warren ARGS and checks its exit code.
exits() {
  local d=$1 want=$2; shift 2
  run_warren "$@"
  if [ "$rc" = "$want" ]; then _tap_result ok "$d"; else
    _tap_result fail "$d" "exit $rc, wanted $want"$'\n'"stdout: $out"$'\n'"stderr: $err"; fi
}

# json FILTER: reads JSON on stdin, prints python's view of FILTER applied to `d`.
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# snapshot: a fingerprint of everything a refused command must leave unchanged.
snapshot() {
  {
    sha256sum /etc/passwd /etc/group /etc/shadow /etc/gshadow 2>/dev/null
    [ -d "$WARREN_USERS_BASE" ] && find "$WARREN_USERS_BASE" -printf '%p %m %u %g %s\n' | sort
    [ -f "$WARREN_STATE_DIR/registry.db" ] && sqlite3 "$WARREN_STATE_DIR/registry.db" \
      'select saas_user_id, linux_username, uid, state from tenants order by uid' 2>/dev/null
  } | sha256sum
}

done_testing() {
  echo "1..$_tap_n"
  [ "$_tap_failed" -eq 0 ]
}
