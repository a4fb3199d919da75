# evcharge: one Makefile for the venv, tests, demo, benchmarks and the firmware.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
MPY    := $(BIN)/micropython
MICROPYPATH_TESTS := shared:firmware:tests/micropython
PORT   ?= /dev/ttyUSB0
BOARD_CONFIG ?= firmware/board_config.json

.PHONY: venv test test-py test-mp lint demo bench bench-smoke firmware flash install-monitor docs clean

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

# The whole suite: lint, the MicroPython-side tests, then pytest on CPython.
test: venv
	$(BIN)/ruff check .
	$(MAKE) --no-print-directory test-mp
	$(MAKE) --no-print-directory test-py

test-mp: venv
	MICROPYPATH=$(MICROPYPATH_TESTS) $(MPY) -X heapsize=2M tests/micropython/run.py

test-py: venv
	$(BIN)/pytest -q -n 2 --dist loadfile

lint: venv
	$(BIN)/ruff check .

demo: venv
	$(BIN)/evcharge demo

BENCH_STAMP := $(VENV)/.bench-stamp

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) firmware
	$(BIN)/python tools/bench_all.py --full

bench-smoke: $(BENCH_STAMP)
	$(BIN)/python tools/bench_all.py --smoke

# Cross-compile the Engine and the wire package to .mpy files in build/firmware.
firmware: venv
	$(BIN)/python tools/build_firmware.py --out build/firmware

# Copy the compiled firmware and a board config to a board over USB with mpremote.
flash: firmware
	$(BIN)/python tools/flash_board.py --port $(PORT) --config $(BOARD_CONFIG) --bundle build/firmware

install-monitor:
	sudo bash tools/install-monitor.sh

docs: venv
	$(BIN)/python tools/gen_protocol_doc.py > docs/PROTOCOL.md

clean:
	rm -rf build .pytest_cache .ruff_cache
