# MetaStore build and test entry points. `make test` is what CI runs (.ci/run).
GO        ?= go
WASM_PATH := $(PATH):$(shell $(GO) env GOROOT)/lib/wasm
# The core's statement coverage may not drop below this (percent).
CORE_COVER_MIN := 85

.PHONY: all build run run-cluster test vet fmt-check web browser-deps test-web test-race test-wasm cover bench bench-cluster bench-ops bench-restart bench-watch bench-cpu bench-core bench-snapshot-memory fuzz clean

all: build

build:
	$(GO) build ./...
	GOOS=js GOARCH=wasm $(GO) build ./core/...

# One member on http://localhost:2379, data in ./default.etcd; the playground at /.
run: web
	$(GO) build -o bin/metastore ./cmd/metastore
	./bin/metastore --data-dir $(or $(DATA_DIR),default.etcd)

# A local 3-member cluster (clients on 2379, 22379, 32379), like etcd's Procfile; logs prefixed
# per member, data in ./cluster.etcd.
run-cluster: web
	$(GO) build -o bin/metastore ./cmd/metastore
	scripts/run-cluster.sh

test: vet fmt-check web browser-deps test-web test-race test-wasm cover

vet:
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./core/... ./wasm/...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt'ed:"; echo "$$out"; exit 1; fi

# The browser side, as static files in web/dist (the server embeds them and serves them at /;
# any static host can too): the playground (web/playground), the core as WebAssembly
# (wasm/, with Go's wasm_exec.js, and gzipped for servers that send it so), and the
# TypeScript client (web/client, generated from etcd's .proto files; also at
# web/client/dist/metastore.js). npm ci installs exactly what package-lock.json pins.
web:
	cd web && npm ci --no-audit --no-fund && npm run build
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags='-s -w' -o web/dist/metastore.wasm ./wasm
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" web/dist/
	gzip -9 -k -f web/dist/metastore.wasm
	@echo "web/dist/metastore.wasm: $$(wc -c < web/dist/metastore.wasm) bytes, $$(wc -c < web/dist/metastore.wasm.gz) gzipped"
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags='-s -w' -o web/dist/metastore-cluster.wasm ./wasm/cluster/tab
	gzip -9 -k -f web/dist/metastore-cluster.wasm
	@echo "web/dist/metastore-cluster.wasm: $$(wc -c < web/dist/metastore-cluster.wasm) bytes, $$(wc -c < web/dist/metastore-cluster.wasm.gz) gzipped"
	@test $$(wc -c < web/dist/metastore-cluster.wasm.gz) -le 3145728 || { echo "the in-tab cluster's module is over its 3 MiB gzipped budget (issue #14)"; exit 1; }

# Debian's Chromium for the browser tests (tests/browser), installed when missing.
browser-deps:
	@command -v chromium >/dev/null || { apt-get update && apt-get install -y chromium; }

# The playground's etcdctl console against the real core (web/dist/metastore.wasm) under Node.
# (Chromium runs it against etcdctl itself: tests/browser/etcdctl_test.go.)
test-web:
	cd web && npm run test:shell && npm run test:cluster

test-race:
	$(GO) test -race -count=1 -timeout 30m ./...

# The core's tests again, compiled to WebAssembly and run under Node: the same code the
# browser runs.
test-wasm:
	@command -v node >/dev/null || { apt-get update && apt-get install -y nodejs; }
	PATH="$(WASM_PATH)" GOOS=js GOARCH=wasm $(GO) test -count=1 ./core/... ./wasm/cluster/

cover:
	@mkdir -p out
	$(GO) test -count=1 -coverpkg=./core/... -coverprofile=out/core.cover ./core/... >/dev/null
	@pct=$$($(GO) tool cover -func=out/core.cover | awk '/^total:/ {sub("%","",$$3); print $$3}'); \
	echo "core coverage: $$pct% (minimum $(CORE_COVER_MIN)%)"; \
	awk -v p="$$pct" -v m="$(CORE_COVER_MIN)" 'BEGIN { exit !(p >= m) }'

# etcd's benchmark tool against metastore and a real etcd, side by side; writes
# docs/benchmarks.md. Not part of `make test` (it measures, it does not check).
bench:
	scripts/bench.sh $(or $(ROUNDS),3)

# The same with 3-member clusters (3 etcd, 3 metastore processes); writes its section of docs/benchmarks.md.
bench-cluster:
	scripts/bench-cluster.sh $(or $(ROUNDS),3)

# Restart time and put latency during a compaction of a large history, metastore beside etcd;
# writes its section of docs/benchmarks.md.
bench-ops:
	scripts/bench-ops.sh

# Restart time on 5M revisions over 1M keys, 3 alternating rounds (DATA=dir keeps the loaded
# histories for the next run); writes its section of docs/benchmarks.md.
bench-restart:
	scripts/bench-ops.sh restart

# Memory while the whole state moves (a follower's catch-up by snapshot, etcdctl snapshot
# save), against etcd; prints a table.
bench-snapshot-memory:
	scripts/snapshot-memory.sh

# The watch scenarios (issue #13): 10k watchers on one key, 100k on distinct keys, against etcd.
bench-watch:
	scripts/bench-watch.sh

# The CPU each server and the benchmark tool spend per request (issue #13's profiles), against etcd.
bench-cpu:
	scripts/bench-cpu.sh

bench-core:
	$(GO) test -run '^$$' -bench . -benchmem ./core/...

# Runs each fuzz target for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./core/ -run '^$$' -fuzz '^FuzzRange$$' -fuzztime $(FUZZTIME)
	$(GO) test ./core/ -run '^$$' -fuzz '^FuzzTxn$$' -fuzztime $(FUZZTIME)
	$(GO) test ./core/ -run '^$$' -fuzz '^FuzzRestore$$' -fuzztime $(FUZZTIME)
	$(GO) test ./core/backend/ -run '^$$' -fuzz '^FuzzDecodeRecord$$' -fuzztime $(FUZZTIME)
	$(GO) test ./server/pebblekv/ -run '^$$' -fuzz '^FuzzIndexRecord$$' -fuzztime $(FUZZTIME)
	$(GO) test ./core/mvcc/ -run '^$$' -fuzz '^FuzzLoadIndex$$' -fuzztime $(FUZZTIME)
	$(GO) test ./wasm/records/ -run '^$$' -fuzz '^FuzzEach$$' -fuzztime $(FUZZTIME)
	$(GO) test ./server/wal/ -run '^$$' -fuzz '^FuzzOpen$$' -fuzztime $(FUZZTIME)
	$(GO) test ./server/raftreq/ -run '^$$' -fuzz '^FuzzUnmarshal$$' -fuzztime $(FUZZTIME)
	$(GO) test ./server/node/ -run '^$$' -fuzz '^FuzzTokens$$' -fuzztime $(FUZZTIME)
	$(GO) test ./grpcweb/ -run '^$$' -fuzz '^FuzzHeaderBlock$$' -fuzztime $(FUZZTIME)
	$(GO) test ./server/snapfile/ -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./server/etcdsnap/ -run '^$$' -fuzz '^FuzzEtcdSnapConvert$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./server/grpccodec/ -run '^$$' -fuzz '^FuzzUnmarshal$$' -fuzztime $(FUZZTIME)

clean:
	rm -rf bin out web/client/dist
	find web/dist -mindepth 1 ! -name README.md -delete
