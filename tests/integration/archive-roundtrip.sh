# Export on one warren, import on another (its own state directory, users
# base and UID range): every file byte-identical, modes, symlinks, mtimes and
# hard links kept, all owned by the new account. Also: .tar.gz by name,
# streaming through a pipe, --force, no partial file on failure, a pactown
# archive made the way pactown makes it, and the progress bar on a terminal.
source "$WARREN_SRC/tests/lib/tap.sh"
tree() { python3 "$WARREN_SRC/tests/lib/archive-tree.py" "$@"; }
as_tenant() { local u=$1; shift; setpriv --reuid "$u" --regid "$u" --clear-groups "$@"; }
# The second warren: another host.
WB=$TEST_TMP/warren-b
printf '#!/bin/sh\nexport WARREN_STATE_DIR=%s/state-b WARREN_USERS_BASE=%s/users-b WARREN_UID_RANGE=70001-70999\nexec %s "$@"\n' \
  "$TEST_TMP" "$TEST_TMP" "$WARREN" > "$WB"
chmod +x "$WB"
on_b() { local WARREN=$WB; "$@"; }
out=$("$WARREN" user create alice --json)
ha=$(echo "$out" | json 'd["home_dir"]'); ua=$(echo "$out" | json 'd["linux_uid"]')

# A home with everything a home holds.
as_tenant "$ua" bash -c "
  set -e; cd '$ha'
  mkdir -p sandboxes/my-api/src sandboxes/web/static .cache/pip 'sandboxes/ünïcødé dir'
  printf 'print(1)\n' > sandboxes/my-api/main.py
  head -c 3000000 /dev/urandom > sandboxes/my-api/data.bin
  : > sandboxes/my-api/empty
  printf x > 'sandboxes/ünïcødé dir/naïve.txt'
  printf y > \$'sandboxes/web/ctl\x01name'
  printf z > \$'sandboxes/web/bad\xff\xfeutf8'
  printf '#!/bin/sh\n' > sandboxes/my-api/run.sh; chmod 0755 sandboxes/my-api/run.sh
  chmod 0640 sandboxes/my-api/main.py; chmod 0750 sandboxes/web/static
  ln -s ../my-api/main.py sandboxes/web/rel-link
  ln -s /usr/bin/python3 sandboxes/web/abs-link
  ln -s missing-target sandboxes/web/dangling
  ln sandboxes/my-api/data.bin sandboxes/web/data-hardlink
  ln sandboxes/my-api/data.bin .cache/pip/another-link
  mkdir -p deep/a/b/c/d/e/f/g/h && echo deep > deep/a/b/c/d/e/f/g/h/leaf
  touch -h -d '2021-03-04 05:06:07.123456789' sandboxes/web/rel-link sandboxes/my-api/main.py
  touch -d '2020-01-02 03:04:05.5' sandboxes/web sandboxes/my-api/src
"
before=$(tree "$ha")
"$WARREN" quota set alice --pids 123 --storage 2G >/dev/null

# Export, zstd by default.
exits "export to .tar.zst" 0 export alice "$TEST_TMP/alice.tar.zst"
ok "  it is a zstd archive" bash -c "zstd -t -q '$TEST_TMP/alice.tar.zst'"
is "  the file is 0600" "$(stat -c %a "$TEST_TMP/alice.tar.zst")" 600
members=$(zstd -dc "$TEST_TMP/alice.tar.zst" | tar -tf - 2>/dev/null)
is "  the header is the first member" "$(echo "$members" | head -1)" "warren-header.json"
is "  the manifest is the last" "$(echo "$members" | tail -1)" "warren-manifest.json"
man=$(zstd -dc "$TEST_TMP/alice.tar.zst" | tar -xOf - warren-manifest.json)
is "  the manifest names the tenant" "$(echo "$man" | json 'd["saas_user_id"]')" alice
is "  and its source UID" "$(echo "$man" | json 'd["source_uid"]')" "$ua"
is "  and run.sh's sha256" \
  "$(echo "$man" | json '[f["sha256"] for f in d["files"] if f.get("path")=="sandboxes/my-api/run.sh"][0]')" \
  "$(sha256sum "$ha/sandboxes/my-api/run.sh" | cut -d' ' -f1)"
is "  it carries the tenant's quotas" "$(echo "$man" | json 'd["quotas"]["pids"], d["quotas"]["storage"], d["created_at"] > 0')" "123 2147483648 True"
is "  the export did not change the home" "$(tree "$ha")" "$before"

