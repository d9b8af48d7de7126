# Sourced by tests/lib/ns-run and bench/run-all: on a hybrid host the resource
# controllers warren uses (memory, cpu, cpuacct, pids, cpuset) live in cgroup
# v1 hierarchies. v1_groups_make NAME makes a group NAME below this shell's
# own in each, and sets v1_cgs (their paths) and v1_mounts ("mount:controllers
# ..." for the inner side to mount each anew in its cgroup namespace).
v1_groups_make() {
  local name=$1 mnt fstype opts ctrls own_v1 cg f
  local known='memory|cpu|cpuacct|pids|cpuset'
  v1_cgs=()
  v1_mounts=
  while read -r _ mnt fstype opts _; do
    [ "$fstype" = cgroup ] || continue
    ctrls=$(tr ',' '\n' <<<"$opts" | grep -xE "$known" | paste -sd, -) || true
    [ -n "$ctrls" ] || continue
    own_v1=$(awk -F: -v c="$ctrls" -v k="^($known)\$" '{ n = split($2, a, ","); m = ""; for (i = 1; i <= n; i++) if (a[i] ~ k) m = m (m ? "," : "") a[i]; if (m == c) { print $3; exit } }' /proc/self/cgroup)
    [ -n "$own_v1" ] && [ -d "$mnt$own_v1" ] || continue
    cg="$mnt${own_v1%/}/$name"
    mkdir "$cg" 2>/dev/null || continue
    # A v1 cpuset group is born with no CPUs and no memory nodes: it takes
    # its parent's, or nothing could join it.
    if [ -f "$cg/cpuset.cpus" ]; then
      for f in cpuset.cpus cpuset.mems; do cat "$cg/../$f" > "$cg/$f"; done
    fi
    v1_cgs+=("$cg")
    v1_mounts+="$mnt:$ctrls "
  done < /proc/self/mounts
}
