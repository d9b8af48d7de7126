# Contained runs (container, strong) have warren's minimal init as pid 1 of
# their pid namespace: it reaps the orphans the command leaves, forwards the
# termination signals sent to it, and the run still ends with the command's
# own exit status (128+N for signal N).
source "$WARREN_SRC/tests/lib/tap.sh"

created=$("$WARREN" user create init-a --json)
name=$(echo "$created" | json 'd["linux_username"]')
home=$(echo "$created" | json 'd["home_dir"]')

# Python never waits for children it did not start: as pid 1 itself it would
# keep the orphaned `sleep` as a zombie. Counts the zombies it can see.
count_zombies='
import glob, time
time.sleep(0.6)
n = 0
for f in glob.glob("/proc/[0-9]*/status"):
    try:
        if "zombie" in open(f).read():
            n += 1
    except OSError:
        pass
print(n)
'

# A static program that reads pid 1's command line as the first thing it
# does: the command's process execs only once the init runs (spawn-command.c),
# so the command never sees pid 1 while it is still an image of the calling
# warren, nor in the middle of its exec. (On one CPU, a command exec'ed as
# soon as the child had cloned it read warren's command line a few times in a
# hundred; gated on the child's exec only, it read an empty one once.)
early="$home/early-cmdline"
printf '%s\n' '#include <fcntl.h>' '#include <unistd.h>' \
  'int main(void) { char b[256]; int fd = open("/proc/1/cmdline", O_RDONLY);' \
  '  ssize_t n = fd < 0 ? 0 : read(fd, b, sizeof b); for (ssize_t i = 0; i < n; i++) if (!b[i]) b[i] = 32;' \
  '  if (n > 0) write(1, b, (size_t)n); return 0; }' >"$early.c"
gcc -static -O2 -o "$early" "$early.c"

