# lockstep: the two commands that matter are `make demo` and `make test`.
GO       ?= go
PKGS     ?= ./...
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)

.PHONY: build test test-short services stop-services bench bench-e2e bench-stock demo vet fmt lint-rules soak e2e

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/lockstep ./cmd/lockstep

# services starts (installing if missing) the real Kafka broker and
# ClickHouse server the integration tests use, promtool, and the Python
# clients of the contract tests (zeep, confluent-kafka). Idempotent.
services:
	deploy/local/kafka.sh start
	deploy/local/clickhouse.sh start
	deploy/local/prometheus.sh install
	deploy/local/python.sh install
	deploy/local/chromium.sh install

stop-services:
	-deploy/local/kafka.sh stop
	-deploy/local/clickhouse.sh stop

vet:
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1)

lint-rules:
	promtool check rules deploy/prometheus/rules/lockstep.rules.yml
	promtool test rules deploy/prometheus/rules/lockstep.rules.test.yml

# test is the README's test command: real services, every test, vet, rules.
test: services vet lint-rules
	$(GO) test -count=1 -timeout 30m $(PKGS)

# test-short runs without starting services (integration tests skip
# locally; with CI=true they fail instead).
test-short: vet
	$(GO) test -count=1 -timeout 10m $(PKGS)

# soak repeats the real-broker rebalance, crash and SIGKILL tests with a new
# seed each run (SOAK_RUNS, default 20; SOAK_SEED, the first seed), stops at
# the first failure and prints the seed to re-run it with. SOAK_KILLS (the
# test binary's -kills, default 96 where make test uses 30) is how many times
# each run's crash test kills the processor, spread over its whole input;
# the SIGKILL test kills a sixth as often. A failure re-runs with
#   bin/stream.test -test.run <test> -seed=<seed> -kills=<kills>
SOAK_RUNS ?= 20
SOAK_SEED ?= 1
SOAK_KILLS ?= 96
SOAK_TESTS ?= TestRebalanceKafka$$|TestExactlyOnceUnderCrashesKafka$$|TestSIGKILLKafka$$
soak: services
	$(GO) test -c -o bin/stream.test ./processors/stream/
	@cd processors/stream && start=$$(date +%s); \
	for i in $$(seq 0 $$(($(SOAK_RUNS) - 1))); do \
		seed=$$(($(SOAK_SEED) + i)); t0=$$(date +%s); \
		if ! CI=true ../../bin/stream.test -test.run '$(SOAK_TESTS)' -test.timeout 20m -seed=$$seed -kills=$(SOAK_KILLS) > ../../bin/soak-$$seed.log 2>&1; then \
			tail -n 40 ../../bin/soak-$$seed.log; echo "soak: run $$((i + 1)) failed with -seed=$$seed -kills=$(SOAK_KILLS) (log: bin/soak-$$seed.log)"; exit 1; \
		fi; \
		echo "soak: run $$((i + 1))/$(SOAK_RUNS) seed $$seed passed in $$(($$(date +%s) - t0))s"; \
	done; \
	echo "soak: $(SOAK_RUNS) of $(SOAK_RUNS) passed in $$(($$(date +%s) - start))s"

# e2e runs only the flows' end-to-end tests on the real broker and
# ClickHouse at the issues' sizes (E2E_MOVEMENTS, default 50,000;
# E2E_ORDERS, 20,000; E2E_SHIPPED_ORDERS, 10,000; E2E_POS, 5,000).
E2E_MOVEMENTS ?= 50000
E2E_ORDERS ?= 20000
E2E_SHIPPED_ORDERS ?= 10000
E2E_SHIPMENTS_PER_ORDER ?= 4
E2E_POS ?= 5000
e2e: services
	CI=true LOCKSTEP_E2E_MOVEMENTS=$(E2E_MOVEMENTS) LOCKSTEP_E2E_ORDERS=$(E2E_ORDERS) LOCKSTEP_E2E_SHIPPED_ORDERS=$(E2E_SHIPPED_ORDERS) LOCKSTEP_E2E_SHIPMENTS_PER_ORDER=$(E2E_SHIPMENTS_PER_ORDER) LOCKSTEP_E2E_POS=$(E2E_POS) $(GO) test -count=1 -timeout 120m -run 'Test(Stock|Orders|Fulfilment|Inbound)FlowKafka$$' -v ./cmd/lockstep/internal/demo/

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./schemas/ ./state/ ./processors/...

# bench-e2e is the end-to-end throughput benchmark: stock movements per
# second from Clarus webhook to Prima with exactly-once, on the real broker
# (with the ClickHouse ledger) and on kfake, one full run per iteration,
# BENCH_COUNT runs each (LOCKSTEP_BENCH_MOVEMENTS, default 50,000);
# BENCH_FLAGS=-v adds a timed progress line a second.
BENCH_COUNT ?= 3
BENCH_FLAGS ?=
bench-e2e: services
	CI=true $(GO) test -run '^$$' -bench 'Benchmark(Stock|Orders|Inbound)Flow' -benchtime 1x -count $(BENCH_COUNT) -timeout 60m $(BENCH_FLAGS) ./cmd/lockstep/internal/demo/

# bench-stock is the stock processor alone on the real broker, default
# runtime settings, BENCH_COUNT runs (LOCKSTEP_BENCH_STOCK_MOVEMENTS, default
# 1,000,000). With LOCKSTEP_BENCH_KSTREAMS_CP set to the classpath of the
# Kafka Streams peer (../shared/peers/kstreams, built outside shared/), each
# run also measures the peer on the same movements (metrics prefixed ks-).
bench-stock: services
	CI=true $(GO) test -run '^$$' -bench 'BenchmarkStockKafka$$' -benchtime 1x -count $(BENCH_COUNT) -timeout 60m $(BENCH_FLAGS) ./processors/stock/

# demo is the README's first command: the stock flow end to end with an
# embedded Kafka, both simulators and the checks (DEMO_FLAGS, e.g.
# "--for 60s --json").
DEMO_FLAGS ?= --for 30s
demo:
	$(GO) run ./cmd/lockstep demo $(DEMO_FLAGS)

fmt:
	gofmt -w $$(git ls-files '*.go')
