# Saker — build, run and test. See README.md.
GO        ?= go
BIN       ?= bin/saker
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
PKGS      := ./...
TEST_TIMEOUT ?= 25m
export SAKER_DATA_DIR ?= $(CURDIR)/.saker-data
# Browser tests save their screenshots here (CI keeps the directory as an artifact).
export SAKER_SCREENSHOTS ?= $(CURDIR)/.artifacts/screenshots

.PHONY: all build run test deps vet bench bench-store bench-engine bench-server bench-forwarders bench-sensor bench-hub fuzz faults faults-long generate clean

all: build

## build: the static saker binary in bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/saker

## run: hub on :2801, dashboard on :2802 (embedded store unless REDIS_ADDRESS is set), sensor when root
run: build
	$(BIN) up

## deps: install what the tests use (redis-server, chromium, docker…) when missing
deps:
	@bash .ci/install-deps

## vet: gofmt, go vet, and go.mod/go.sum as `go mod tidy` leaves them
vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy (diff above): run go mod tidy"; exit 1; }

## test: every test, including Redis, BPF (as root) and browser tests
test: deps vet
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

## bench: every Go benchmark, area by area (bench-store, bench-engine,
## bench-server, bench-forwarders: the figures quoted in issue notes), then
## bench-sensor. Each area alone: make bench-<area>; BENCH=regexp picks
## benchmarks within it (make bench-store BENCH=AppendScript)
BENCH      ?= .
BENCHFLAGS ?= -benchmem -benchtime 2s -timeout 60m
bench_go    = $(GO) test -run '^$$' -bench '$(BENCH)' $(BENCHFLAGS)
# Areas by package; bench-server takes every package no other area names,
# so a new benchmark is never left out of make bench.
BENCH_STORE      := ./hub/store/...
BENCH_ENGINE     := ./sensor/...
BENCH_FORWARDERS := ./forwarders/...
bench: bench-store bench-engine bench-server bench-forwarders
	$(MAKE) bench-sensor

## bench-store: the Redis, embedded and sharded stores (append, query, memory per alert, codecs)
bench-store: deps
	$(bench_go) $(BENCH_STORE)

## bench-engine: the sensor's Go benchmarks: engine, fields, outputs, k8s audit,
## probe overhead (root), event→action delay (root, docker)
bench-engine: deps
	$(bench_go) $(BENCH_ENGINE)

## bench-server: ingest and decode, the HTTP server, metrics, hub actions, the
## dashboard's websocket fan-out (every package outside the other areas)
bench-server: deps
	$(bench_go) $$($(GO) list $(PKGS) | grep -Ev '/(hub/store|sensor|forwarders)(/|$$)')

## bench-forwarders: outputs' throughput and the long outage-drain runs (a 60 s
## outage per output, SAKER_BENCH_OUTAGE; ~20 min in all)
bench-forwarders: deps
	$(bench_go) $(BENCH_FORWARDERS)

## bench-sensor: (root) the whole `saker sensor` with the three official rules
## files vs no BPF and vs one empty syscall tracepoint program, wall clock,
## interleaved rounds; getpid and openat+close loops, ring-buffer drops, and the
## kernel side alone (BPF run-time statistics of the sensor's openat program)
## (SENSOR_B=/path/to/older/saker runs a second build in the same rounds)
SENSOR_ROUNDS ?= 5
SENSOR_B ?=
bench-sensor: build
	$(GO) run ./cmd/benchsensor -saker $(BIN) -saker-b '$(SENSOR_B)' -rounds $(SENSOR_ROUNDS)

## bench-hub: the hub as users run it (Redis and embedded store) under load over
## loopback, driven by wrk; prints issue 10's targets met or missed;
## SIDEKICK=/path/to/falcosidekick adds it to the same interleaved rounds
## (SAKER_B=/path/to/older/saker runs a second build in the same rounds: an A/B run;
## FLOOR=1 adds the floors of cmd/benchhub/floor.go: what any hub could do here)
SIDEKICK ?=
FLOOR ?=
SAKER_B ?=
BENCH_ROUNDS ?= 3
bench-hub: build
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq --no-install-recommends wrk >/dev/null; } || { echo "bench-hub drives the hub with wrk: install it (apt-get install wrk)" >&2; exit 1; }
	$(GO) run ./cmd/benchhub -saker $(BIN) -rounds $(BENCH_ROUNDS) $(if $(SIDEKICK),-sidekick $(SIDEKICK)) $(if $(SAKER_B),-saker-b $(SAKER_B)) $(if $(FLOOR),-floor)

## faults: the fault suite's short variants (hub/faults; also part of make test): one FAULTS line per scenario
faults: deps
	$(GO) test -count=1 -v -timeout 20m ./hub/faults

## faults-long: the long variants (minutes of load, a 10-minute hub outage under the sensor, a 38 s Redis freeze)
faults-long: deps
	SAKER_FAULTS_LONG=1 $(GO) test -count=1 -v -timeout 90m ./hub/faults

## fuzz: run every fuzz target for FUZZTIME each
FUZZTIME ?= 60s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## generate: regenerate bpf2go objects (needs clang and llvm)
generate:
	$(GO) generate ./sensor/probe/... ./sensor/response/guard/...

clean:
	rm -rf bin
