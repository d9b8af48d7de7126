#!/usr/bin/env bash
# The guest harness itself, seen from the host as a caller sees it: CMD's
# stdout and stderr arrive apart, its exit status is the harness's, it gets
# the caller's environment and directory, the host's files are there but
# nothing written in the guest reaches the host, and a guest that overruns
# its time is stopped with status 124.
set -uo pipefail
. "${WARREN_SRC:?}/tests/lib/tap.sh"
if [ "$(id -u)" -ne 0 ]; then
  echo "1..0 # SKIP the guest runs as root"
  exit 0
fi
rig=$WARREN_SRC/tests/vm/run-in-guest

scratch=$(mktemp -d "${WARREN_BUILD:?}/vm-harness.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
echo "seen from the host" > "$scratch/host-file"
cd "$scratch"

export HARNESS_PROBE="a value with 'quotes' and spaces"
rc=0
"$rig" -- bash -c '
  echo "out: $HARNESS_PROBE"
  echo "cwd: $PWD"
  echo "file: $(cat host-file)"
  echo "kernel: $(uname -r)"
  echo "written in the guest" > guest-file && echo "wrote: yes"
  echo "to stderr" >&2
  exit 7' > "$scratch/out" 2> "$scratch/err" || rc=$?
out=$(cat "$scratch/out")
is "CMD's exit status is the harness's" "$rc" 7
like "CMD gets the caller's environment" "$out" "out: a value with 'quotes' and spaces"
like "CMD starts in the caller's directory" "$out" "cwd: $scratch"
like "the host's files are visible at their paths" "$out" "file: seen from the host"
like "CMD runs on the guest's kernel" "$out" "kernel: [0-9]"
ok "... which is not the host's" test "$(sed -n 's/^kernel: //p' "$scratch/out")" != "$(uname -r)"
like "the guest can write where the host's files are" "$out" "wrote: yes"
ok "nothing written in the guest reaches the host" test ! -e "$scratch/guest-file"
is "CMD's stderr arrives on stderr only" "$(grep -c 'to stderr' "$scratch/err")/$(grep -c 'to stderr' "$scratch/out")" "1/0"

rc=0
start=$SECONDS
"$rig" --timeout 2 -- sleep 600 > /dev/null 2>&1 || rc=$?
is "a guest past its --timeout is stopped: status 124" "$rc" 124
ok "... within seconds ($((SECONDS - start)) s)" test $((SECONDS - start)) -lt 30

rc=0
"$rig" --timeout x -- true 2> "$scratch/err" || rc=$?
is "a bad --timeout is refused with usage status 2" "$rc" 2
like "... naming the value" "$(cat "$scratch/err")" "--timeout: 'x'"

done_testing
