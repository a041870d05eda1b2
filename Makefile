# obi-lab: `make help` lists the targets.
SHELL := /bin/bash
MVN ?= mvn -B -q
AGENT_JAR := obi-agent/target/quarkus-app/quarkus-run.jar
BPF_OBJECT := bpf/build/obi.bpf.o

.PHONY: help deps build bpf agent collector run up down logs incident slow-backend test unit e2e bench bench-peer fuzz reliability clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

deps: ## install build and test dependencies (Debian/Ubuntu, as root)
	.ci/install-deps

bpf: ## build the BPF object (bpf/build/obi.bpf.o), the contract's Java side and the test harness
	$(MAKE) -C bpf

agent: bpf ## build the agent with the BPF object inside
	$(MVN) package -DskipTests

collector: ## build the lab's OpenTelemetry Collector from Go modules (collector-config/)
	collector-config/build.sh

build: agent ## build everything

run: build ## run the agent on this host (root); JSON Lines on stdout, options via JAVA_OPTS="-Dobi...."
	java @obi-agent/jvm.options $(JAVA_OPTS) -jar $(AGENT_JAR)

unit: bpf ## unit tests only (no root needed): the kernel's parsers on the host, the agent's tests
	$(MAKE) -C bpf test
	$(MVN) test

COMPOSE := docker compose
INCIDENT_DOWN_MS ?= 3000
SLOW_MS ?= 300

up: ## bring the lab up: agent, Collector, Prometheus, Jaeger, Grafana and the demo (OBI_DEMO=off: without it)
	$(COMPOSE) up -d --build --wait
	@echo "Grafana http://127.0.0.1:3000  Jaeger http://127.0.0.1:16686  Prometheus http://127.0.0.1:9090"

down: ## stop the lab and remove its volumes
	$(COMPOSE) down -v

logs: ## follow the logs (the agent's request log, the load balancer's access log with 499s)
	$(COMPOSE) logs -f --tail=50

incident: ## replay the seed incident now: cloud B's interfaces restart like `netplan apply` (INCIDENT_DOWN_MS=3000)
	@echo "incident: restarting the interfaces of cloud B for $(INCIDENT_DOWN_MS) ms (backend-b1, backend-b2)"
	$(COMPOSE) exec -T fault-b1 netplan-apply $(INCIDENT_DOWN_MS) & $(COMPOSE) exec -T fault-b2 netplan-apply $(INCIDENT_DOWN_MS); wait
	@echo "incident: within a minute, Grafana's '499 and tail latency' dashboard shows cloud B's p99 and 499s rise,"
	@echo "  with the interface outage as an annotation: http://127.0.0.1:3000/d/obi-499-tail-latency"
	@echo "  abandoned requests and their TCP evidence in Jaeger: http://127.0.0.1:16686/search?service=nginx&tags=%7B%22http.response.status_code%22%3A%22499%22%7D"

slow-backend: ## make cloud A's backend-a2 slow on purpose: LATENCY_MS=SLOW_MS (300; SLOW_MS=15 puts it back)
	CLOUD_A2_LATENCY_MS=$(SLOW_MS) $(COMPOSE) up -d --no-deps --wait backend-a2
	@# the new container may have a new address: nginx resolves its upstreams when it (re)loads
	$(COMPOSE) exec -T lb nginx -s reload
	@echo "slow-backend: backend-a2 answers in $(SLOW_MS) ms (checkout: three times that). Grafana's table"
	@echo "  'Slowest requests of the last 15 minutes and why' says processing for cloud-a's slow requests,"
	@echo "  network for cloud B's during an incident: http://127.0.0.1:3000/d/obi-499-tail-latency"

SOAK_MINUTES ?= 60

.PHONY: soak
soak: build ## steady mixed load with churn for SOAK_MINUTES (60): RSS, kernel tables, series each minute -> bench/build/reliability/soak.md (root)
	@[[ $$(id -u) -eq 0 ]] || { echo "make soak: the agent loads BPF programs: run as root" >&2; exit 1; }
	bench/reliability/soak.py --minutes $(SOAK_MINUTES)
	@cat bench/build/reliability/soak.md

test: deps bpf ## all tests: unit, integration (real kernel, nginx, JDK, Prometheus, Collector, Jaeger), stack configs, e2e, bench smoke (root)
	@[[ $$(id -u) -eq 0 ]] || { echo "make test: the integration tests load BPF programs: run as root" >&2; exit 1; }
	$(MAKE) -C bpf test arm64
	bins=$$(.ci/check-stack | tail -2) && collector=$$(head -1 <<<"$$bins") && jaeger=$$(tail -1 <<<"$$bins") \
	  && $(MVN) verify -Dit -Dobi.collector.bin="$$collector" -Dobi.jaeger.bin="$$jaeger"
	bench/reliability/fuzzing.py --smoke # every parser's fuzz target for a second: the harness cannot rot
	e2e/run.sh
	bench/run.py --smoke # the benchmark harness, so it cannot rot: figures, no assertion on speed

e2e: bpf ## the real compose.yaml under a Docker engine of its own: up, incident, assertions, down (root)
	e2e/run.sh

bench: build ## overhead vs no agent and vs the OpenTelemetry Java agent -> docs/benchmarks.md, .png (root, ~20 min)
	bench/run.py

bench-peer: build ## side by side with Coroot's node-agent, built by you: COROOT=path -> docs/benchmarks-peer.md (root, ~4 min)
	@[[ -n "$(COROOT)" ]] || { echo "make bench-peer COROOT=/path/to/coroot-node-agent"; exit 2; }
	bench/peer.py --coroot $(COROOT)

FUZZ_SECONDS ?= 60

fuzz: ## coverage-guided fuzzing of every parser of untrusted bytes, FUZZ_SECONDS per target (Jazzer) -> bench/build/reliability/fuzzing.md
	bench/reliability/fuzzing.py --seconds $(FUZZ_SECONDS)

# docs/reliability.md: each section's script writes bench/build/reliability/<section>.md; the report is
# the fragments there, in this order. RELIABILITY_SECTIONS="fuzzing" reruns one and keeps the others.
RELIABILITY_SECTIONS ?= fuzzing kernel-input exposure faults soak privilege
RELIABILITY_ALL := fuzzing kernel-input exposure faults soak privilege

reliability: build ## hardening figures -> docs/reliability.md: fuzzing, hostile input, exposure, faults, soak (root, long)
	mkdir -p bench/build/reliability
	failed=; for section in $(RELIABILITY_SECTIONS); do \
	  bench/reliability/$$section.* --out bench/build/reliability/$$section.md || failed="$$failed $$section"; done; \
	{ cat bench/reliability/header.md; for section in $(RELIABILITY_ALL); do \
	  f=bench/build/reliability/$$section.md; [[ -f $$f ]] && { echo; cat $$f; }; done; } > docs/reliability.md; \
	[[ -z $$failed ]] || { echo "reliability: failed:$$failed (docs/reliability.md shows what they found)" >&2; exit 1; }

clean: ## remove build outputs
	$(MAKE) -C bpf clean
	$(MVN) clean
