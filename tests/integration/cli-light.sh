# `warren` stays light: it loads none of the libraries only warren-full needs
# (src/lib/program.h), and hands the commands that need them over to
# warren-full with the words the user typed.
source "$WARREN_SRC/tests/lib/tap.sh"

needed=$(readelf -d "$WARREN" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')
for lib in libarchive libmicrohttpd libgnutls libnl-3 libnl-route-3 libnftables libxml2; do
  if [[ " $needed" == *" $lib."* ]]; then
    _tap_result fail "warren does not load $lib" "NEEDED: $needed"
  else
    _tap_result ok "warren does not load $lib"
  fi
done
# Every library the loader maps and binds costs each start of `warren`: the
# ones it needs are linked in (src/lib/meson.build), so only glibc's are left
# (the loader is named for libcap-ng's thread-local state; it is loaded anyway),
# and a sanitizer's runtime in such a build.
extra=$(tr ' ' '\n' <<<"$needed" |
  grep -vE '^(libc\.so\.6|libm\.so\.6|ld-linux[-a-z0-9_.]*\.so\.[0-9]+|lib[a-z]*san\.so\.[0-9]+)?$' |
  paste -sd' ')
is "warren loads no library but glibc's" "$extra" ""
# OpenSSL's one-call digests bring its provider machinery: 17,000 addresses
# more to relocate at every start (naming.c hashes without it).
relocs=$(readelf -r "$WARREN" | grep -c _RELATIVE || true)
if [[ " $needed" == *san.so.* ]]; then
  ok "warren relocates few addresses at start # SKIP a sanitizer adds its own ($relocs)" true
else
  ok "warren relocates few addresses at start ($relocs)" test "$relocs" -lt 8000
fi
full_needed=$(readelf -d "$WARREN_FULL" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')
like "warren-full holds the daemon (libmicrohttpd)" "$full_needed" "libmicrohttpd"
like "warren-full holds export and import (libarchive)" "$full_needed" "libarchive"

# A handed-over command behaves as if warren ran it: its usage errors, its
# not-found exit code, its output.
exits "export without its file is a usage error" 2 export alice
like "  and names its usage" "$err" "usage: warren export TENANT FILE"
exits "net get of an unknown tenant is not found" 3 net get nobody-here
like "  and names the tenant" "$err" "nobody-here"
exits "help export works without warren-full" 0 help export
like "  and shows the export help" "$out" "usage: warren export"

# Without warren-full the handed-over commands fail clearly; the rest work.
saved=$WARREN_FULL
export WARREN_FULL=/nonexistent/warren-full
exits "export without warren-full fails" 1 export alice /tmp/x.tar.zst
like "  naming what is missing" "$err" "WARREN_FULL=/nonexistent/warren-full is not an executable"
exits "user list needs no warren-full" 0 user list
export WARREN_FULL=$saved

done_testing
