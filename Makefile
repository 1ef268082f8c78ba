# Tug: the two commands a newcomer needs are `make demo` and `make test`.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

# ccache hits across clones in other folders (a fresh CI clone reuses what an earlier build
# compiled): paths relative to the checkout, and the build folder left out of the hash.
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1

.PHONY: all deps build build-tests bench build-asan test test-fast test-asan demo down clean format

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)

$(ASAN_BUILD)/build.ninja: | deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTUG_SANITIZE=ON $(CMAKE_ARGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)
	cmake --build $(BUILD) -j $(JOBS) --target benches

# What the tests need: everything but the benchmarks.
build-tests: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

bench: build

build-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# Every test, in the optimized build and then again under ASan+UBSan.
test: test-fast test-asan

test-fast: build-tests
	cd $(BUILD) && ctest --no-tests=error --output-on-failure -j $(JOBS)

# The end-to-end tests (label e2e) run in the optimized pass only: they drive the same tugd
# and tug-agent code as the integration tests, which do run under the sanitizers, and
# skipping them keeps a cold CI run within its 25 minutes.
test-asan: build-asan
	cd $(ASAN_BUILD) && ctest --no-tests=error --output-on-failure -j $(JOBS) -LE 'no-sanitize|e2e'

# A local cluster (three tugd, three tug-agent; network namespaces as root) running the
# web-server example; `make down` stops exactly what it started.
demo: build
	@bash scripts/demo.sh

down:
	@bash scripts/local-cluster.sh down

format:
	git ls-files '*.cpp' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
