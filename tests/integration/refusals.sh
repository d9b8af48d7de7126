source "$WARREN_SRC/tests/lib/tap.sh"
ok placeholder true
done_testing
