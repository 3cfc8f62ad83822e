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
