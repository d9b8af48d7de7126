# A tenant plants symlinks and hard links where root later creates, walks or
# deletes; root never follows them (THREATS.md, Filesystem).
source "$WARREN_SRC/tests/lib/tap.sh"

base=$WARREN_USERS_BASE
as_tenant() { local u=$1; shift; setpriv --reuid "$u" --regid "$u" --clear-groups "$@"; }

out=$("$WARREN" user create mallory --json); m=$(echo "$out" | json 'd["linux_username"]'); mu=$(echo "$out" | json 'd["linux_uid"]')
out=$("$WARREN" user create victim --json); v=$(echo "$out" | json 'd["linux_username"]')
mh=$base/$m

# Host files the attacks aim at, with fingerprints to prove they are untouched.
# They live on the same filesystem as the homes, so hard links can reach them.
srv=$TEST_TMP/srv
mkdir -p "$srv/target" && echo secret > "$srv/target/file" && chmod 600 "$srv/target/file"
echo precious > "$srv/precious"
fingerprint() { stat -c '%n %U %a %s %h' "$srv/target" "$srv/target/file" "$srv/precious"; stat -c '%n %U %G %a' /etc/shadow; cat "$srv/precious" "$srv/target/file"; }
host_before=$(fingerprint)

# 1. sandboxes/x -> $srv/target: creating sandbox x must not chown the target.
as_tenant "$mu" ln -s "$srv/target" "$mh/sandboxes/x"
exits "sandbox through a planted dir link is refused" 1 sandbox path mallory x
like "  the error names the link" "$err" "x"
is "  the target is still root's" "$(stat -c %U "$srv/target")" root

# 2. sandboxes -> $srv/target: the whole sandboxes dir replaced by a link.
as_tenant "$mu" mv "$mh/sandboxes" "$mh/sandboxes.real"
as_tenant "$mu" ln -s "$srv/target" "$mh/sandboxes"
exits "sandboxes/ replaced by a link is refused" 1 sandbox path mallory y
ok "  nothing was created in the target" test ! -e "$srv/target/y"
exits "stats with sandboxes/ a link" 0 user stats mallory --json
is "  a link is not a sandbox" "$(echo "$out" | json 'd["sandbox_count"]')" 0
as_tenant "$mu" rm "$mh/sandboxes"
as_tenant "$mu" mv "$mh/sandboxes.real" "$mh/sandboxes"

# 3. The victim's home planted as a link in mallory's home.
as_tenant "$mu" ln -s "$base/$v" "$mh/sandboxes/victim-home"
# 4. A hard link to a host file (possible where protected_hardlinks allows: the
#    tenant must own the file; plant as root to simulate an older kernel).
ln "$srv/precious" "$mh/sandboxes/precious.link"
# 5. A deep tree and a file with a big apparent size but no blocks.
as_tenant "$mu" bash -c "cd '$mh/sandboxes' && for i in \$(seq 300); do mkdir d && cd d; done && truncate -s 10G sparse"

exits "stats with planted links" 0 user stats mallory --json
mb=$(echo "$out" | json 'd["total_size_mb"]')
ok "  stats did not follow the links (no GB from the sparse file or the victim)" python3 -c "assert $mb < 5, $mb"

# Delete removes the links, never their targets.
exits "delete mallory" 0 user delete mallory
ok "  mallory's home is gone" test ! -e "$mh"
is "  host files untouched" "$(fingerprint)" "$host_before"
ok "  the victim's home is intact" test -d "$base/$v/sandboxes"
is "  the victim's home is still the victim's" "$(stat -c %U "$base/$v")" "$v"

# 6. A link planted as the home's own sandboxes/<svc> before the first create
#    of the sandbox, pointing into another tenant: refused.
out=$("$WARREN" user create eve --json); eu=$(echo "$out" | json 'd["linux_uid"]'); eh=$(echo "$out" | json 'd["home_dir"]')
as_tenant "$eu" ln -s "$base/$v/sandboxes" "$eh/sandboxes/steal"
exits "sandbox link into another tenant is refused" 1 sandbox path eve steal
is "  the victim's sandboxes/ still belongs to the victim" "$(stat -c %U "$base/$v/sandboxes")" "$v"

# 7. A loosened home mode is tightened again when warren opens the home.
as_tenant "$eu" chmod 755 "$eh"
"$WARREN" user stats eve >/dev/null
is "a home loosened to 0755 is back to 0700" "$(stat -c %a "$eh")" 700

done_testing
