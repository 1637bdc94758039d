# tapline's commands: `make demo`, `make test`, and `make help` for the rest.
#
# GNU make, not a Go task runner: make is on every machine that can build
# tapline (cgo needs gcc, and gcc comes with make), so it costs nothing to
# fetch or compile. go-task as a `tool` dependency added about 430 CPU-seconds
# and 1.2 GB of modules to a cold start; see "Why make" in README.md.
#
# Arguments for the program go in ARGS: make demo ARGS='--records 500000'.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

GO ?= go
ARGS ?=

# The engine version and its npm integrity are read from the Go code that
# fetches and checks them (sink/embedded/config.go), so they have one source.
ENGINE_CONFIG    := sink/embedded/config.go
ENGINE_VERSION   := $(shell sed -n 's/^[[:space:]]*PackageVersion[[:space:]]*=[[:space:]]*"\(.*\)"/\1/p' $(ENGINE_CONFIG))
ENGINE_INTEGRITY := $(shell sed -n 's/^[[:space:]]*PackageIntegrity[[:space:]]*=[[:space:]]*"\(.*\)"/\1/p' $(ENGINE_CONFIG))
ifeq ($(ENGINE_VERSION),)
$(error cannot read PackageVersion from $(ENGINE_CONFIG): update the sed pattern in the Makefile)
endif
ifeq ($(ENGINE_INTEGRITY),)
$(error cannot read PackageIntegrity from $(ENGINE_CONFIG): update the sed pattern in the Makefile)
endif
ENGINE_CACHE := $(CURDIR)/.cache
ENGINE_LIB   := $(ENGINE_CACHE)/chdb/$(ENGINE_VERSION)/libchdb.so

# Every command below finds the engine here. Set TAPLINE_LIBCHDB yourself to
# use a library elsewhere; then `make engine` only checks that it exists.
export TAPLINE_LIBCHDB ?= $(ENGINE_LIB)

# Every package runs with -race, the engine-heavy ones too: measured on the
# 2-core VM, -race made them 5 to 50% slower (pipeline 35 -> 37 s, sql 11 ->
# 15 s, cmd/tapline 35 -> 53 s), too little to split the suite.
TEST_TIMEOUT ?= 15m

.PHONY: help engine build demo loadtest clickhouse-server test bench bench-insert bench-ceiling lint

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 20

engine: ## Fetch the embedded ClickHouse engine (libchdb.so, npm @chdb/lib-linux-x64-gnu) into .cache/ once, integrity checked.
	@if [ "$$TAPLINE_LIBCHDB" != '$(ENGINE_LIB)' ]; then \
		[ -f "$$TAPLINE_LIBCHDB" ] && exit 0; \
		echo "TAPLINE_LIBCHDB=$$TAPLINE_LIBCHDB does not exist: point it at libchdb.so $(ENGINE_VERSION), or unset it to fetch the engine into .cache/" >&2; \
		exit 2; \
	fi; \
	if [ -f '$(ENGINE_LIB)' ] && grep -qxF '$(ENGINE_INTEGRITY)' '$(dir $(ENGINE_LIB)).integrity' 2>/dev/null; then exit 0; fi; \
	TAPLINE_LIBCHDB= $(GO) run ./cmd/tapline engine fetch --cache '$(ENGINE_CACHE)' >/dev/null

build: ## Build bin/tapline (no engine needed to build).
	$(GO) build -o bin/tapline ./cmd/tapline

demo: engine ## Publish generated logs of every format through embedded NATS into the embedded ClickHouse; print latency and error rates (ARGS='--records 500000').
	$(GO) run ./cmd/tapline demo $(ARGS)

loadtest: engine ## Load test for 60s with embedded NATS and ClickHouse; write reports/loadtest/ (ARGS='--duration 5m --rate 20000').
	$(GO) run ./cmd/tapline loadtest $(ARGS)

clickhouse-server: ## Install Debian's clickhouse-server (18.16) for the server tests when missing (needs root and apt-get); the tests start their own process on loopback.
	@if command -v clickhouse-server >/dev/null || [ -x /usr/sbin/clickhouse-server ] || [ -x /usr/bin/clickhouse-server ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
		echo "clickhouse-server is missing and cannot be installed here (needs root and apt-get): the server tests will fail; install it with: apt-get install clickhouse-server" >&2; \
		exit 0; \
	fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get install -y --no-install-recommends clickhouse-server || { apt-get update && apt-get install -y --no-install-recommends clickhouse-server; }

test: engine clickhouse-server ## go vet, then every test with the race detector, against the real embedded NATS, ClickHouse engine and server (ARGS='-run TestX').
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(ARGS) ./...
	@# The decoders' benchmarks once each (about 2 s): a benchmark whose
	@# input no longer decodes fails here instead of at the next measurement.
	$(GO) test -run '^$$' -bench . -benchtime 1x ./ingest/decode/...

bench: engine ## Every benchmark with allocation counts (ARGS='-count 5').
	$(GO) test -run '^$$' -bench . -benchmem $(ARGS) ./...

bench-insert: engine ## The engine's insert of a drain-sized SOFARPC batch (57.5k rows, both views): tapline's ArrowStream vs the engine's JSONEachRow, side by side; rows/s and ratio (ARGS='-benchtime 40x -count 3').
	$(GO) test -run '^$$' -bench 'BenchmarkInsertVersusJSON' -benchtime 20x $(ARGS) ./sink/embedded/

bench-ceiling: engine ## What tapline's inserts alone save against the loadtest's engine baseline (issue 11's tapline ÷ engine with decoding and NATS free, one insert at a time): each JSON format's batch as tapline's Arrow records and through the baseline's JSONEachRow path, side by side; json/arrow per format and over the loadtest's mix (ARGS='-count 3').
	$(GO) test -run '^$$' -bench 'BenchmarkCeiling' -benchtime 8x $(ARGS) ./loadtest/baseline/

lint: ## gofmt and go vet.
	@files=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$files" ]; then echo "not gofmt-ed:" $$files >&2; exit 1; fi
	$(GO) vet ./...
