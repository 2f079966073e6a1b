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
# by scripts/build-k8s.sh into ~/.cache/cutover: ~18 min the first time, instant when cached) and Toxiproxy for the
# fault tests (go install, ~20 s the first time), so `make test` provisions them too.
TEST_PROVISION_ARGS ?= --with nginx,chromium,k8s,toxiproxy,prometheus,mtail,compose

test:
	bash scripts/provision.sh $(TEST_PROVISION_ARGS) $(PROVISION_ARGS)
	$(MAKE) build
	npx jest $(JEST_ARGS)

# Records real workflow histories (dev server, local platform and router) into test/replay/histories for the replay
# suite that `make test` runs. Record after every change to what a workflow commands; never delete the older ones.
record-histories: provision build
	npx jest --testMatch '**/test/replay/record.recording.ts'

# The chaos soak (not part of `make test`): SOAK_ROUNDS deployments (default 30) of both strategies, each with the
# worker SIGKILLed at a random point and some with the Temporal server restarted; SOAK_SEED replays a run's choices.
soak: provision build
	npx jest --testMatch '**/test/chaos/soak.soak.ts' --testTimeout 86400000

# The Kubernetes driver on a real node (kubelet + containerd + runc on this machine; docs/kubernetes-real-node.md).
# Needs root; not part of `make test` yet (issue 14). Provisions the node's Debian packages, binaries and images first
# (--with k8s-node), and nginx for the zero-downtime suite. One file at a time (--runInBand): there is one node per
# machine, and every file starts and stops it.
test-real-node:
	bash scripts/provision.sh --with nginx,k8s-node $(PROVISION_ARGS)
	$(MAKE) build
	npx jest --runInBand --testMatch '**/test/**/*.realnode.ts' $(JEST_ARGS)

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
