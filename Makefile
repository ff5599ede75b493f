# Photon's build. `make run` starts the dev cloud; `make test` runs every test.
GO       ?= go
BIN      := bin/photon
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# vcsim writes real files per VM: a tmpfs makes the simulated hosts several times faster.
SIMTMP   := $(shell [ -d /dev/shm ] && echo /dev/shm || echo /tmp)

.DEFAULT_GOAL := help
.PHONY: help run build test deps generate check vet fmt clean

help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-z-]+:.*## /{printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: build ## build and start the dev cloud (photon up)
	@mkdir -p $(SIMTMP)/photon-run && TMPDIR=$(SIMTMP)/photon-run ./$(BIN) up $(ARGS)

build: ## build bin/photon
	$(GO) build -o $(BIN) ./cmd/photon

deps: ## install what the tests need (redis-server, protoc) when missing
	@command -v redis-server >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq redis-server; }

test: deps ## start a Redis for the tests and run every test with -race
	@set -e; dir=$$(mktemp -d $(SIMTMP)/photon-test.XXXXXX); \
	port=$$(shuf -i 20000-40000 -n 1); \
	redis-server --port $$port --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
	  --dir $$dir --pidfile $$dir/redis.pid --logfile $$dir/redis.log; \
	trap 'kill $$(cat $$dir/redis.pid) 2>/dev/null; rm -rf $$dir' EXIT; \
	for i in $$(seq 50); do redis-cli -p $$port ping >/dev/null 2>&1 && break; sleep 0.1; done; \
	PHOTON_TEST_REDIS_URL=redis://127.0.0.1:$$port TMPDIR=$$dir $(GO) test -race -count=1 -timeout 12m ./...

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
