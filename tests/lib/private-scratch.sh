# Gives the test (sourced, bash, inside ns-run's private mount namespace) its
# own empty /tmp, /var/tmp, /dev/shm, /run/lock and /dev/mqueue, so a delete
# that sweeps them (docs/ACCOUNTS.md) sweeps the test's copies and never the
# host's, where the test's UIDs (60001 and up) may be real tenants'. ns-inner
# does this for every test.
#
# /tmp is the delicate one: ns-run's scratch tmpfs ($TEST_TMP, holding the
# state directory and users base) is mounted on a directory in /tmp. The new
# /tmp gets a directory of the same name with that tmpfs bound onto it, so the
# paths stay valid; it is a mount of its own, which the sweep must not enter.
# So is each directory in /tmp the environment names (a build directory).
private_scratch() {
  # Once per test: ns-inner does it for every test; a test may ask again.
  [ -n "${WARREN_TEST_PRIVATE_SCRATCH:-}" ] && return 0
  local name new
  name=$(basename "$TEST_TMP")
  new=$TEST_TMP/.new-tmp
  mkdir "$new"
  mount -t tmpfs -o mode=1777,size=1g tmpfs "$new"
  mkdir -m 0755 "$new/$name"
  mount --bind "$TEST_TMP" "$new/$name"
  # Whatever the environment names in /tmp (the build directory of the warren
  # under test, say) stays reachable too.
  local p top
  for p in $(env | sed -n 's|^[A-Za-z_][A-Za-z0-9_]*=\(/tmp/[^:]*\).*|\1|p'); do
    case $p in /tmp/?*) ;; *) continue ;; esac
    top=${p#/tmp/}; top=${top%%/*}
    if [ -e "$new/$top" ]; then continue; fi
    if [ -d "/tmp/$top" ]; then mkdir "$new/$top"
    elif [ -e "/tmp/$top" ]; then : >"$new/$top"
    else continue; fi
    mount --bind "/tmp/$top" "$new/$top"
  done
  mount --move "$new" /tmp
  mount -t tmpfs -o mode=1777,size=1g tmpfs /var/tmp
  mount -t tmpfs -o mode=1777,size=1g,nosuid,nodev tmpfs /dev/shm
  if [ -d /run/lock ]; then mount -t tmpfs -o mode=1777,size=4m tmpfs /run/lock; fi
  # ns-run's IPC namespace is the test's own; so is a fresh mqueue mount.
  if [ -d /dev/mqueue ]; then mount -t mqueue mqueue /dev/mqueue 2>/dev/null || true; fi
  export WARREN_TEST_PRIVATE_SCRATCH=1
  _private_scratch_mine=1
  trap private_scratch_undo EXIT
}

# ns-inner removes its (host-side) mount point when the test ends: give it back
# the original /tmp first.
private_scratch_undo() {
  [ -n "${_private_scratch_mine:-}" ] || return 0
  _private_scratch_mine=
  umount -l /tmp 2>/dev/null || true
}
