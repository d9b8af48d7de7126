# The guest's kernel and initramfs, for tests/vm/run-in-guest (sourced, bash).
#
# guest_kernel_prepare CACHE INIT: makes sure CACHE holds the kernel of
# Debian's linux-image-amd64 (downloaded with `apt-get download`, unpacked with
# dpkg-deb: nothing is installed on the host) and an initramfs made of INIT, a
# static busybox and the few modules the guest needs before its root exists.
# Sets GUEST_VMLINUX and GUEST_INITRAMFS. A cached kernel is used as it is, so
# runs need no network; the initramfs is rebuilt when INIT or busybox change.

# Modules the guest loads, in this order after their dependencies: the virtio
# PCI transport, 9p over virtio (the host's root and the run directory),
# overlayfs (the writable root), virtio-serial (CMD's output), virtio-blk (a
# scratch disk, the block device io.max needs).
GUEST_MODULES="virtio_pci 9pnet_virtio 9p overlay virtio_console virtio_blk"
# Where those and their dependencies live in the package.
GUEST_MODULE_DIRS="kernel/drivers/virtio kernel/drivers/char/virtio_console.ko
  kernel/drivers/block/virtio_blk.ko
  kernel/net/9p kernel/fs/9p kernel/fs/netfs kernel/fs/fscache kernel/fs/overlayfs"

_gk_say() { echo "run-in-guest: $*" >&2; }

# The versioned package linux-image-amd64 points at (a Debian meta package).
_gk_package() {
  local p
  p=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
  if [ -z "$p" ]; then
    apt-get update -qq >&2 || return 1
    p=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
  fi
  [ -n "$p" ] || { _gk_say "apt knows no linux-image-amd64 package"; return 1; }
  echo "$p"
}

