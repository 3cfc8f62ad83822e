# The two commands of the README. Both install missing Debian packages first, then build with
# CMake + Ninja into build/.
#   make run    build and serve config/vitals.json in the foreground
#   make test   build and run the whole suite through ctest
BUILD ?= build
CONFIG ?= config/vitals.json
JOBS ?= $(shell nproc)

.PHONY: run test build deps configure clean bench

run: build
	$(BUILD)/vitals serve --config $(CONFIG)

test: deps
	packaging/install-deps test
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

build: deps configure
	cmake --build $(BUILD) -j$(JOBS)

configure:
	@test -f $(BUILD)/build.ninja || cmake -S . -B $(BUILD) -G Ninja

deps:
	packaging/install-deps build

clean:
	rm -rf $(BUILD)

bench: build
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
