#!/usr/bin/env bash
# The whole test suite, from a fresh clone: builds, creates the trainer's venv, installs and starts
# the real services on loopback (Kafka in KRaft mode, the Schema Registry, Redis with AOF, and a Redis
# Cluster of 3 masters + 3 replicas for the cluster contract and failover tests), then runs
# the trainer's pytest suite and every TypeScript suite (unit, contract, topology, parity,
# integration). Services this script started are stopped when it exits.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/test-preamble.sh

step "python venv (training/.venv)"
py="$(bash training/setup-venv.sh | tail -n 1)"

step "trainer tests (pytest)"
(cd training && "$py" -m pytest -q)

step "engine tests (unit, contract, topology, parity)"
node scripts/run-tests.mjs unit contract topology parity

# A real public dataset end to end (pip fetches the CDNOW log; map → snapshot → train → baseline →
# backtest); fails unless churnflow's model beats the recency/frequency baseline on the same customers.
step "example: CDNOW end to end"
node scripts/run-example.mjs cdnow

step "report rendering in Debian's Chromium"
bash scripts/install-chromium.sh
node scripts/run-tests.mjs browser

# Beside the plaintext ports: Kafka SSL (client certificate) and SASL_SSL (PLAIN, SCRAM) listeners,
# Redis TLS and registry HTTPS, with a test CA made by openssl (scripts/services/secure.sh), for
# test/integration/secure-connections.int.test.ts.
step "services: Kafka (KRaft; plaintext, TLS, SASL_SSL), Schema Registry (HTTP, HTTPS), Redis (plain, TLS), Redis Cluster"
start_services redis-cluster   # not part of 'all' for start; 'stop all' includes it

step "integration tests against the real services"
# One file at a time: some tests restart the shared services. Every test/integration/*.int.test.ts
# runs, among them faults.int.test.ts (the small fault run) and fleet.int.test.ts (two and three
# engines in one group on 6 partitions against an uninterrupted single engine, ≈3–6 min).
node scripts/run-tests.mjs integration --test-concurrency=1
