# The command line itself: help everywhere, usage errors with exit 2, unknown
# tenants with exit 3 (125 both for `warren run`), and nothing changed by any
# of them.
source "$WARREN_SRC/tests/lib/tap.sh"

exits "no arguments is a usage error" 2
like "it says how to get help" "$err" "warren help"
exits "warren help" 0 help
like "help lists every command" "$out" "user create.*user get.*user list.*user stats.*user delete.*sandbox path.*demo"
like "help names the exit codes" "$out" "0 ok, 1 failure, 2 usage or invalid input, 3 not found"
exits "warren --help" 0 --help
exits "warren --version" 0 --version
like "--version names warren and its version" "$out" "^warren [0-9]+\.[0-9]+\.[0-9]+$"
exits "--version after a command still answers it" 0 user list --version
run_warren help
like "help lists --version" "$out" "--version  "
for c in "user create" "user get" "user list" "user stats" "user delete" "sandbox path" "demo"; do
  # shellcheck disable=SC2086
  exits "warren $c --help" 0 $c --help
  like "warren $c --help shows its usage" "$out" "usage: warren $c"
done
exits "warren help user delete" 0 help user delete
like "command help mentions --keep-home" "$out" "keep-home"

before=$(snapshot)
exits "unknown command" 2 frobnicate
like "unknown command is named" "$err" "unknown command 'frobnicate'"
exits "unknown subcommand" 2 user frob alice
like "unknown subcommand is named" "$err" "unknown command 'user frob'"
exits "unknown option" 2 user list --bogus
like "unknown option is named" "$err" "unknown option '--bogus'"
exits "missing argument" 2 user create
like "missing argument shows usage" "$err" "usage: warren user create TENANT"
exits "extra argument" 2 user get alice bob
exits "option of another command" 2 user get alice --keep-home
like "misplaced option is named" "$err" "does not take --keep-home"
exits "option without value" 2 user list --state-dir
exits "relative state dir" 2 --state-dir relative user list
like "bad state dir is named" "$err" "state directory 'relative'"
exits "bad prefix" 2 --prefix 'Bad:Prefix' user list
like "bad prefix is named" "$err" "user prefix 'Bad:Prefix'"
exits "bad UID range" 2 --uid-range 5-1 user list
like "bad UID range is named" "$err" "UID range '5-1'"
WARREN_USER_PREFIX='9x' exits "bad prefix from the environment" 2 user list
# `warren run` passes the program's exit code through, and 1, 2 and 3 are
# common ones: every failure of warren's own there is 125 instead.
exits "run: unknown option, 125" 125 run --bogus alice -- true
like "  named" "$err" "unknown option '--bogus'"
exits "run: bad --timeout, 125" 125 run --timeout soon alice -- true
like "  named" "$err" "--timeout 'soon'"
exits "run: bad --level, 125" 125 run --level weird alice -- true
like "  named" "$err" "level 'weird'"
exits "run: no tenant, 125" 125 run
like "  shows its usage" "$err" "usage: warren run TENANT"
exits "run: no command, 125" 125 run alice
exits "run: an option of another command, 125" 125 run --keep-home alice -- true
exits "run: bad state dir, 125" 125 --state-dir relative run alice -- true
is "usage errors changed nothing" "$(snapshot)" "$before"

exits "get of an unknown tenant" 3 user get nobody@example.com
like "not found names the tenant" "$err" "tenant 'nobody@example.com' not found"
exits "stats of an unknown tenant" 3 user stats nobody@example.com
exits "delete of an unknown tenant" 3 user delete nobody@example.com
exits "sandbox of an unknown tenant" 3 sandbox path nobody@example.com my-api
exits "run as an unknown tenant, 125" 125 run nobody@example.com -- true
like "  named" "$err" "tenant 'nobody@example.com' not found"
exits "--json error on stdout" 3 user get nobody@example.com --json
is "--json error code" "$(echo "$out" | json 'd["error"]["code"]')" "not_found"
# The read-only commands above created the registry and base, but no tenant.
is "no tenant came into being" "$("$WARREN" user list --json | json 'd["count"]')" "0"

done_testing