# _gk_fetch CACHE: downloads the kernel package and unpacks vmlinuz and the
# module directories into CACHE/kernel.
_gk_fetch() {
  local cache=$1 pkg tmp deb pats=() d
  pkg=$(_gk_package) || return 1
  tmp=$(mktemp -d "$cache/fetch.XXXXXX")
  # apt-get download writes into the current directory; a list that is out
  # of date names a file the mirror no longer has, so refresh once and retry.
  if ! (cd "$tmp" && apt-get download -qq "$pkg" 2>/dev/null); then
    apt-get update -qq >&2
    (cd "$tmp" && apt-get download -qq "$pkg") || { _gk_say "cannot download $pkg"; rm -rf "$tmp"; return 1; }
  fi
  deb=$(ls "$tmp"/*.deb)
  pats=('./boot/vmlinuz-*')
  for d in $GUEST_MODULE_DIRS; do pats+=("./lib/modules/*/$d"); done
  mkdir "$tmp/x"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp/x" --wildcards "${pats[@]}" \
    || { _gk_say "cannot unpack $deb"; rm -rf "$tmp"; return 1; }
  rm -rf "$cache/kernel"
  mkdir "$cache/kernel"
  _gk_vmlinux "$tmp"/x/boot/vmlinuz-* "$cache/kernel/vmlinux" \
    || { _gk_say "cannot find the kernel inside $(basename "$tmp"/x/boot/vmlinuz-*)"; rm -rf "$tmp"; return 1; }
  mv "$tmp"/x/lib/modules/* "$cache/kernel/modules"
  echo "$pkg" > "$cache/kernel/package"
  echo "$GUEST_MODULE_DIRS" > "$cache/kernel/modules-list"
  rm -rf "$tmp"
}

# _gk_vmlinux BZIMAGE OUT: the uncompressed kernel (an ELF file) from inside
# Debian's xz-compressed bzImage. qemu boots it through its PVH entry point,
# which saves the guest from decompressing 60 MB without hardware
# virtualization: seconds per boot.
_gk_vmlinux() {
  local off
  off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$1" | head -n 1 | cut -d: -f1)
  [ -n "$off" ] || return 1
  tail -c "+$((off + 1))" "$1" | xz -dc --single-stream > "$2.tmp" 2>/dev/null || true
  [ "$(head -c 4 "$2.tmp" | od -An -c | tr -d ' ')" = '177ELF' ] || { rm -f "$2.tmp"; return 1; }
  mv "$2.tmp" "$2"
}

# _gk_order DIR MODULE...: prints each module after the modules it depends
# on (read from the .ko files themselves: the package has no modules.dep).
_gk_order() {
  local dir=$1; shift
  declare -A path=() seen=()
  local f n order=()
  while IFS= read -r f; do
    n=$(basename "$f" .ko)
    path[$n]=$f
    path[${n//-/_}]=$f
  done < <(find "$dir" -name '*.ko')
  visit() {
    local m=$1 dep
    m=${m//-/_}
    [ -n "${seen[$m]:-}" ] && return 0
    [ -n "${path[$m]:-}" ] || { _gk_say "module $m is not in the kernel package's expected directories"; return 1; }
    seen[$m]=1
    for dep in $(modinfo -F depends "${path[$m]}" | tr ',' ' '); do
      visit "$dep" || return 1
    done
    order+=("$m")
  }
  for n in "$@"; do visit "$n" || return 1; done
  for n in "${order[@]}"; do echo "$n ${path[$n]}"; done
}

# _gk_initramfs CACHE INIT: CACHE/initramfs.cpio (newc, uncompressed: the
# kernel unpacks it faster than it would decompress it).
_gk_initramfs() {
  local cache=$1 init=$2 tmp m f
  tmp=$(mktemp -d "$cache/initramfs.XXXXXX")
  mkdir -p "$tmp/bin" "$tmp/mod" "$tmp/proc" "$tmp/sys" "$tmp/dev" "$tmp/tmp"
  cp /bin/busybox "$tmp/bin/busybox"
  cp "$init" "$tmp/init"
  chmod 0755 "$tmp/init"
  _gk_order "$cache/kernel/modules" $GUEST_MODULES > "$tmp/order.tmp" || { rm -rf "$tmp"; return 1; }
  while read -r m f; do
    cp "$f" "$tmp/mod/$m.ko"
    echo "$m" >> "$tmp/mod/order"
  done < "$tmp/order.tmp"
  rm "$tmp/order.tmp"
  (cd "$tmp" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$cache/initramfs.cpio.tmp" \
    || { rm -rf "$tmp"; return 1; }
  mv "$cache/initramfs.cpio.tmp" "$cache/initramfs.cpio"
  rm -rf "$tmp"
}

# guest_kernel_stale CACHE INIT: true when guest_kernel_prepare has work to do.
guest_kernel_stale() {
  local cache=$1 init=$2
  [ ! -s "$cache/kernel/vmlinux" ] || [ ! -s "$cache/kernel/modules-list" ] \
    || [ "$(cat "$cache/kernel/modules-list")" != "$GUEST_MODULE_DIRS" ] \
    || [ ! -s "$cache/initramfs.cpio" ] || [ "$init" -nt "$cache/initramfs.cpio" ] \
    || [ /bin/busybox -nt "$cache/initramfs.cpio" ] || [ "${BASH_SOURCE[0]}" -nt "$cache/initramfs.cpio" ]
}

guest_kernel_prepare() {
  local cache=$1 init=$2
  if [ ! -s "$cache/kernel/vmlinux" ] || [ ! -s "$cache/kernel/modules-list" ] \
     || [ "$(cat "$cache/kernel/modules-list")" != "$GUEST_MODULE_DIRS" ]; then
    _gk_say "fetching the guest kernel into $cache"
    _gk_fetch "$cache" || return 1
    rm -f "$cache/initramfs.cpio"
  fi
  if guest_kernel_stale "$cache" "$init"; then
    [ -x /bin/busybox ] || { _gk_say "busybox is missing (tools/install-deps)"; return 1; }
    _gk_initramfs "$cache" "$init" || return 1
  fi
  guest_kernel_paths "$cache"
}

# guest_kernel_paths CACHE: sets GUEST_VMLINUX and GUEST_INITRAMFS.
guest_kernel_paths() {
  GUEST_VMLINUX=$1/kernel/vmlinux
  GUEST_INITRAMFS=$1/initramfs.cpio
}
