# evcharge: one Makefile for the venv, tests, demo, benchmarks and the firmware.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
MPY    := $(BIN)/micropython
MICROPYPATH_TESTS := shared:firmware:tests/micropython
PORT   ?= /dev/ttyUSB0
BOARD_CONFIG ?= firmware/board_config.json

.PHONY: venv test test-py test-mp lint demo chaos bench bench-smoke bench-heap bench-cluster soak fuzz fuzz-smoke firmware flash install-monitor install-central docs clean

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

# The whole suite: lint, the MicroPython-side tests, then pytest on CPython.
test: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(MAKE) --no-print-directory test-mp
	$(MAKE) --no-print-directory test-py

test-mp: venv
	MICROPYPATH=$(MICROPYPATH_TESTS) $(MPY) -X heapsize=2M tests/micropython/run.py

test-py: venv
	$(BIN)/pytest -q -n 2 --dist loadfile

lint: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

demo: venv
	$(BIN)/evcharge demo $(DEMO_ARGS)

BENCH_STAMP := $(VENV)/.bench-stamp

# Chaos (docs/CHAOS.md): CASES random cases of a whole network under 1-3 faults each,
# checked for invariants; SEED=random picks a new seed (printed first). Writes
# docs/CHAOS.md, docs/chaos.png and build/chaos/seed-S.json. One case alone:
# evcharge chaos --seed S --case K.
CASES ?= 10
SEED  ?= random
chaos: $(BENCH_STAMP)
	$(BIN)/evcharge chaos --seed $(SEED) --cases $(CASES) --report docs/CHAOS.md

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) firmware
	$(BIN)/python tools/bench_all.py --full

bench-smoke: $(BENCH_STAMP)
	$(BIN)/python tools/bench_all.py --smoke

# Soak (issue 20, point 5): CPS charge points at 1 Hz for MINUTES against one Central,
# sampled every SAMPLE_S seconds: RSS growth of Central and the broker (< 5 %), 0 lost,
# p99 steady. Writes bench/soak.json and bench/soak.md; exits 0 whatever the verdicts.
# The broker is an Apache Kafka one (tools/apache-kafka.sh, kept apart from the tests'
# in build/soak-kafka): the local broker keeps every record in memory, so over an hour
# it measures itself. SOAK_BROKER=local uses the local one anyway.
CPS      ?= 1000
MINUTES  ?= 60
SAMPLE_S ?= 60
SOAK_BROKER ?= apache
SOAK_KAFKA_DIR := $(CURDIR)/build/soak-kafka
soak: $(BENCH_STAMP)
	@if [ "$(SOAK_BROKER)" = local ]; then \
	  $(BIN)/python -m evbench.soak --cps $(CPS) --minutes $(MINUTES) --sample-s $(SAMPLE_S) --out bench/soak.json; \
	else \
	  line=$$(EVCHARGE_APACHE_KAFKA_DIR=$(SOAK_KAFKA_DIR) bash tools/apache-kafka.sh start) || exit 1; \
	  bootstrap=$$(echo "$$line" | sed -n 's/.*bootstrap=\([^ ]*\) version.*/\1/p'); \
	  $(BIN)/python -m evbench.soak --cps $(CPS) --minutes $(MINUTES) --sample-s $(SAMPLE_S) \
	    --kafka $$bootstrap --broker-pid $$(cat $(SOAK_KAFKA_DIR)/broker.pid) --out bench/soak.json; \
	  rc=$$?; EVCHARGE_APACHE_KAFKA_DIR=$(SOAK_KAFKA_DIR) bash tools/apache-kafka.sh stop; exit $$rc; \
	fi

# Several Centrals on one PostgreSQL (docs/BENCHMARKS.md, "Several Centrals"): CPs
# carried at 1 Hz with 1, 2 and 3 Centrals, and a kill -9 failover; Apache Kafka.
CLUSTER_ARGS ?=
CLUSTER_KAFKA_DIR := $(CURDIR)/build/cluster-kafka
bench-cluster: $(BENCH_STAMP)
	@line=$$(EVCHARGE_APACHE_KAFKA_DIR=$(CLUSTER_KAFKA_DIR) bash tools/apache-kafka.sh start) || exit 1; \
	bootstrap=$$(echo "$$line" | sed -n 's/.*bootstrap=\([^ ]*\) version.*/\1/p'); \
	EVCHARGE_APACHE_KAFKA_DIR=$(CLUSTER_KAFKA_DIR) $(BIN)/python tools/bench_cluster.py --kafka $$bootstrap \
	  --broker-pid $$(cat $(CLUSTER_KAFKA_DIR)/broker.pid) $(CLUSTER_ARGS); \
	rc=$$?; EVCHARGE_APACHE_KAFKA_DIR=$(CLUSTER_KAFKA_DIR) bash tools/apache-kafka.sh stop; exit $$rc

# The Engine's heap through one full session (ROMFS image, MicroPython unix port):
# live peak and the smallest -X heapsize (docs/BENCHMARKS.md, "Engine heap").
bench-heap: $(BENCH_STAMP)
	$(BIN)/python tools/bench_engine_heap.py

# Fuzzing (docs/FUZZING.md): every decoder and handler entry point, each target in
# its own process; a crash or a hang fails the run, the input lands in build/fuzz/crashes/.
FUZZ_RUNS ?= 1000000
FUZZ_ENGINE ?= atheris
FUZZ_STAMP := $(VENV)/.fuzz-stamp

$(FUZZ_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench,fuzz]'
	touch $(FUZZ_STAMP)

# FUZZ_RUNS inputs per target (default 1,000,000), coverage-guided by atheris
# (hours); FUZZ_ENGINE=loop: the plain random loop, about ten times faster.
fuzz: $(FUZZ_STAMP)
	$(BIN)/python tools/fuzz/run.py --engine $(FUZZ_ENGINE) --runs $(FUZZ_RUNS)

# CI's short budget: 20,000 inputs per target, plain random loop (about a minute).
fuzz-smoke: venv
	$(BIN)/python tools/fuzz/run.py --engine loop --runs 20000 --report build/fuzz/smoke.json

# Cross-compile the Engine and the wire package to .mpy files in build/firmware.
firmware: venv
	$(BIN)/python tools/build_firmware.py --out build/firmware

# Copy the compiled firmware and a board config to a board over USB with mpremote.
flash: firmware
	$(BIN)/python tools/flash_board.py --port $(PORT) --config $(BOARD_CONFIG) --bundle build/firmware

install-monitor:
	$(if $(DESTDIR),DESTDIR='$(DESTDIR)' bash tools/install-monitor.sh,sudo bash tools/install-monitor.sh)

# Central as a systemd service (docs/CENTRAL.md). DESTDIR=DIR stages the files under
# DIR without root (no user, venv or systemctl); otherwise it installs for real, as root.
install-central:
	$(if $(DESTDIR),DESTDIR='$(DESTDIR)' bash tools/install-central.sh,sudo bash tools/install-central.sh)

docs: venv
	$(BIN)/python tools/gen_protocol_doc.py > docs/PROTOCOL.md

clean:
	rm -rf build .pytest_cache .ruff_cache
