# godisque: everyday commands. `make help` lists them.
#
# Everything here needs only Go (and, for the race detector, a C compiler:
# `make deps` installs one when it is missing). GOFLAGS from the environment
# is passed through to every go command (e.g. GOFLAGS=-v make test); the
# defaults below are sized for a 2-core machine, where go already builds
# and tests GOMAXPROCS packages at a time.

GO        ?= go
SHELL     := /bin/bash

# make run: one in-memory node. Its nodes.conf (node ID) lives in RUN_DIR,
# under ./tmp (git-ignored), never in the repository root.
BIND      ?= 127.0.0.1
PORT      ?= 7711
RUN_DIR   ?= tmp/node-$(PORT)

# make test: the race-enabled test run, then a short run of the fuzz
# targets of FUZZ_SHORT_DIRS (the argument parsers and the job ID decoder):
# FUZZ_BUDGET seconds shared among them, 2 to 5 s each. FUZZTIME_SHORT=4s
# sets the time per target instead. Every other target still runs its seed
# corpus in the race run, and all of them under `make fuzz`: building a
# package for fuzzing instruments all its dependencies, minutes on a cold
# cache, so make test fuzzes only where the issue asks for it.
FUZZ_SHORT_DIRS ?= ./gateway ./protocol
# The short run counts executions, not seconds: under load Go's fuzz engine
# can fail a time-limited run with "context deadline exceeded" and no
# crasher, which would make CI flaky.
FUZZ_SHORT_EXECS ?= 20000x
TESTFLAGS      ?= -race -count=1 -timeout 10m
FUZZ_BUDGET    ?= 45
FUZZTIME_SHORT ?=
# make fuzz: every fuzz target (or only FUZZ=FuzzName) for FUZZTIME each.
FUZZTIME  ?= 1m
FUZZ      ?=

# make proto: the generator versions the committed code was made with.
GOGO_VERSION          := v1.3.2
PROTOC_GEN_GO_VERSION := v1.36.12
GOBIN_DIR = $(or $(shell $(GO) env GOBIN),$(shell $(GO) env GOPATH)/bin)
GOGO_DIR  = $(shell $(GO) env GOMODCACHE)/github.com/gogo/protobuf@$(GOGO_VERSION)

# make cluster: three in-memory nodes joined into one cluster, on
# $(BIND):CLUSTER_PORTS, until Ctrl-C (internal/localcluster). Each node's
# nodes.conf and server.log go to CLUSTER_DIR/<port>, emptied at every start
# (a new cluster each time) and kept after it for reading. CLUSTER_ARGS go
# to every node (e.g. CLUSTER_ARGS="--cluster-node-timeout 2000").
CLUSTER_PORTS ?= 7711,7712,7713
CLUSTER_DIR   ?= tmp/cluster
CLUSTER_ARGS  ?=

.PHONY: help run cluster build test lint fmt-check vet lint-go race fuzz-short fuzz deps proto clean

help:
	@echo "make run     one in-memory node on $(BIND):$(PORT) (data dir $(RUN_DIR))"
	@echo "make cluster three in-memory nodes on $(BIND):$(CLUSTER_PORTS), joined (dirs under $(CLUSTER_DIR)); Ctrl-C stops them"
	@echo "make test    gofmt, go vet, race-enabled tests, a short run of every fuzz target ($(FUZZ_BUDGET) s in all)"
	@echo "make build   bin/disque-server"
	@echo "make lint    gofmt, go vet and the source rules of internal/lint"
	@echo "make fuzz    every fuzz target for FUZZTIME=$(FUZZTIME) (FUZZ=FuzzName for one)"
	@echo "make proto   regenerate protocol/*.pb.go (needs protoc: apt-get install -y protobuf-compiler)"
	@echo "make deps    install a C compiler for the race detector, if missing (apt-get)"
	@echo "make bench   godisque beside redis-server and a bare redcon server (not part of make test)"
	@echo "make chaos   bin/disque-chaos: each nemesis for $(CHAOS_TIME) on a 5-node cluster, the verdicts (not part of make test)"
	@echo "make clean   remove bin/ and tmp/"

# ------------------------------------------------------------------ run ------

run:
	@mkdir -p $(RUN_DIR)
	$(GO) run ./cmd/disque-server --bind $(BIND) --port $(PORT) --dir $(RUN_DIR) --appendonly no

cluster:
	$(GO) build -o bin/disque-server ./cmd/disque-server
	$(GO) build -o bin/localcluster ./internal/localcluster
	bin/localcluster -server bin/disque-server -bind $(BIND) -ports $(CLUSTER_PORTS) -dir $(CLUSTER_DIR) \
		-- $(strip --appendonly no $(CLUSTER_ARGS))

