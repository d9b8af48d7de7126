# The two commands of the README: `make run` and `make test`.
# Both install missing Debian packages first (tools/install-deps).

BUILD      ?= build
ASAN_BUILD ?= build-asan
MESON_OPTS ?=

.PHONY: all deps run test unit bench clean

all: $(BUILD)/warren

deps:
	@./tools/install-deps

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) $(MESON_OPTS)

$(ASAN_BUILD)/build.ninja: | deps
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false \
	  -Dbuildtype=debug $(MESON_OPTS)

$(BUILD)/warren: $(BUILD)/build.ninja FORCE
	ninja -C $(BUILD)

FORCE:

# Until the daemon exists, warren's main job is the demo of seed 000.
run: deps $(BUILD)/warren
	./$(BUILD)/warren demo

# Every test, in the normal build and under AddressSanitizer + UBSan.
# The last line printed is `N passed, N failed`.
test: deps $(BUILD)/build.ninja $(ASAN_BUILD)/build.ninja
	ninja -C $(BUILD)
	ninja -C $(ASAN_BUILD)
	./tests/run-all $(BUILD) $(ASAN_BUILD)

bench: $(BUILD)/warren
	./bench/run-all $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
