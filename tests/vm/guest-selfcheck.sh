#!/usr/bin/env bash
# Runs inside the test guest (tests/vm/run-in-guest): proves the guest is what
# the cgroup v2 tests need (its own kernel, cgroup2 as the only hierarchy, the
# resource controllers available) and that those controllers enforce, using
# nothing but the kernel and coreutils: a process over memory.max is
# OOM-killed, a fork past pids.max fails, a CPU spin under cpu.max is
# throttled, cgroup.freeze and cgroup.kill work.
set -uo pipefail
. "${WARREN_SRC:?}/tests/lib/tap.sh"

# The kernel is the guest's, not the host's (vm-test passes the host's).
kernel=$(uname -r)
ok "runs its own kernel ($kernel), not the host's (${WARREN_HOST_KERNEL:-unknown})" \
  test -n "${WARREN_HOST_KERNEL:-}" -a "$kernel" != "${WARREN_HOST_KERNEL:-}"

cg_mounts=$(awk '$3 ~ /^cgroup/ { print $3, $2 }' /proc/self/mounts)
is "the only cgroup mount is cgroup2 at /sys/fs/cgroup" "$cg_mounts" "cgroup2 /sys/fs/cgroup"

scratch=$(mktemp -d)
fails "a cgroup v1 hierarchy cannot be mounted (cgroup_no_v1=all)" \
  mount -t cgroup -o memory cgroup "$scratch"
umount "$scratch" 2>/dev/null
rmdir "$scratch"

controllers=" $(cat /sys/fs/cgroup/cgroup.controllers) "
for c in memory cpu pids io; do
  like "controller $c is available" "$controllers" " $c "
done

root=/sys/fs/cgroup/selfcheck-$$
mkdir "$root"
# Children get the controllers (the guest's init enabled them at the root).
echo "+memory +pids +cpu" > "$root/cgroup.subtree_control"
cleanup() {
  [ -d "$root" ] || return 0
  echo 1 > "$root/cgroup.kill" 2>/dev/null
  sleep 0.2
  find "$root" -depth -type d -exec rmdir {} \; 2>/dev/null
}
trap cleanup EXIT

# in_cgroup DIR CMD...: runs CMD as a member of DIR; its status is ours.
in_cgroup() {
  local dir=$1; shift
  (echo "$BASHPID" > "$dir/cgroup.procs" && exec "$@")
}

# memory.max: 32 MiB without swap. dd's 64 MiB buffer, filled from
# /dev/zero, cannot fit: the kernel's OOM killer ends it with SIGKILL. The
# same dd with an 8 MiB buffer passes, so the limit is what kills.
mem=$root/mem
mkdir "$mem"
echo 32M > "$mem/memory.max"
echo 0 > "$mem/memory.swap.max" 2>/dev/null
is "memory.max reads back" "$(cat "$mem/memory.max")" "33554432"
in_cgroup "$mem" dd if=/dev/zero of=/dev/null bs=8M count=2 status=none
is "a process under memory.max runs" "$?" 0
in_cgroup "$mem" dd if=/dev/zero of=/dev/null bs=64M count=1 status=none 2>/dev/null
is "a process over memory.max is killed by SIGKILL (status 137)" "$?" 137
oom_kills=$(awk '$1 == "oom_kill" { print $2 }' "$mem/memory.events")
like "memory.events counts the OOM kill" "$oom_kills" "^[1-9]"
peak=$(cat "$mem/memory.peak" 2>/dev/null || echo 0)
ok "memory.peak ($peak) never passed memory.max" test "$peak" -le 33554432

# pids.max: 4 processes, the shell included; dash (sh) reports the failed
# fork at once where bash would retry it for half a minute. The sleeps must
# not hold the output pipe open, or $(...) waits for them.
pids=$root/pids
mkdir "$pids"
echo 4 > "$pids/pids.max"
out=$(in_cgroup "$pids" sh -c 'for i in 1 2 3 4 5 6; do sleep 30 > /dev/null 2>&1 & done; echo all forked' 2>&1)
like "a fork past pids.max fails" "$out" "Cannot fork"
echo 1 > "$pids/cgroup.kill"
events=$(awk '$1 == "max" { print $2 }' "$pids/pids.events")
like "pids.events counts the refusal" "$events" "^[1-9]"

# cpu.max: 10% of a core. A one-second spin is throttled.
cpu=$root/cpu
mkdir "$cpu"
echo "10000 100000" > "$cpu/cpu.max"
is "cpu.max reads back" "$(cat "$cpu/cpu.max")" "10000 100000"
in_cgroup "$cpu" timeout 1 sh -c 'while :; do :; done'
throttled=$(awk '$1 == "nr_throttled" { print $2 }' "$cpu/cpu.stat")
like "cpu.stat counts throttled periods ($throttled)" "$throttled" "^[1-9]"

# io.max on the guest's scratch disk: 4 MiB of direct writes at 1 MiB/s take
# seconds, and longer than the same writes unthrottled.
disk=${WARREN_VM_SCRATCH_DISK:-/dev/vda}
io=$root/io
mkdir "$io"
echo "+io" > "$root/cgroup.subtree_control"
devno=$(cat "/sys/class/block/${disk##*/}/dev" 2>/dev/null)
like "the scratch disk $disk is a block device ($devno)" "$devno" "^[0-9]+:[0-9]+$"
ms() { echo $(( $(date +%s%N) / 1000000 )); }
t0=$(ms)
in_cgroup "$io" dd if=/dev/zero of="$disk" bs=256K count=16 oflag=direct status=none
free_ms=$(( $(ms) - t0 ))
echo "$devno wbps=1048576" > "$io/io.max"
like "io.max reads back" "$(cat "$io/io.max")" "^$devno rbps=max wbps=1048576 "
t0=$(ms)
in_cgroup "$io" dd if=/dev/zero of="$disk" bs=256K count=16 oflag=direct status=none
capped_ms=$(( $(ms) - t0 ))
ok "4 MiB at wbps=1 MiB/s take >= 2.5 s (${capped_ms} ms; unthrottled ${free_ms} ms)" \
  test "$capped_ms" -ge 2500 -a "$capped_ms" -gt "$free_ms"
like "io.stat counts the written bytes" "$(cat "$io/io.stat")" "^$devno .*wbytes=[1-9]"

# cgroup.freeze and cgroup.kill, the controller-less half of the v2 backend.
fr=$root/freeze
mkdir "$fr"
in_cgroup "$fr" sleep 60 &
sleeper=$!
# (kernfs files report size 0: read them, do not test -s)
for _ in $(seq 50); do grep -q . "$fr/cgroup.procs" && break; sleep 0.1; done
echo 1 > "$fr/cgroup.freeze"
for _ in $(seq 50); do grep -q '^frozen 1' "$fr/cgroup.events" && break; sleep 0.1; done
like "cgroup.freeze freezes the group" "$(cat "$fr/cgroup.events")" "frozen 1"
echo 1 > "$fr/cgroup.kill"
wait "$sleeper" 2>/dev/null
is "cgroup.kill ends a frozen group's process with SIGKILL" "$?" 137

done_testing
