# slimtrace — `make help` lists the targets.
#
# Slow artifacts (fixture images, buildkitd, containerd's root) live outside the work tree, in
# $(SLIMTRACE_CACHE). Targets that need root call sudo when not run as root; the test targets
# that load BPF must themselves run as root: `sudo make test-privileged`.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

GO ?= go
SLIMTRACE_CACHE ?= /var/cache/slimtrace
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LOGDIR := $(SLIMTRACE_CACHE)/logs

# What tests read to find the services and fixtures (see .ci/services.sh and testdata/images/).
# SLIMTRACE_RUN moves the services' sockets and state, to run a second pair beside the usual one.
SLIMTRACE_RUN ?= /run
CONTAINERD_ADDRESS := $(SLIMTRACE_RUN)/slimtrace-containerd/containerd.sock
CONTAINERD_NAMESPACE := slimtrace-test
BUILDKIT_HOST := unix://$(SLIMTRACE_RUN)/slimtrace-buildkit/buildkitd.sock
SLIMTRACE_FIXTURES := $(SLIMTRACE_CACHE)/fixtures
export SLIMTRACE_CACHE SLIMTRACE_RUN CONTAINERD_ADDRESS CONTAINERD_NAMESPACE BUILDKIT_HOST SLIMTRACE_FIXTURES
# sudo's secure_path drops Go's directory; keep it, and the cached buildkit binaries, reachable.
export PATH := $(PATH):/usr/local/go/bin:$(SLIMTRACE_CACHE)/bin

# Fixture images (testdata/images/build.sh; the apps are in testdata/apps/).
FIXTURES := busybox-httpd busybox-cgi python-app go-static flask-static express nginx-static ruby-app php-app \
	java-app elixir-app cli-yq nonroot-app redis-db redis-app django-app
# check.sh runs one container per app: redis-app answers / only with a Redis beside it (issue 18).
CHECK_FIXTURES := $(filter-out redis-app,$(FIXTURES))
APT_PACKAGES := clang llvm bpftool libbpf-dev containerd runc debootstrap busybox-static skopeo \
	umoci apparmor strace wrk gcc-multilib jq curl openjdk-17-jdk-headless docker.io docker-registry time bc

# AS_ROOT runs a command as root with the environment above (sudo would drop it).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
AS_ROOT := $(SUDO) env PATH="$(PATH)" SLIMTRACE_CACHE=$(SLIMTRACE_CACHE) SLIMTRACE_RUN=$(SLIMTRACE_RUN) \
	CONTAINERD_ADDRESS=$(CONTAINERD_ADDRESS) CONTAINERD_NAMESPACE=$(CONTAINERD_NAMESPACE) \
	BUILDKIT_HOST=$(BUILDKIT_HOST) SLIMTRACE_FIXTURES=$(SLIMTRACE_FIXTURES)

.PHONY: help deps generate check-generated build test test-privileged e2e services services-stop \
	fixtures check-fixtures tracefs bench-tracer bench-builder bench-memory bench-scale bench-scale-10g bench-attach bench-load demo lint clean need-root \
	k8s-bin k8s-node k8s-node-stop

help: ## show this help
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z0-9_-]+:.*## / { printf "  %-18s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

deps: ## install every tool builds and tests need (apt; quick when all are there)
	@GO=$(GO) .ci/deps.sh $(APT_PACKAGES)

generate: ## regenerate BPF objects and Go bindings (go generate ./...)
	$(GO) generate ./...

check-generated: generate ## fail if generating changes committed files under bpf/ or internal/tracer/
	@changes=$$(git status --porcelain -- bpf internal/tracer); \
	if [[ -n $$changes ]]; then \
		echo "generated files differ from the committed ones; run 'make generate' and commit:" >&2; \
		echo "$$changes" >&2; \
		exit 1; \
	fi; \
	echo "generated files are up to date"

build: ## build bin/slimtrace
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o bin/slimtrace ./cmd/slimtrace

# The checker fails on a skip of any test outside *_priv_test.go files: a test that needs root, a
# daemon or a tool lives in one, so that a skip never hides it among the unit tests.
test: ## unit tests (no root, no daemons); only tests in *_priv_test.go files may skip
	$(GO) test -json ./... ./.ci/testcheck | $(GO) run ./.ci/testcheck -mode unit

test-privileged: need-root tracefs services fixtures ## all tests as root with BPF, containerd, buildkitd and fixtures; skips fail
	@mkdir -p $(LOGDIR)
	SLIMTRACE_TEST_PRIVILEGED=1 SLIMTRACE_E2E=1 $(GO) test -json -p 1 -count=1 -timeout 30m ./... \
		| $(GO) run ./.ci/testcheck -log $(LOGDIR)/test-privileged.json

# The matrix runs bin/slimtrace on every sample app (E2E_APPS=a,b for some) and writes its table
# to testdata/apps/e2e-results.md and into README.md. test-privileged runs it too, writing nothing.
E2E_APPS ?=
e2e: need-root build tracefs services fixtures ## build --verify every sample app; write the results table into README.md
	SLIMTRACE_E2E=1 SLIMTRACE_TEST_PRIVILEGED=1 SLIMTRACE_BIN=$(CURDIR)/bin/slimtrace SLIMTRACE_E2E_APPS=$(E2E_APPS) \
		SLIMTRACE_E2E_RESULTS=$(CURDIR)/testdata/apps/e2e-results.md SLIMTRACE_E2E_README=$(CURDIR)/README.md \
		$(GO) test -count=1 -timeout 60m -v -run 'E2E' ./internal/e2e
	@cat testdata/apps/e2e-results.md

