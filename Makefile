# Cutover's entry points. `make test` is what CI runs (through .ci/run); it provisions and builds first.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

# Extra arguments for jest, e.g. make test JEST_ARGS="test/tooling --verbose"
JEST_ARGS ?=
# Extra arguments for scripts/provision.sh, e.g. make provision PROVISION_ARGS="--with nginx,chromium"
PROVISION_ARGS ?=

.PHONY: provision build lint test demo bench bench-full temporal-up temporal-down clean record-histories soak \
	test-real-node

provision:
	bash scripts/provision.sh $(PROVISION_ARGS)

build:
	npx tsc -p tsconfig.build.json

# Runs all three checks, then fails if any failed (so one run shows every problem).
lint:
	@rc=0; \
	echo '> eslint .'; npx eslint . || rc=1; \
	echo '> prettier --check .'; npx prettier --check . || rc=1; \
	echo '> tsc -p tsconfig.json --noEmit'; npx tsc -p tsconfig.json --noEmit || rc=1; \
	exit $$rc

# The tests drive real nginx, mtail and a real Chromium (Debian packages), a real Kubernetes API server (binaries built
# by scripts/build-k8s.sh into ~/.cache/cutover: ~18 min the first time, instant when cached), Toxiproxy for the
# fault tests (go install, ~20 s the first time) and a real single-node cluster (kubelet + containerd + runc on this
# machine, docs/kubernetes-real-node.md: Debian's containerd, runc and CNI plugins, kubelet and kube-proxy built by
# scripts/build-k8s.sh --node, ~15 min the first time), so `make test` provisions them too.
#
# Two jest runs: the main suites (*.test.ts, in parallel), then the real-node suites (*.realnode.ts) one file at a
# time: there is one node per machine and every file starts and stops it (flock waits for another run's node). Both
# run even when the first fails; the target fails if either did. The real-node run needs root: REAL_NODE=0 skips it.
# JEST_ARGS go to the first run, JEST_REAL_NODE_ARGS to the second (CI gives each its own --json report).
TEST_PROVISION_ARGS ?= --with nginx,chromium,k8s,k8s-node,toxiproxy,prometheus,mtail,compose
REAL_NODE ?= 1
JEST_REAL_NODE_ARGS ?=
REAL_NODE_LOCK ?= /tmp/cutover-real-node.lock

test:
	bash scripts/provision.sh $(TEST_PROVISION_ARGS) $(PROVISION_ARGS)
	$(MAKE) build
	@rc=0; \
	echo '> npx jest $(JEST_ARGS)'; npx jest $(JEST_ARGS) || rc=1; \
	if [[ "$(REAL_NODE)" != 0 ]]; then \
	  echo "> npx jest --runInBand --testMatch '**/test/**/*.realnode.ts' $(JEST_REAL_NODE_ARGS)"; \
	  flock $(REAL_NODE_LOCK) npx jest --runInBand --testMatch '**/test/**/*.realnode.ts' $(JEST_REAL_NODE_ARGS) || rc=1; \
	else \
	  echo '> REAL_NODE=0: the real-node suites (*.realnode.ts) are skipped'; \
	fi; \
	exit $$rc

# Records real workflow histories (dev server, local platform and router) into test/replay/histories for the replay
# suite that `make test` runs. Record after every change to what a workflow commands; never delete the older ones.
record-histories: provision build
	npx jest --testMatch '**/test/replay/record.recording.ts'

# The chaos soak (not part of `make test`): SOAK_ROUNDS deployments (default 30) of both strategies, each with the
# worker SIGKILLed at a random point and some with the Temporal server restarted; SOAK_SEED replays a run's choices.
soak: provision build
	npx jest --testMatch '**/test/chaos/soak.soak.ts' --testTimeout 86400000

# The real-node suites alone (the second run of `make test`; docs/kubernetes-real-node.md). Needs root. Provisions the
# node's Debian packages, binaries and images first (--with k8s-node), and nginx for the zero-downtime suite.
test-real-node:
	bash scripts/provision.sh --with nginx,k8s-node $(PROVISION_ARGS)
	$(MAKE) build
	flock $(REAL_NODE_LOCK) npx jest --runInBand --testMatch '**/test/**/*.realnode.ts' $(JEST_ARGS)

demo: provision build
	node dist/examples/demo.js

# Benchmarks print figures (ratios against a baseline measured in the same run), write bench/results/<name>.json and
# docs/img/*.png; see docs/benchmarks.md. `bench` is the quick set (about 4 minutes on a quiet machine); `bench-full`
# runs every benchmark at full size, the Kubernetes ones on kwok too (about 40 minutes). Run them on a quiet machine.
bench: build
	bash scripts/provision.sh --with nginx
	BENCH_QUICK=1 node dist/bench/router-metrics.js
	BENCH_QUICK=1 node dist/bench/router-vs-nginx.js
	node dist/bench/orchestration.js --quick
	BENCH_QUICK=1 node dist/bench/switch-latency.js
	BENCH_QUICK=1 node dist/bench/switch-traffic.js

bench-full: build
	bash scripts/provision.sh --with nginx,k8s
	node dist/bench/router-metrics.js
	node dist/bench/router-vs-nginx.js
	node dist/bench/nginx-reload.js
	node dist/bench/orchestration.js --full
	node dist/bench/switch-latency.js
	node dist/bench/switch-traffic.js
	BENCH_FULL=1 node --max-old-space-size=512 dist/bench/concurrency.js
	BENCH_FULL=1 node dist/bench/kubernetes-rolling.js

temporal-up:
	bash scripts/temporal-server.sh start

temporal-down:
	bash scripts/temporal-server.sh stop

# Stops the dev server first (its pid file lives in .cutover).
clean:
	bash scripts/temporal-server.sh stop
	rm -rf dist .cutover
