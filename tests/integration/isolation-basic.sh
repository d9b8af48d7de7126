# What a run at --level basic is, checked from inside by warren-probe
# (tests/probe): the basic row of the isolation levels in DESIGN.md, the
# process tree's end, exit statuses and the working directory's refusals.
# docs/ISOLATION.md describes the levels; this file asserts the basic one.
source "$WARREN_SRC/tests/lib/tap.sh"
PROBE=${WARREN_PROBE:?WARREN_PROBE must name the warren-probe binary}

# The caller's environment and umask must not reach the run.
export WARREN_ADMIN_TOKEN=secret AWS_SECRET=x TERM=xterm-warren-test
umask 022

out=$("$WARREN" user create alice --json)
name=$(echo "$out" | json 'd["linux_username"]')
uid=$(echo "$out" | json 'd["linux_uid"]')
gid=$(echo "$out" | json 'd["linux_gid"]')
home=$(echo "$out" | json 'd["home_dir"]')
sbx=$("$WARREN" sandbox path alice probe)
# The probe lives in the sandbox, owned by the tenant: higher levels will not
# see the build directory.
install -o "$uid" -g "$gid" -m 0755 "$PROBE" "$sbx/warren-probe"

cg_mount=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)

# probe ARGS...: runs the probe at basic in the sandbox; the report is in
# $report, warren's exit code in $rc.
probe() {
  run_warren run --level basic alice --service probe "$@" -- ./warren-probe
  report=$out
}
# q EXPR: EXPR over the report `d` (python).
q() { printf '%s' "$report" | json "$1"; }

probe
is "the probe runs at basic" "$rc" 0
[ "$rc" = 0 ] || echo "# stderr: $err"

# Identity.
is "uid: the tenant's, real, effective and saved" "$(q '[d["uid"][k] for k in ("real","effective","saved")]')" "[$uid, $uid, $uid]"
is "gid: the tenant's, real, effective and saved" "$(q '[d["gid"][k] for k in ("real","effective","saved")]')" "[$gid, $gid, $gid]"
is "no supplementary groups (none, or only its own gid)" "$(q "set(d['groups']) <= {$gid}")" True
report=$(setpriv --groups 0,4 -- "$WARREN" run --level basic alice --service probe -- ./warren-probe)
is "  not even when warren's caller has groups 0 and 4" "$(q "set(d['groups']) <= {$gid}")" True

# Session, privileges, limits.
is "new session: sid == pid" "$(q 'd["sid"] == d["pid"]')" True
is "own process group: pgid == pid" "$(q 'd["pgid"] == d["pid"]')" True
is "no controlling terminal without --tty" "$(q 'd["controlling_tty"]')" False
is "no_new_privs is set" "$(q 'd["no_new_privs"]')" 1
for set in effective permitted ambient inheritable; do
  is "capabilities: $set set empty" "$(q "int(d['caps']['$set'], 16)")" 0
done
is "umask 0077 (the caller's was 0022)" "$(q 'd["umask"]')" 0077
is "core dumps off: RLIMIT_CORE 0/0" "$(q '[d["rlimits"]["core"]["soft"], d["rlimits"]["core"]["hard"]]')" "[0, 0]"
is "RLIMIT_NPROC is finite" "$(q 'd["rlimits"]["nproc"]["hard"] != "unlimited"')" True
is "RLIMIT_NOFILE is finite" "$(q 'd["rlimits"]["nofile"]["hard"] != "unlimited"')" True
is "parent-death signal is SIGKILL" "$(q 'd["parent_death_signal"]')" 9

# Only stdio: warren's own fds (registry, cgroup dirs, error pipe) stay behind.
is "only fds 0, 1, 2 are open" "$(q '[f["fd"] for f in d["fds"]]')" "[0, 1, 2]"

# Environment: the allowlist, nothing of the caller's.
is "environment is exactly the allowlist" "$(q 'sorted(d["env"])')" \
  "['HOME', 'LANG', 'LOGNAME', 'PATH', 'SHELL', 'USER']"
is "  and no variable is set twice" "$(q 'd["env_count"]')" 6
is "  HOME is the home" "$(q 'd["env"]["HOME"]')" "$home"
is "  USER and LOGNAME are the account" "$(q '[d["env"]["USER"], d["env"]["LOGNAME"]]')" "['$name', '$name']"
is "  PATH has no caller's directories" "$(q 'd["env"]["PATH"]')" "/usr/local/bin:/usr/bin:/bin"
is "  the caller's token did not leak" "$(q '"WARREN_ADMIN_TOKEN" in d["env"] or "AWS_SECRET" in d["env"]')" False
is "  the caller's TERM is not passed without --tty" "$(q '"TERM" in d["env"]')" False

