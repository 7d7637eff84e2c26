# Thin wrapper around CMake. The real build is CMakeLists.txt.
BUILD ?= build
JOBS  ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX ?= /usr/local

.PHONY: all deps configure build check check-asan check-fuzz fuzz unit e2e demo install clean

# Sanitizer builds (separate build directories): ASan+UBSan, and libFuzzer (clang).
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 1
SAN_ENV = ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
          UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX)

configure: $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# Everything: dependencies, build, unit and end-to-end tests; then the same
# tests against ASan+UBSan binaries, and a short replay of every fuzz target.
check: deps
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure -j 1
	$(MAKE) check-asan
	$(MAKE) check-fuzz

# Unit and e2e tests against -DESTKIT_SANITIZE=ON binaries: any sanitizer
# report (LeakSanitizer at exit included) fails the run.
check-asan:
	cmake -S . -B $(ASAN_BUILD) -DESTKIT_SANITIZE=ON -DBUILD_TESTING=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && $(SAN_ENV) ctest --output-on-failure -j 1

# Configures the libFuzzer build and replays each target's corpus (+2000 runs).
$(FUZZ_BUILD)/CMakeCache.txt:
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DESTKIT_FUZZ=ON -DBUILD_TESTING=OFF

check-fuzz: $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	cd $(FUZZ_BUILD) && ctest --output-on-failure -j $(JOBS) -R '^fuzz/'

# Fuzzes every target for FUZZ_SECONDS each (FUZZ_JOBS at a time); crashes
# land in fuzz/crashes/.
fuzz: $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) scripts/fuzz.sh $(FUZZ_BUILD)
unit: build
	cd $(BUILD) && ctest --output-on-failure -R '^unit/'

e2e: build
	cd $(BUILD) && ctest --output-on-failure -R '^e2e'

# A demo CA, estd on 127.0.0.1, one enrollment with est.
demo: deps
	$(MAKE) build
	scripts/demo.sh $(BUILD)

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