build:
	$(GO) build -o bin/disque-server ./cmd/disque-server

# ----------------------------------------------------------------- test ------

test: deps lint race fuzz-short

# The race detector needs cgo, so a C compiler. Install one on Debian-like
# machines when we may (root, or sudo without a password); otherwise say how.
deps:
	@cc="$$($(GO) env CC)"; \
	if command -v "$${cc%% *}" >/dev/null 2>&1; then exit 0; fi; \
	echo "deps: no C compiler ($$cc); the race detector (go test -race) needs one"; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "deps: install gcc with your package manager, then run make test again" >&2; exit 1; \
	fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else echo "deps: run  sudo apt-get install -y gcc libc6-dev" >&2; exit 1; fi; \
	set -x; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev

lint: fmt-check vet lint-go

# Every .go file outside tmp/ and testdata/ must be gofmt-clean.
fmt-check:
	@files=$$(find . -name '*.go' -not -path './tmp/*' -not -path '*/testdata/*' -not -path './.git/*' -print0 | xargs -0 -r "$$($(GO) env GOROOT)/bin/gofmt" -l); \
	if [ -n "$$files" ]; then echo "gofmt: these files need formatting (gofmt -w):"; echo "$$files"; exit 1; fi

vet:
	$(GO) vet ./...

# STYLE.md guideline 2 (no time.Now or global math/rand in actors/ and
# protocol/), as a Go test. It also runs with `make race`.
lint-go:
	$(GO) test -count=1 ./internal/lint/

race:
	CGO_ENABLED=1 $(GO) test $(TESTFLAGS) ./...

# ----------------------------------------------------------------- fuzz ------
#
# Fuzz targets are found, not listed: any package with a `func Fuzz...` in a
# _test.go file is asked for its targets with `go test -list`, and each one
# is fuzzed on its own (go test -fuzz takes one target of one package).
# A failure leaves its input in the package's testdata/fuzz/ for a
# regression test: commit it with the fix.

# fuzz-targets prints "package target" lines.
define fuzz-targets
for dir in $$(grep -rlE --include='*_test.go' --exclude-dir=tmp --exclude-dir=.git '^func Fuzz[A-Z0-9_]' . | xargs -r -n1 dirname | sort -u); do \
	$(GO) test -list '^Fuzz' "$$dir" | grep -E '^Fuzz' | sed "s|^|$$dir |" || exit 1; \
done
endef

# run-fuzz runs every target named $(1) (all when empty) for $(2) each, in
# the directories $(3) (all when empty); an empty $(2) shares FUZZ_BUDGET
# seconds among the targets, 2 to 5 s each.
define run-fuzz
@set -eo pipefail; \
targets=$$($(fuzz-targets)); \
if [ -n "$(3)" ]; then targets=$$(for d in $(3); do grep -E "^$$d " <<< "$$targets" || true; done); fi; \
if [ -z "$$targets" ]; then echo "fuzz: no fuzz targets found"; exit 0; fi; \
if [ -n "$(1)" ]; then targets=$$(grep -E " $(1)\$$" <<< "$$targets" || true); fi; \
if [ -z "$$targets" ]; then echo "fuzz: no target named $(1)" >&2; exit 1; fi; \
count=$$(wc -l <<< "$$targets"); \
each="$(2)"; \
if [ -z "$$each" ]; then s=$$(( $(FUZZ_BUDGET) / count )); each="$$(( s < 2 ? 2 : s > 5 ? 5 : s ))s"; fi; \
while read -r pkg name; do \
	echo "--- fuzz $$pkg $$name ($$each)"; \
	$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime "$$each" -fuzzminimizetime 1s "$$pkg" </dev/null; \
done <<< "$$targets"; \
echo "fuzz: $$count target(s), $$each each, no failures"
endef

fuzz-short:
	$(call run-fuzz,,$(or $(FUZZTIME_SHORT),$(FUZZ_SHORT_EXECS)),$(FUZZ_SHORT_DIRS))

fuzz:
	$(call run-fuzz,$(FUZZ),$(FUZZTIME))

# ---------------------------------------------------------------- proto ------
#
# Regenerates protocol/disque.pb.go (gogofaster) and protocol/wire/carrier.pb.go
# (protoc-gen-go) exactly as committed, then protocol's go:generate lines
# (bridge_gen.go). protoc comes from Debian's protobuf-compiler; the plugins
# are installed into $(GOBIN_DIR) at the pinned versions.

