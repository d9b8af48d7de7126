# Noisy neighbours: fd exhaustion in tenant A stops at A's open-files quota;
# B keeps its own (the default) and the host's file table is not exhausted.
source "$WARREN_SRC/tests/lib/tap.sh"
source "$WARREN_SRC/tests/lib/noisy.sh"

hog='import os
fds = []
try:
    while True:
        fds.append(os.open("/dev/null", os.O_RDONLY))
except OSError as e:
    print(len(fds) + 3, e.errno)'
exits "A gets an open-files quota of 64" 0 quota set tenant-a --nofile 64
run_warren run --level basic tenant-a -- python3 -c "$hog"
is "A's run stops at 64 open files with EMFILE (24)" "$out" "64 24"
# Many at once: the quota is per process, the pids quota bounds how many.
exits "A also gets a process quota of 32" 0 quota set tenant-a --pids 32
"$WARREN" run --level basic --timeout 20 tenant-a -- sh -c \
  "for i in \$(seq 20); do python3 -c 'import os,time
fds=[os.open(\"/dev/null\", 0) for _ in range(60)]
time.sleep(20)' & done; wait" >/dev/null 2>&1 &
hogs=$!
ok "A's fd hogs are running" wait_runs tenant-a 1
sleep 1
neighbours_fine "A's fd hogs"
run_warren run --level basic tenant-b -- python3 -c "$hog"
is "B still gets its own 1024 open files" "$out" "1024 24"
read -r used _ max < /proc/sys/fs/file-nr
is "the host's file table is far from full" "$((used < max / 2))" 1
kill -TERM "$hogs"; wait "$hogs" 2>/dev/null
ok "A's hogs are gone" wait_runs tenant-a 0
done_testing
