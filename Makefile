# The two commands of the README. Both install missing Debian packages first, then build with
# CMake + Ninja into build/.
#   make run    build and serve config/vitals.json in the foreground
#   make test   build and run the whole suite through ctest, then the ASan, TSan and fuzzing passes
# The passes also run alone:
#   make test-sanitize   gcc ASan+UBSan build in build-asan/ (daemon, plugins, fixtures, unit tests);
#                        unit tests and the integration tests that drive the daemon hardest,
#                        TLS peers included (tests/sanitize/run asan)
#   make test-tsan       gcc ThreadSanitizer build of the same in build-tsan/; unit tests and the
#                        integration tests with the most threads at work (tests/sanitize/run tsan)
#   make test-fuzz       clang libFuzzer targets in build/fuzz, each run briefly from its seed
#                        corpus (tests/fuzz/run; FUZZ_SECONDS=600 make test-fuzz for longer)
BUILD ?= build
SANITIZE_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= $(BUILD)/fuzz
CONFIG ?= config/vitals.json
JOBS ?= $(shell nproc)

.PHONY: run test test-sanitize test-tsan test-fuzz build deps configure clean bench

run: build
	$(BUILD)/vitals serve --config $(CONFIG)

test: deps
	packaging/install-deps test
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	$(MAKE) test-sanitize
	$(MAKE) test-tsan
	$(MAKE) test-fuzz

test-sanitize: deps
	packaging/install-deps test
	JOBS=$(JOBS) tests/sanitize/run asan $(SANITIZE_BUILD)

test-tsan: deps
	packaging/install-deps test
	JOBS=$(JOBS) tests/sanitize/run tsan $(TSAN_BUILD)

test-fuzz: deps
	packaging/install-deps test
	JOBS=$(JOBS) tests/fuzz/run $(FUZZ_BUILD)

build: deps configure
	cmake --build $(BUILD) -j$(JOBS)

configure:
	@test -f $(BUILD)/build.ninja || cmake -S . -B $(BUILD) -G Ninja

deps:
	packaging/install-deps build

clean:
	rm -rf $(BUILD) $(SANITIZE_BUILD) $(TSAN_BUILD)

# bench: every figure of the README's Performance section (tests/bench/run, ~4 min on 2 cores); needs
# the test: and bench: packages and the npm registry (express goes to /tmp, never the repository).
bench: build
	packaging/install-deps test bench
	command -v npm >/dev/null || packaging/install-deps bench-npm
	tests/bench/run $(BUILD)

# Debian packages (packaging/Packaging.cmake): $(BUILD)/vitals_<version>_<arch>.deb and
# $(BUILD)/vitals-dev_<version>_all.deb. CPack computes Depends with dpkg-shlibdeps (dpkg-dev) and
# file, listed as test: packages.
# docs: regenerates docs/config-reference.md from the plugins' option schemas (`vitals plugins --markdown`).
.PHONY: package docs

package: build
	@command -v dpkg-shlibdeps >/dev/null && command -v file >/dev/null || packaging/install-deps test
	cd $(BUILD) && cpack -G DEB

docs: build
	cmake --build $(BUILD) --target docs
