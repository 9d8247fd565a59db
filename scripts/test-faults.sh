#!/usr/bin/env bash
# The fault-injection proof (npm run test:faults): builds, installs and starts the real services
# (Kafka in KRaft mode, the Schema Registry, Redis with AOF — the harness restarts Redis and the
# broker mid-run), then runs test/faults/main.ts. Arguments go to the harness: --small, --events N,
# --partitions N, --kills N, --seed N, --store cluster --failovers N --redis-restarts 0 (state on the
# Redis Cluster, started here too), … (see test/faults/fault-options.ts). Services this script
# started are stopped when it exits; the exit code is the harness's (1: outputs or state differ).
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/test-preamble.sh

step "services: Kafka (KRaft), Schema Registry, Redis (AOF)"
case " $* ${CHURNFLOW_FAULTS_STORE:-} " in
  *" cluster "*|*"--store=cluster"*) start_services redis-cluster ;;
  *) start_services ;;
esac

step "fault run"
node --enable-source-maps dist/test/faults/main.js "$@"
