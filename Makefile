# The two commands of the README: `make run` and `make test`.
# Both install missing Debian packages first (tools/install-deps).

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
MESON_OPTS ?=

.PHONY: all deps run demo test test-vm unit bench clean

all: $(BUILD)/warren

deps:
	@./tools/install-deps

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) $(MESON_OPTS)

$(ASAN_BUILD)/build.ninja: | deps
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false \
	  -Dbuildtype=debug $(MESON_OPTS)

# libFuzzer needs clang; this build holds the fuzz targets, run as suite `fuzz`.
$(FUZZ_BUILD)/build.ninja: | deps
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzzing=true -Db_sanitize=address,undefined \
	  -Db_lundef=false -Dbuildtype=debug $(MESON_OPTS)

$(BUILD)/warren: $(BUILD)/build.ninja FORCE
	ninja -C $(BUILD)
	ln -sfn src/cli/warren $(BUILD)/warren

FORCE:

# The daemon in the foreground: it prints its URL and where the admin token
# is (docs/API.md). Ctrl-C stops it gracefully.
run: deps $(BUILD)/warren
	./$(BUILD)/warren serve

# The user-isolation demo of seed 000, on the default state.
demo: deps $(BUILD)/warren
	./$(BUILD)/warren demo

# Every test, in the normal build and under AddressSanitizer + UBSan, then
# each fuzz target for a few seconds. The last line is `N passed, N failed`.
test: deps $(BUILD)/build.ninja $(ASAN_BUILD)/build.ninja $(FUZZ_BUILD)/build.ninja
	ninja -C $(BUILD)
	ninja -C $(ASAN_BUILD)
	ninja -C $(FUZZ_BUILD) fuzz-targets
	./tests/run-all $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD):fuzz

# The cgroup v2 tests in their cgroup-v2-only guest (tests/vm/, suite vm)
# alone: `make test` runs them too (in the normal build), this is for working
# on them.
test-vm: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)
	./tests/run-all $(BUILD):vm

bench: $(BUILD)/warren
	./bench/run-all $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