probe --env FOO=bar --env EMPTY= --env LANG=C
is "--env adds variables" "$(q 'sorted(d["env"])')" \
  "['EMPTY', 'FOO', 'HOME', 'LANG', 'LOGNAME', 'PATH', 'SHELL', 'USER']"
is "  with their values, replacing an allowlisted one" "$(q '[d["env"]["FOO"], d["env"]["EMPTY"], d["env"]["LANG"]]')" "['bar', '', 'C']"
is "  each once" "$(q 'd["env_count"]')" 8
exits "--env with a bad name is refused" 125 run --level basic alice --env 1X=y -- true
like "  the error names it" "$err" "1X=y"

# A terminal: TERM is passed, the terminal becomes the controlling one.
probe --tty </dev/null
is "--tty: the probe runs" "$rc" 0
is "--tty: TERM is added, from the caller" "$(q 'd["env"].get("TERM")')" xterm-warren-test
is "--tty: the allowlist plus TERM" "$(q 'sorted(d["env"])')" \
  "['HOME', 'LANG', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER']"
is "--tty: a controlling terminal" "$(q 'd["controlling_tty"]')" True
is "--tty: stdio is one pty, nothing else open" \
  "$(q 'len(d["fds"]) == 3 and len({f["target"] for f in d["fds"]}) == 1 and d["fds"][0]["target"].startswith("/dev/pts/")')" True

# Working directory.
probe
is "--service: cwd is the sandbox" "$(q 'd["cwd"]')" "$sbx"
run_warren run --level basic alice -- "$sbx/warren-probe"; report=$out
is "no --service, no --cwd: cwd is the home" "$(q 'd["cwd"]')" "$home"
run_warren run --level basic alice --cwd sandboxes/probe -- ./warren-probe; report=$out
is "--cwd relative to the home" "$(q 'd["cwd"]')" "$sbx"
run_warren run --level basic alice --cwd "$sbx" -- ./warren-probe; report=$out
is "--cwd absolute inside the home" "$(q 'd["cwd"]')" "$sbx"

# The run's cgroup: under warren's, named after the tenant and the run.
cgline=$(q '[l for l in d["cgroup"] if l.startswith("0::")][0]')
like "the run is in the tenant's cgroup: .../warren/<account>/run-<id>" "$cgline" "^0::(/.*)?/warren/$name/run-[0-9]+-[0-9a-f]+\$"

# ... and the cgroup is gone once the run ended. While a run sleeps, its
# cgroup directory is found under the cgroup2 mount (which proves the search
# would see one left behind).
runcg() { # the directories of the tenant's run cgroups
  [ -n "$cg_mount" ] && find "$cg_mount" -type d -path "*/warren/$name/run-*" 2>/dev/null
}
"$WARREN" run --level basic alice --service probe -- ./warren-probe --sleep 3 >"$TEST_TMP/sleeper.json" &
sleeper=$!
for _ in $(seq 50); do [ -s "$TEST_TMP/sleeper.json" ] && break; sleep 0.1; done
report=$(cat "$TEST_TMP/sleeper.json")
run_cg=$(q '[l for l in d["cgroup"] if l.startswith("0::")][0].rsplit("/", 1)[1]')
like "  while it runs, its cgroup exists" "$(runcg)" "/warren/$name/$run_cg\$"
wait $sleeper
is "  once it ended, no run cgroup is left" "$(runcg)" ""

# Exit statuses: the program's, 128+N for a signal, 127 when not found.
exits "exit 7 is passed through" 7 run --level basic alice --shell 'exit 7'
exits "kill -9 of itself gives 137" 137 run --level basic alice --shell 'kill -9 $$'
exits "a command not in PATH gives 127" 127 run --level basic alice -- no-such-command-xyz
like "  with a message naming it" "$err" "no-such-command-xyz"
exits "a missing path gives 127" 127 run --level basic alice --service probe -- ./no-such-file
like "  with a message naming it" "$err" "no-such-file"
install -o "$uid" -g "$gid" -m 0644 /dev/null "$sbx/not-executable"
exits "a file that is not executable gives 126" 126 run --level basic alice --service probe -- ./not-executable
like "  with a message naming it" "$err" "not-executable"

# warren with a lower hard RLIMIT_NOFILE than a run's (4096) and without
# CAP_SYS_RESOURCE cannot raise it: the run's limit is clamped to warren's own,
# and the run starts.
rc=0
report=$( (ulimit -n 1000; "$WARREN" run --level basic alice --service probe -- ./warren-probe) 2>/dev/null) || rc=$?
is "a low hard RLIMIT_NOFILE in warren does not fail the run" "$rc" 0
is "  the run's limit is clamped to it" "$(q 'd["rlimits"]["nofile"]["hard"]')" 1000
# A setup failure (125 and the step) cannot be caused from outside any more:
# every step between clone and exec depends on warren alone.
echo "ok $((++_tap_n)) - setup failure gives 125 and names the step # SKIP no step between clone and exec can be made to fail from outside"

