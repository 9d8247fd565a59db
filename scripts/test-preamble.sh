# Sourced by scripts/test-all.sh and scripts/test-faults.sh: what both do before their own steps, so
# the two stay the same — `step` headings, npm ci on a fresh clone, a build, and the real services'
# start with their stop on exit (the caller names extra services, e.g. redis-cluster).
step() { printf '\n== %s\n' "$*"; }

if [ ! -d node_modules ]; then
  step "npm ci"
  npm ci
fi
step "build"
npm run build --silent

services=scripts/services/services.sh

# start_services [EXTRA ...]: install and start Kafka, the registry and Redis (AOF: the fault harness
# restarts Redis and counts on it), then each extra service; every one is stopped when the script exits.
start_services() {
  bash "$services" install all
  bash "$services" start all --aof
  trap 'bash "$services" stop all >/dev/null 2>&1 || true' EXIT
  local extra
  for extra in "$@"; do bash "$services" start "$extra"; done   # 'stop all' stops these too
  eval "$(bash "$services" env)"
}