for level in container strong; do
  seen=
  cpu=$(taskset -pc $$ | sed 's/.*: *//; s/[-,].*//')
  for _ in $(seq 100); do
    out=$(taskset -c "$cpu" "$WARREN" run --level $level init-a -- "$early" 2>&1) || true
    [ "$out" = "warren-init " ] || seen="$seen [$out]"
  done
  is "$level: 100 commands on one CPU reading /proc/1/cmdline at once all see warren-init" "$seen" ""

  run_warren run --level $level init-a -- /bin/sh -c 'echo $$ $PPID; test -d /proc/1 && echo init'
  is "$level: the command is pid 2, a child of pid 1" "$(echo "$out" | head -1)" "2 1"
  is "$level: pid 1 (the init) is there" "$(echo "$out" | tail -1)" init

  # The init is a fork of the supervising warren: it must not show warren's
  # command line (tenant ids, options), environment or memory to the run.
  run_warren run --level $level init-a -- /bin/sh -c \
    'tr "\0" " " </proc/1/cmdline; echo; cat /proc/1/comm
     if cat /proc/1/environ >/dev/null 2>&1; then echo "environ: $(tr "\0" " " </proc/1/environ | wc -c)"; else echo environ: denied; fi
     if head -c1 /proc/1/mem >/dev/null 2>&1; then echo mem: read; else echo mem: denied; fi'
  is "$level: pid 1's command line is warren-init, not warren's" "$(echo "$out" | sed -n 1p)" "warren-init "
  ok "$level:   no word of the caller's command line in it" \
    test -z "$(echo "$out" | sed -n 1p | grep -e init-a -e run -e "$level")"
  is "$level: pid 1's name is warren-init" "$(echo "$out" | sed -n 2p)" warren-init
  like "$level: pid 1's environment is not readable, or empty" "$(echo "$out" | sed -n 3p)" \
    "^environ: (denied|0)$"
  is "$level: pid 1's memory is not readable" "$(echo "$out" | sed -n 4p)" "mem: denied"
  # What a process of the run reads where the environment lived: nothing of
  # the caller's, even with the environment marker set for this very check.
  out=$(CALLER_SECRET=leak-marker-1 "$WARREN" run --level $level init-a -- /bin/sh -c \
    'cat /proc/1/cmdline /proc/1/environ 2>/dev/null | tr "\0" " "' 2>&1 || true)
  ok "$level: the caller's environment does not reach the run through pid 1" \
    test -z "$(echo "$out" | grep leak-marker-1)"

  # The subshell exits at once, so its `sleep 0.1` is orphaned: reparented to
  # pid 1, which must reap it when it ends.
  run_warren run --level $level init-a -- /bin/sh -c \
    "(sleep 0.1 &); exec python3 -c '$count_zombies'"
  is "$level: an orphaned grandchild is reaped (no zombie left)" "$out" 0
  is "$level: the run exits 0" "$rc" 0

  # None of the fds the init keeps (error and status pipes, seccomp
  # listener) may reach the command. The shell lists its own fds through a
  # forked ls and no pipeline: a shell running `ls | tr` holds the pipe's
  # read end until it has forked tr, and ls may see it.
  run_warren run --level $level init-a -- /bin/sh -c 'ls /proc/$$/fd; :'
  is "$level: the command holds only its stdio, none of the init's fds" \
    "$out" "$(printf '0\n1\n2')"
  # A command that ends at once is reaped and its status reported all the
  # same.
  exits "$level: a command that ends at once still gives its exit code" 1 \
    run --level $level init-a -- /bin/false

  # Commands that end at once, one after another: each is reaped and its
  # run ends (a SIGCHLD the init lost would leave the run waiting for ever).
  n=0
  for _ in $(seq 40); do
    timeout 20 "$WARREN" run --level $level init-a -- /bin/true && n=$((n + 1))
  done
  is "$level: 40 runs of a command that ends at once all end, with 0" "$n" 40

  exits "$level: the command's exit code is the run's, orphans and all" 7 \
    run --level $level init-a -- /bin/sh -c '(sleep 0.1 &); sleep 0.3; exit 7'
  exits "$level: a command killed by signal 9 gives 128+9" 137 \
    run --level $level init-a -- /bin/sh -c 'kill -9 $$'

  # From inside too: a process of the run stops it with `kill 1` (the init is
  # not in the command's Landlock domain, whose signals are not scoped).
  run_warren run --level $level init-a -- /bin/sh -c \
    'trap "echo got TERM; exit 42" TERM; kill -TERM 1; sleep 5 & wait'
  is "$level: SIGTERM from the command to pid 1 comes back to the command" "$out" "got TERM"
  is "  and the run ends with its exit code" "$rc" 42

  # A signal sent to the run (to its pid 1, as wr_run_signal does) reaches
  # the command, which decides what to do with it.
  o=$(mktemp)
  "$WARREN" run --level $level init-a -- /bin/sh -c \
    'trap "echo got TERM; exit 42" TERM; echo ready; while :; do sleep 0.05; done' >"$o" 2>&1 &
  cli=$!
  init=
  for _ in $(seq 100); do
    init=$(pgrep -P $cli | head -1 || true)
    [ -n "$init" ] && grep -q ready "$o" && break
    sleep 0.05
  done
  [ -n "$init" ] && kill -TERM "$init"
  rc=0; wait $cli || rc=$?
  is "$level: SIGTERM to the run's pid 1 reaches the command" "$(grep -c 'got TERM' "$o")" 1
  is "$level: the run ends with the command's exit code after the signal" "$rc" 42
  rm -f "$o"
done

# basic has no pid namespace and no init: the command is the run's process.
run_warren run --level basic init-a -- /bin/sh -c 'echo $PPID'
ok "basic: no init between warren and the command" test "$out" != 1

# The contained runs above shared the tenant's kept root (rootfs.h): one
# entry, gone with the tenant.
kept() { find "$WARREN_STATE_DIR/rootns" -maxdepth 1 -name "$name-*" 2>/dev/null | wc -l; }
is "one kept root for the tenant's contained runs" "$(kept)" 1
"$WARREN" user delete init-a >/dev/null
is "the tenant's delete removes its kept root" "$(kept)" 0
is "  and unmounts it" "$(findmnt -rn -o TARGET | grep -c "/rootns/$name-" || true)" 0

done_testing
