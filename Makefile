# A thin layer over CMake: the README's two commands (`make run`, `make test`) and the builds
# behind them. Every build lives under build/<kind>; dependencies come from .ci/install-deps.
JOBS ?= $(shell nproc)
CMAKE_RELEASE := -DCMAKE_BUILD_TYPE=RelWithDebInfo
# Extra flags for ringd under `make run`, e.g. make run ARGS="--log-level debug".
ARGS ?=

.PHONY: run test deps release asan tsan test-release test-asan test-tsan crash-test sim-long bench fuzz \
        format clean

deps:
	@.ci/install-deps

release: deps
	cmake -S . -B build/release $(CMAKE_RELEASE) >/dev/null
	cmake --build build/release -j$(JOBS)

asan: deps
	cmake -S . -B build/asan $(CMAKE_RELEASE) -DRINGD_SANITIZE=address >/dev/null
	cmake --build build/asan -j$(JOBS)

tsan: deps
	cmake -S . -B build/tsan $(CMAKE_RELEASE) -DRINGD_SANITIZE=thread >/dev/null
	cmake --build build/tsan -j$(JOBS)

# Starts a single-node ringd on 127.0.0.1:2379 with its data in ./default.ringd; Ctrl-C stops it.
run: release
	./build/release/ringd $(ARGS)

# The whole suite, then again under ASan+UBSan, then the runtime tests under TSan.
test: test-release test-asan test-tsan

test-release: release
	ctest --test-dir build/release --output-on-failure -j$(JOBS)

test-asan: asan
	ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    ctest --test-dir build/asan --output-on-failure -j$(JOBS)

test-tsan: tsan
	TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build/tsan --output-on-failure -L runtime

# The crash test at length: CRASH_CYCLES kill/restart cycles (ctest runs 20) on the release build
# (200 against etcd: about 3 minutes on 2 cores).
# RINGD_CRASH_CANDIDATE=etcd tests the reference instead; RINGD_CRASH_SEED=n repeats a run's kills.
CRASH_CYCLES ?= 200
crash-test: release
	RINGD_BIN=$(CURDIR)/build/release/ringd RINGD_CRASH_CYCLES=$(CRASH_CYCLES) \
	    ./build/release/tests/test_crash

# The deterministic cluster simulator at length: SIM_LONG_SEEDS seeds (ctest runs 2000) on the
# release build, about 3.5 ms each on one core. A failure prints the seed and how to replay it.
SIM_LONG_SEEDS ?= 100000
sim-long: release
	SIM_SEEDS=$(SIM_LONG_SEEDS) ./build/release/tests/sim/ringd_sim

# Microbenchmarks (numbers for docs/PERFORMANCE.md, never asserted in tests).
bench: release
	./build/release/bench/bench_ring

# libFuzzer on the gRPC server's input path (clang, ASan+UBSan). New corpus entries go to
# build/fuzz/corpus; a crash is written to build/fuzz/ and belongs, once fixed, in
# tests/fuzz/grpc_server/ so every test run replays it.
FUZZ_SECONDS ?= 120
fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B build/fuzz $(CMAKE_RELEASE) -DRINGD_SANITIZE=address \
	    -DRINGD_FUZZ=ON >/dev/null
	cmake --build build/fuzz -j$(JOBS) --target fuzz_grpc_server
	mkdir -p build/fuzz/corpus
	cd build/fuzz && ./tests/fuzz_grpc_server -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    corpus ../../tests/fuzz/grpc_server

format:
	clang-format -i $$(git ls-files '*.c' '*.h' '*.cc')

clean:
	rm -rf build