# --timeout ends the whole tree: the program and a grandchild that made its
# own session and was re-parented (a daemon).
rm -f "$sbx/gc.pid"
start=$(date +%s.%N)
# (An outer timeout, so that a --timeout that does nothing fails here
# instead of hanging the suite.)
rc=0
err=$(timeout 60 "$WARREN" run --level basic --timeout 1 alice --service probe \
  --shell '( setsid sh -c "echo \$\$ > gc.pid; exec sleep 300" </dev/null >/dev/null 2>&1 & ); exec sleep 300' 2>&1 >/dev/null) || rc=$?
is "--timeout 1 ends a run that would sleep 300 s (SIGKILL: 137)" "$rc" 137
elapsed=$(python3 -c "import time; print(round(time.time() - $start))")
ok "  within a few seconds (took ${elapsed}s)" test "$elapsed" -lt 10
like "  warren says it timed out" "$err" "timed out"
gc=$(cat "$sbx/gc.pid" 2>/dev/null)
like "  the daemonised grandchild had started" "$gc" '^[0-9]+$'
gone() { # PID: no such process, or only a zombie left for its new parent to reap
  [ ! -e "/proc/$1" ] || [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ]
}
ok "  the grandchild (pid $gc) is gone" gone "$gc"
is "  no run cgroup is left" "$(runcg)" ""

# Without a timeout the same holds when the program exits: what it left
# running ends with the run.
rm -f "$sbx/gc.pid"
exits "a run that leaves a daemon behind exits 0" 0 run --level basic alice --service probe \
  --shell '( setsid sh -c "echo \$\$ > gc.pid; exec sleep 300" </dev/null >/dev/null 2>&1 & ); while [ ! -s gc.pid ]; do sleep 0.05; done'
gc=$(cat "$sbx/gc.pid" 2>/dev/null)
like "  the daemon had started" "$gc" '^[0-9]+$'
ok "  the daemon (pid $gc) is gone after the run" gone "$gc"

# The control for `gone`: a process outside any run is seen as alive.
sleep 30 &
ctl=$!
fails "  (control: a live process is not 'gone')" gone "$ctl"
kill "$ctl"; wait "$ctl" 2>/dev/null

# Parent-death signal: when warren itself is killed, the program dies with
# it. (Only the program: a grandchild that daemonised outlives a killed
# warren, and its run cgroup stays behind; see docs/ISOLATION.md.)
rm -f "$sbx/main.pid"
"$WARREN" run --level basic alice --service probe --shell 'echo $$ > main.pid; exec sleep 300' &
w=$!
for _ in $(seq 50); do [ -s "$sbx/main.pid" ] && break; sleep 0.1; done
main=$(cat "$sbx/main.pid" 2>/dev/null)
like "warren killed with SIGKILL: the program had started" "$main" '^[0-9]+$'
fails "  (control: it is alive while warren is)" gone "$main"
kill -9 "$w"; wait "$w" 2>/dev/null
for _ in $(seq 20); do gone "$main" && break; sleep 0.1; done
ok "  the program (pid $main) died with warren" gone "$main"

# --cwd refusals: outside the home, through a link the tenant planted.
marker=$sbx/ran
check_refused() { # DESCRIPTION CODE CWD
  rm -f "$marker"
  exits "$1" "$2" run --level basic alice --cwd "$3" --shell "touch $marker"
  like "  the error names the directory" "$err" "working directory"
  ok "  nothing ran" test ! -e "$marker"
}
check_refused "--cwd /etc (outside the home) is refused" 125 /etc
check_refused "--cwd <home>/.. is refused" 125 "$home/.."
check_refused "--cwd ../ (relative, out of the home) is refused" 125 ..
check_refused "--cwd <home>x (a sibling with the home as prefix) is refused" 125 "${home}x"
check_refused "--cwd that does not exist is refused" 125 sandboxes/nope
setpriv --reuid "$uid" --regid "$gid" --clear-groups ln -s /etc "$home/etc-link"
check_refused "--cwd through a tenant's link to /etc is refused" 125 etc-link
setpriv --reuid "$uid" --regid "$gid" --clear-groups ln -s sandboxes/probe "$home/probe-link"
check_refused "--cwd through a tenant's link inside the home is refused too" 125 probe-link
check_refused "--cwd with a link in the middle is refused" 125 "$home/etc-link/ssl"
rm -f "$marker"
exits "--service with .. is refused" 125 run --level basic alice --service ../x --shell "touch $marker"
ok "  nothing ran" test ! -e "$marker"
rm -f "$marker"
exits "  (control: the same command in a good --cwd runs)" 0 run --level basic alice --cwd sandboxes/probe --shell "touch $marker"
ok "  (control: and leaves its marker)" test -e "$marker"

done_testing
