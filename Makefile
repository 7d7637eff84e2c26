# Thin wrapper around CMake. The real build is CMakeLists.txt.
BUILD ?= build
JOBS  ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX ?= /usr/local

.PHONY: all deps configure build check unit e2e demo install clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX)

configure: $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# Everything: dependencies, build, unit and end-to-end tests.
check: deps
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure -j 1

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
	rm -rf $(BUILD)
