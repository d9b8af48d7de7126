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
