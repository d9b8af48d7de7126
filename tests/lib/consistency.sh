# consistency: one TAP check per property of tests/lib/check-consistency.py,
# after `warren user list --json`. Sourced after tap.sh; needs $prefix. Sets
# $ntenants to the number of tenants the registry lists.
consistency() {
  local list=$TEST_TMP/list.json checks=$TEST_TMP/checks name probs prc
  "$WARREN" user list --json >"$list" 2>"$TEST_TMP/list.err"
  is "user list --json succeeds" "$?" 0
  python3 "$WARREN_SRC/tests/lib/check-consistency.py" "$list" "$prefix" "$WARREN_USERS_BASE" >"$checks" 2>&1
  prc=$?
  is "the consistency checker ran" "$prc" 0
  if [ "$prc" != 0 ]; then
    sed 's/^/#   /' "$checks"
    return
  fi
  while IFS=$'\t' read -r name probs; do
    case $name in
    tenants) ntenants=$probs ;;
    *) is "$name" "${probs:-}" "" ;;
    esac
  done <"$checks"
}

# pwck and grpck, read-only: errors (torn or duplicate lines, entries missing
# from shadow or gshadow) make them exit 2; -q leaves out warnings about host
# accounts (homes of system users missing here). Without -q they would also
# warn about a warren account whose group or home is missing: none may appear.
account_tools() {
  local o r
  o=$(pwck -r -q 2>&1); r=$?
  is "pwck -r -q finds no error" "$r:$(head -6 <<<"$o")" "0:"
  o=$(grpck -r -q 2>&1); r=$?
  is "grpck -r -q finds no error" "$r:$(head -6 <<<"$o")" "0:"
  is "pwck -r has no warning about a warren account" "$(pwck -r 2>&1 | grep -- "$prefix")" ""
  is "grpck -r has no warning about a warren group" "$(grpck -r 2>&1 | grep -- "$prefix")" ""
}