exits "export refuses to overwrite" 1 export alice "$TEST_TMP/alice.tar.zst"
like "  and says so" "$err" "exists.*--force"
exits "export --force overwrites" 0 export alice "$TEST_TMP/alice.tar.zst" --force
exits "export to .tar.gz" 0 export alice "$TEST_TMP/alice.tar.gz"
ok "  it is gzip, readable by GNU tar" bash -c "tar -tzf '$TEST_TMP/alice.tar.gz' >/dev/null"
"$WARREN" export alice - > "$TEST_TMP/alice-stream.tar.zst" 2>/dev/null
ok "export to stdout streams zstd" bash -c "zstd -t -q '$TEST_TMP/alice-stream.tar.zst'"
exits "export of an unknown tenant" 3 export nobody "$TEST_TMP/nobody.tar.zst"
ok "  leaves no file" test ! -e "$TEST_TMP/nobody.tar.zst"

# A target that fills up midway: no partial file, no temporary left.
mkdir "$TEST_TMP/small" && mount -t tmpfs -o size=1m tmpfs "$TEST_TMP/small"
exits "export into a full filesystem fails" 1 export alice "$TEST_TMP/small/a.tar.zst"
is "  and leaves nothing behind" "$(ls -A "$TEST_TMP/small")" ""
umount "$TEST_TMP/small"

# The progress bar, on a terminal only.
script -qec "$WARREN export alice $TEST_TMP/tty.tar.zst" /dev/null > "$TEST_TMP/tty.out" 2>&1
like "progress bar on a terminal (files, bytes, rate)" "$(tr '\r' '\n' < "$TEST_TMP/tty.out")" "files .*B/s"
run_warren export alice "$TEST_TMP/notty.tar.zst"
is "  and none when stderr is not one" "$err" ""

# Import on the other warren: a new tenant with another UID.
on_b exits "import on another host creates the tenant" 0 import alice "$TEST_TMP/alice.tar.zst" --json
is "  created" "$(echo "$out" | json 'd["created"]')" True
is "  checksums verified" "$(echo "$out" | json 'd["verified"]')" True
hb=$(echo "$out" | json 'd["user"]["home_dir"]'); ub=$(echo "$out" | json 'd["user"]["linux_uid"]')
ok "  with another UID ($ua vs $ub)" test "$ua" != "$ub"
is "  every file, mode, link, mtime and hard link is the same" "$(tree "$hb")" "$before"
is "  everything belongs to the new account" "$(tree "$hb" --owners)" "$ub:$ub"
is "  the home is 0700" "$(stat -c %a "$hb")" 700
ok "  the tenant can read its files" as_tenant "$ub" cat "$hb/sandboxes/my-api/main.py"
is "  no staging directory left" "$(ls -A "$TEST_TMP/users-b" | grep -c '^\.import-')" 0
is "  the tenant's quotas came along" "$("$WB" quota get alice --json | json 'd["own"]["pids"], d["own"]["storage"]')" "123 2147483648"

like "the export is in the audit log" "$("$WARREN" audit --type export)" "export +alice +.*\"frozen\":true"
like "the import is in the other host's" "$("$WB" audit --type import)" "import +alice +.*\"verified\":true"

# The other formats: gzip and a stream on stdin, into other tenants (--from).
on_b exits "a .tar.gz of another tenant is refused" 1 import bob "$TEST_TMP/alice.tar.gz"
like "  naming both tenants" "$err" "alice.*bob"
on_b exits "  imported with --from" 0 import bob "$TEST_TMP/alice.tar.gz" --from alice --json
is "  same tree" "$(tree "$(echo "$out" | json 'd["user"]["home_dir"]')")" "$before"
ok "import from stdin" bash -c "'$WB' import carol - --from alice < '$TEST_TMP/alice-stream.tar.zst'"
hc=$("$WB" user get carol --json | json 'd["home_dir"]')
is "  same tree" "$(tree "$hc")" "$before"

# Into a home with files: only with --replace.
on_b exits "import over a home with files is refused" 1 import alice "$TEST_TMP/alice.tar.gz"
like "  and --replace is named" "$err" "--replace"
as_tenant "$ub" touch "$hb/sandboxes/extra"
on_b exits "import --replace" 0 import alice "$TEST_TMP/alice.tar.gz" --replace
is "  the home is exactly the archive's" "$(tree "$hb")" "$before"

