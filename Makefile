# obi-lab: `make help` lists the targets.
SHELL := /bin/bash
MVN ?= mvn -B -q
AGENT_JAR := obi-agent/target/quarkus-app/quarkus-run.jar
BPF_OBJECT := bpf/build/obi.bpf.o

.PHONY: help deps build bpf agent collector run test unit bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

deps: ## install build and test dependencies (Debian/Ubuntu, as root)
	.ci/install-deps

bpf: ## build the BPF object (bpf/build/obi.bpf.o)
	$(MAKE) -C bpf

agent: bpf ## build the agent with the BPF object inside
	$(MVN) package -DskipTests

collector: ## build the lab's OpenTelemetry Collector from Go modules (collector-config/)
	collector-config/build.sh

build: agent ## build everything

run: build ## run the agent on this host (root); JSON Lines on stdout, options via JAVA_OPTS="-Dobi...."
	java $(JAVA_OPTS) -jar $(AGENT_JAR)

unit: bpf ## unit tests only (no root needed)
	$(MVN) test

test: deps bpf ## all tests: unit and integration against a real kernel, nginx, JDK, Python, curl, wrk, Prometheus, Collector (root)
	@[[ $$(id -u) -eq 0 ]] || { echo "make test: the integration tests load BPF programs: run as root" >&2; exit 1; }
	prometheus/test.sh
	collector=$$(collector-config/build.sh | tail -1) && $(MVN) verify -Dit -Dobi.collector.bin="$$collector"

bench: build ## capture rate: wrk against nginx without and with the agent (root)
	bench/capture-rate.sh

clean: ## remove build outputs
	$(MAKE) -C bpf clean
	$(MVN) clean
