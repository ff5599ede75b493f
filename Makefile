# Photon's build. `make run` starts the dev cloud; `make test` runs every test.
GO       ?= go
BIN      := bin/photon
# photon stamps its build's VCS revision (GET /v1/info's gitCommitHash) whatever GOFLAGS says.
VCS      := -buildvcs=auto
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# vcsim writes real files per VM: a tmpfs makes the simulated hosts several times faster.
SIMTMP   := $(shell [ -d /dev/shm ] && echo /dev/shm || echo /tmp)

.DEFAULT_GOAL := help
.PHONY: help run build test test-cluster fuzz loadtest chaos chaos-cluster deps generate check vet fmt clean

help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-z-]+:.*## /{printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: build ## build and start the dev cloud (photon up)
	@mkdir -p $(SIMTMP)/photon-run && TMPDIR=$(SIMTMP)/photon-run ./$(BIN) up $(ARGS)

build: ## build bin/photon, bin/photon-loadtest and bin/photon-chaos
	$(GO) build $(VCS) -o $(BIN) ./cmd/photon
	$(GO) build -o bin/photon-loadtest ./cmd/photon-loadtest
	$(GO) build -o bin/photon-chaos ./cmd/photon-chaos

deps: ## install what the tests need (redis-server, cloud-init, chromium, haproxy) when missing
	@command -v redis-server >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq redis-server; }
	@command -v cloud-init >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq cloud-init; }
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }
	@command -v haproxy >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq haproxy; }

test: deps ## start a Redis for the tests and run every test with -race, then a short run of each fuzzer
	$(GO) build $(VCS) -o $(BIN) ./cmd/photon
	PHOTON_BIN=$(CURDIR)/$(BIN) SIMTMP=$(SIMTMP) ./scripts/with-redis.sh $(GO) test -race -count=1 -timeout 12m ./...
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(TESTFUZZ)

# The packages whose tests run on a Redis Cluster too: the stores, the event transport, the
# functions, the gateway and the end-to-end tests of the dev cloud and the CLI.
CLUSTERPKGS := ./shared/... ./events/... ./functions/... ./gateway/... ./cmd/... ./chaos/... ./loadtest/...

test-cluster: deps ## run the store's and the end-to-end tests against a real 3+3 Redis Cluster
	$(GO) build $(VCS) -o $(BIN) ./cmd/photon
	PHOTON_BIN=$(CURDIR)/$(BIN) SIMTMP=$(SIMTMP) ./scripts/with-redis-cluster.sh $(GO) test -race -count=1 -timeout 15m $(CLUSTERPKGS)

# The fuzzers: the token parsers, the token endpoint, the REST decoder and routes.
FUZZERS  := FuzzVerify:./shared/auth FuzzBearerToken:./shared/auth FuzzTokenRequest:./shared/auth \
            FuzzDecodeRequest:./gateway/rest FuzzRESTRequest:./gateway
FUZZTIME ?= 5s
# make test's short run counts executions rather than seconds: a run cut by a time limit
# while the engine minimises a new input can end in the engine's own "context deadline
# exceeded", a failure that says nothing of the code under test.
TESTFUZZ ?= 3000x

fuzz: deps ## run each fuzzer for FUZZTIME (default 5s; e.g. make fuzz FUZZTIME=5m)
	SIMTMP=$(SIMTMP) ./scripts/with-redis.sh sh -c 'set -e; for f in $(FUZZERS); do \
	  $(GO) test -run "^$$" -fuzz "^$${f%%:*}$$" -fuzztime $(FUZZTIME) "$${f#*:}"; done'

loadtest: deps ## burst VM creates at an in-process cloud on 32 simulated hosts and report (ARGS=... to change)
	$(GO) build -o bin/photon-loadtest ./cmd/photon-loadtest
	SIMTMP=$(SIMTMP) ./scripts/with-redis.sh sh -c './bin/photon-loadtest --redis $$REDIS_URL $(or $(ARGS),--hosts 32 --vms 2000 --concurrency 200)'

chaos: deps ## run Photon as separate processes, kill each kind of part under a mixed workload, check (ARGS=... to change)
	$(GO) build $(VCS) -o $(BIN) ./cmd/photon
	$(GO) build -o bin/photon-chaos ./cmd/photon-chaos
	TMPDIR=$(SIMTMP) ./bin/photon-chaos --photon $(BIN) $(or $(ARGS),--seed 1 --vms 1000 --rounds 2)

chaos-cluster: deps ## chaos on the scaled-out deployment: Redis Cluster, 2 gateways behind HAProxy, 2 replicas per function
	$(GO) build $(VCS) -o $(BIN) ./cmd/photon
	$(GO) build -o bin/photon-chaos ./cmd/photon-chaos
	TMPDIR=$(SIMTMP) ./bin/photon-chaos --photon $(BIN) --scaled-out $(or $(ARGS),--seed 1 --vms 1000 --rounds 2)

generate: ## regenerate the protobuf code (protoc from Debian, plugins pinned in go.mod)
	@command -v protoc >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq protobuf-compiler; }
	./scripts/generate.sh

check: generate vet ## what a reviewer runs: generated code up to date, gofmt, vet
	@git diff --exit-code -- '*.pb.go' '*.pb.gw.go' '*.json' || { echo "generated code is stale: run make generate"; exit 1; }
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }

vet: ## go vet
	$(GO) vet ./...

clean: ## remove build output
	rm -rf bin