# Planted links: a symlink to /etc/shadow is archived as a link, never read;
# a hard link to a host file (root planted it: the kernel's protected_hardlinks
# stops a tenant) is not the tenant's and stays out.
mkdir -p "$TEST_TMP/srv" && echo "host-secret-$$" > "$TEST_TMP/srv/secret" && chmod 600 "$TEST_TMP/srv/secret"
ln "$TEST_TMP/srv/secret" "$ha/sandboxes/secret-link"
as_tenant "$ua" ln -s /etc/shadow "$ha/sandboxes/shadow-link"
exits "export with planted links" 0 export alice "$TEST_TMP/planted.tar.zst" --json
is "  the host file's hard link was skipped" "$(echo "$out" | json 'd["skipped"]')" 1
ok "  its contents are not in the archive" bash -c "! zstd -dc '$TEST_TMP/planted.tar.zst' | grep -q 'host-secret-$$'"
ok "  nor /etc/shadow's" bash -c "! zstd -dc '$TEST_TMP/planted.tar.zst' | grep -qF \"\$(head -1 /etc/shadow)\""
like "  the symlink is archived as a link" "$(zstd -dc "$TEST_TMP/planted.tar.zst" | tar -tvf - 2>/dev/null | grep shadow-link)" "^l.* -> /etc/shadow"
rm -f "$ha/sandboxes/secret-link" "$ha/sandboxes/shadow-link"

# A home bigger than one job of zstd's worker threads (8 MiB at level 3), and
# than the steps in which an export hands its file to writeback: every job
# lands in the archive, in order, to a file and to a pipe alike.
as_tenant "$ua" bash -c "
  set -e; mkdir '$ha/sandboxes/big'
  head -c 20000000 /dev/urandom > '$ha/sandboxes/big/random.bin'
  for i in \$(seq 200000); do echo \"line \$i of a log that compresses\"; done > '$ha/sandboxes/big/log.txt'
"
big=$(tree "$ha")
exits "export of a home over 25 MB" 0 export alice "$TEST_TMP/big.tar.zst"
ok "  the archive is sound" bash -c "zstd -t -q '$TEST_TMP/big.tar.zst'"
on_b exits "  it imports, checksums verified" 0 import alice-big "$TEST_TMP/big.tar.zst" --from alice --json
is "  the same tree" "$(tree "$(echo "$out" | json 'd["user"]["home_dir"]')")" "$big"
ok "  streamed to a pipe, it imports too" \
  bash -c "'$WARREN' export alice - 2>/dev/null | '$WB' import alice-big2 - --from alice >/dev/null"
is "  the same tree" "$(tree "$("$WB" user get alice-big2 --json | json 'd["home_dir"]')")" "$big"
rm -rf "$ha/sandboxes/big"

# A pactown archive, made as pactown's export_user_data makes it:
# tar -czf OUT -C <users_base> <linux_username>, the home owned by its account.
pt=pactown_$(printf '%s' user123 | sha256sum | cut -c1-8)
mkdir -p "$TEST_TMP/pactown/$pt/sandboxes/my-api" "$TEST_TMP/pactown/$pt/.cache"
printf 'from fastapi import FastAPI\n' > "$TEST_TMP/pactown/$pt/sandboxes/my-api/main.py"
ln -s main.py "$TEST_TMP/pactown/$pt/sandboxes/my-api/app.py"
chmod 0700 "$TEST_TMP/pactown/$pt"
chown -R 60001:60001 "$TEST_TMP/pactown/$pt"
tar -czf "$TEST_TMP/user123.tar.gz" -C "$TEST_TMP/pactown" "$pt"
ptree=$(tree "$TEST_TMP/pactown/$pt" --seconds)
on_b exits "a pactown .tar.gz imports" 0 import user123 "$TEST_TMP/user123.tar.gz" --json
is "  recognised as pactown's" "$(echo "$out" | json 'd["format"]')" pactown
hp=$(echo "$out" | json 'd["user"]["home_dir"]'); up=$(echo "$out" | json 'd["user"]["linux_uid"]')
is "  same tree (mtimes to the second, as GNU tar keeps them)" "$(tree "$hp" --seconds)" "$ptree"
is "  owned by the new account, not 60001" "$(tree "$hp" --owners)" "$up:$up"
on_b exits "  a pactown archive of another tenant is refused" 1 import user456 "$TEST_TMP/user123.tar.gz"
like "  naming the account it belongs to" "$err" "$pt"
done_testing
