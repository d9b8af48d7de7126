# Bad input is refused with an error that names it, and changes nothing.
source "$WARREN_SRC/tests/lib/tap.sh"

"$WARREN" user create alice >/dev/null
before=$(snapshot)

refuse() { # description expected-exit message-regex args...
  local d=$1 code=$2 re=$3; shift 3
  exits "$d" "$code" "$@"
  like "$d: message" "$err" "$re"
}

refuse "empty tenant id" 2 "tenant id: must not be empty" user create ''
refuse "tenant id with a newline" 2 "control character U\+000A" user create $'a\nb'
refuse "tenant id with a tab" 2 "control character U\+0009" user create $'a\tb'
refuse "tenant id with invalid UTF-8" 2 "invalid UTF-8 at byte 1" user create $'a\xff'
refuse "tenant id of 257 bytes" 2 "257 bytes, at most 256" user create "$(printf 'x%.0s' $(seq 257))"
refuse "get with a bad id" 2 "control character" user get $'x\x01'
refuse "delete with a bad id" 2 "control character" user delete $'x\x1b'
refuse "stats with a bad id" 2 "invalid UTF-8" user stats $'\xc0\xaf'

for s in '..' '.' '../../etc' '/etc' 'a/b' $'x\ny' '-x' '.hidden' 'a b' "$(printf 'y%.0s' $(seq 65))"; do
  refuse "service id '$(printf %q "$s")'" 2 "service id" sandbox path alice -- "$s"
done
is "refusals changed nothing" "$(snapshot)" "$before"

# Hostile but valid tenant ids are just names: they never reach a path or a
# file format unescaped.
for id in '../../etc/passwd' 'x:0:0:root:/root:/bin/bash' 'a,b=c\d' '$(reboot)' '雪 ☃'; do
  exits "hostile but valid id '$id'" 0 user create "$id" --json
  name=$(echo "$out" | json 'd["linux_username"]')
  like "  gets a plain account name" "$name" '^warren_[0-9a-f]{8,}$'
  is "  its passwd line has 7 fields" "$(getent passwd "$name" | awk -F: '{print NF}')" 7
  is "  the JSON keeps the id exactly" "$(echo "$out" | json 'd["saas_user_id"]')" "$id"
done
is "the users base holds homes only" "$(find "$WARREN_USERS_BASE" -mindepth 1 -maxdepth 1 ! -name 'warren_*' | wc -l)" 0
ok "pwck finds nothing wrong" pwck -r -q
ok "grpck finds nothing wrong" grpck -r

done_testing