services: ## start the test containerd and buildkitd (private state dirs; idempotent)
	@$(AS_ROOT) .ci/services.sh start
	@.ci/services.sh env

services-stop: ## stop the test containerd and buildkitd
	@$(AS_ROOT) .ci/services.sh stop

fixtures: ## build the fixture images into the cache dir (rebuilt only on change)
	@$(AS_ROOT) testdata/images/build.sh $(FIXTURES)

check-fixtures: services fixtures ## run each fixture image untraced and check its answers against testdata/apps/*/expect.json
	@$(AS_ROOT) testdata/apps/check.sh $(CHECK_FIXTURES)

# A real single-node Kubernetes (testdata/k8s/README.md): binaries built once per machine into the cache dir.
k8s-bin: ## build etcd and the Kubernetes binaries into $(SLIMTRACE_CACHE)/k8s-bin (~12 min once; quick when built)
	@testdata/k8s/build-k8s.sh

k8s-node: need-root k8s-bin ## start the single-node Kubernetes (idempotent); KUBECONFIG=/var/tmp/slimtrace-k8s/admin.kubeconfig
	@testdata/k8s/k8s-node.sh start

k8s-node-stop: need-root ## stop the single-node Kubernetes: pods, daemons, mounts and the k8s0 bridge removed
	@testdata/k8s/k8s-node.sh stop

tracefs: ## mount tracefs at /sys/kernel/tracing if it is not mounted
	@mountpoint -q /sys/kernel/tracing || $(SUDO) mount -t tracefs tracefs /sys/kernel/tracing

bench-tracer: need-root tracefs ## tracer overhead as ratios: traced/untraced/strace, and on an untraced cgroup
	$(GO) run ./internal/tracer/benchcmd

bench-builder: need-root build tracefs services fixtures ## builder: 5,000+ files by phase and format overhead; a whole build by phase
	$(GO) test -run '^$$' -bench BenchmarkBuilder -benchtime 1x ./internal/builder
	bin/slimtrace --state-path $(SLIMTRACE_CACHE)/bench-state build --containerd $(CONTAINERD_ADDRESS) \
		--namespace slimtrace-bench --continue-after probe --http-probe-cmd /api/info $(DEMO_IMAGE)

# Issue 17's big image: 200,000 files (1.0 GB, incompressible) under /data, of which the app reads one;
# bench-scale-10g: the same count of files, 10 GB. Prints ctr import vs slimtrace build by phase and peak RSS.
bench-memory: need-root build tracefs ## slimtrace trace of 10,000 and 100,000 files: peak RSS, bytes per traced file, losses
	testdata/bench/memory.sh 10000 100000

bench-scale: need-root build tracefs services ## big image: build time by phase vs `ctr images import`, paths kept, peak RSS
	testdata/bench/scale.sh 200000 5120

bench-scale-10g: need-root build tracefs services ## bench-scale with 10 GB in the same 200,000 files
	testdata/bench/scale.sh 200000 52000

# Issue 19's overhead while attached: wrk against two busybox httpd containers, A and its neighbour
# B, untraced and with `slimtrace profile container:A` attached, in 5 interleaved rounds of 10 s.
# The load benchmarks' floor: one empty program on sys_exit (benchcmd floor).
.PHONY: bin/benchcmd
bin/benchcmd:
	$(GO) build -o bin/benchcmd ./internal/tracer/benchcmd

bench-attach: need-root build bin/benchcmd tracefs services fixtures ## overhead while attached to a running server: req/s and p99 ratios under wrk, and a neighbour's
	testdata/bench/attach.sh busybox-httpd 5 10

bench-load: need-root build bin/benchcmd tracefs services fixtures ## 60 s of wrk against a traced nginx and a traced Python server: req/s ratios, losses, slimtrace's peak RSS
	testdata/bench/attach.sh nginx-static 3 60
	testdata/bench/attach.sh python-app 3 60

DEMO_IMAGE := docker-archive:$(SLIMTRACE_FIXTURES)/python-app.tar

demo: deps build services fixtures tracefs ## set everything up and build a slim image of the sample Python web app
	$(AS_ROOT) bin/slimtrace build --containerd $(CONTAINERD_ADDRESS) --namespace slimtrace-demo --verify \
		--continue-after probe --http-probe-cmd /api/info --copy-meta-artifacts demo-artifacts $(DEMO_IMAGE)

lint: ## go vet, gofmt and (if installed) shellcheck on the CI scripts
	$(GO) vet ./... ./.ci/testcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); [[ -z $$out ]] || { echo "gofmt needed:" $$out >&2; exit 1; }
	@if command -v shellcheck >/dev/null; then shellcheck .ci/*.sh .ci/run testdata/images/build.sh testdata/apps/check.sh; fi

clean: ## remove build outputs (the cache dir is kept)
	rm -rf bin/ .cache/
	$(GO) clean -testcache

need-root:
	@[[ $$(id -u) == 0 ]] || { echo "this target must run as root: sudo make $(MAKECMDGOALS)" >&2; exit 1; }
