# Noisy neighbours: a disk fill in tenant A meets A's storage quota (a btrfs
# qgroup limit the kernel enforces) while B can still write and run. The
# filesystem is a loop-mounted btrfs image inside ns-run's mount namespace.
source "$WARREN_SRC/tests/lib/tap.sh"
if ! command -v mkfs.btrfs >/dev/null || ! grep -qw btrfs /proc/filesystems; then
  ok "disk fill # SKIP mkfs.btrfs or the btrfs filesystem is missing" true
  done_testing
  exit 0
fi
img=$TEST_TMP/btrfs.img
mnt=$TEST_TMP/btrfs
truncate -s 512M "$img"
mkfs.btrfs -q "$img" >/dev/null
mkdir "$mnt"
mount -o loop "$img" "$mnt"
trap 'umount -l "$mnt" 2>/dev/null' EXIT
export WARREN_USERS_BASE=$mnt/users WARREN_STORAGE=btrfs
source "$WARREN_SRC/tests/lib/noisy.sh"

exits "A gets a storage quota of 32M" 0 quota set tenant-a --storage 32M
run_warren run --level basic --timeout 60 tenant-a -- \
  sh -c 'dd if=/dev/zero of=fill bs=1M count=400 conv=fsync 2>&1; echo "dd exit $?"'
like "A's disk fill is stopped by the kernel (quota exceeded)" "$out" "Disk quota exceeded"
like "  and dd fails" "$out" "dd exit 1"
neighbours_fine "A's full disk"
run_warren run --level basic tenant-b -- sh -c 'dd if=/dev/zero of=mine bs=1M count=64 conv=fsync 2>/dev/null && echo wrote'
is "B can still write 64M (more than A's whole quota)" "$rc:$out" "0:wrote"
sync; btrfs filesystem sync "$mnt" >/dev/null 2>&1 || true
is "A's storage use reported at most its quota" "$(stats_a 'd["storage"]["bytes"] <= 33554432 + (1 << 20)')" True
echo "# A uses $(stats_a "d[\"storage\"][\"bytes\"]") bytes of 33554432"
is "A's health says over-quota" "$(stats_a 'd["health"]')" over-quota
done_testing