proto:
	@command -v protoc >/dev/null 2>&1 || { \
		echo "proto: protoc not found; install it with:  sudo apt-get install -y protobuf-compiler" >&2; exit 1; }
	$(GO) install github.com/gogo/protobuf/protoc-gen-gogofaster@$(GOGO_VERSION)
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	$(GO) mod download github.com/gogo/protobuf
	cd protocol && PATH="$(GOBIN_DIR):$$PATH" protoc -I. -I$(GOGO_DIR) -I$(GOGO_DIR)/protobuf \
		--gogofaster_out=paths=source_relative,Mgoogle/protobuf/descriptor.proto=github.com/gogo/protobuf/protoc-gen-gogo/descriptor,Mgogoproto/gogo.proto=github.com/gogo/protobuf/gogoproto:. \
		disque.proto
	cd protocol && PATH="$(GOBIN_DIR):$$PATH" protoc -I. --go_out=paths=source_relative:wire carrier.proto
	$(GO) generate ./protocol/...

# ---------------------------------------------------------------- bench ------
#
# make bench: builds bin/disque-server and bin/disque-bench, starts a fresh
# godisque node, a redis-server (Debian's package; without it the godisque
# numbers run alone) and the bare redcon LPUSH ceiling on loopback ports
# BENCH_PORT..+2, and a three-node godisque cluster on BENCH_PORT+3..+5 (unless
# BENCH_CLUSTER names one, or is none), runs `disque-bench suite` against
# them and stops them
# (bench/run.sh, which documents every BENCH_* setting). A benchmark, not a
# test: it is not part of `make test`, and its numbers are only as steady
# as the machine.

BENCH_DIR      ?= tmp/bench
BENCH_PORT     ?= 17711
BENCH_CONNS    ?= 50
BENCH_DURATION ?= 5s
BENCH_WARMUP   ?= 1s
BENCH_MEM_JOBS ?= 200000
BENCH_ROUNDS   ?= 1

.PHONY: bench
bench:
	$(GO) build -o bin/disque-server ./cmd/disque-server
	$(GO) build -o bin/disque-bench ./cmd/disque-bench
	@command -v redis-server >/dev/null 2>&1 || \
		echo "redis-server not found: apt-get install -y redis-server"
	BENCH_DIR=$(BENCH_DIR) BENCH_PORT=$(BENCH_PORT) BENCH_CONNS=$(BENCH_CONNS) \
		BENCH_DURATION=$(BENCH_DURATION) BENCH_WARMUP=$(BENCH_WARMUP) \
		BENCH_MEM_JOBS=$(BENCH_MEM_JOBS) BENCH_ROUNDS=$(BENCH_ROUNDS) bash bench/run.sh

# ---------------------------------------------------------------- chaos ------
#
# make chaos: builds bin/disque-server and bin/disque-chaos, then runs the
# chaos playground once per nemesis in CHAOS_NEMESES and seed in
# CHAOS_SEEDS (5 nodes, REPLICATE 3, RETRY 1 s, 10 clients, CHAOS_TIME of
# workload each, plus CHAOS_FLAGS, e.g. CHAOS_FLAGS="--aof always"), prints
# each verdict and fails if any run lost an acknowledged job or could not
# run. Reports go to CHAOS_DIR/<nemesis>-seed<seed>/report.html. About 70 s
# a run. make test runs short scenarios of its own
# (cmd/disque-chaos/chaos_test.go).

CHAOS_NEMESES ?= partition kill pause loss delay dup skew all
CHAOS_SEEDS   ?= 42
CHAOS_TIME    ?= 60s
CHAOS_FLAGS   ?=
CHAOS_DIR     ?= tmp/chaos

.PHONY: chaos
chaos:
	$(GO) build -o bin/disque-server ./cmd/disque-server
	$(GO) build -o bin/disque-chaos ./cmd/disque-chaos
	@mkdir -p $(CHAOS_DIR); failed=0; \
	for seed in $(CHAOS_SEEDS); do for nem in $(CHAOS_NEMESES); do \
		out=$(CHAOS_DIR)/$$nem-seed$$seed; \
		bin/disque-chaos run --nodes 5 --replicate 3 --retry 1s --clients 10 --time $(CHAOS_TIME) \
			--nemesis $$nem --seed $$seed --out $$out --quiet $(CHAOS_FLAGS) > $$out.txt 2>&1; rc=$$?; \
		printf '%-10s seed %-4s exit %d  %s | %s | %s\n' $$nem $$seed $$rc \
			"$$(grep -m1 '^verdict:' $$out.txt)" "$$(grep -m1 '^lost:' $$out.txt)" "$$(grep -m1 '^duplicated:' $$out.txt)"; \
		if [ $$rc -ne 0 ]; then failed=1; tail -5 $$out.txt; fi; \
	done; done; \
	echo "summaries and reports in $(CHAOS_DIR)/"; \
	exit $$failed

# ---------------------------------------------------------------- clean ------

clean:
	rm -rf bin/ tmp/
