#!/usr/bin/env bash
# The whole test suite, from a fresh clone: builds, creates the trainer's venv, then runs the trainer's
# pytest suite and every TypeScript suite (unit, contract, topology, parity). Services needed by a
# suite are started by this script and stopped when it exits.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

if [ ! -d node_modules ]; then
  step "npm ci"
  npm ci
fi
step "build"
npm run build --silent

step "python venv (training/.venv)"
py="$(bash training/setup-venv.sh | tail -n 1)"

step "trainer tests (pytest)"
(cd training && "$py" -m pytest -q)

step "engine tests (unit, contract, topology, parity)"
node scripts/run-tests.mjs unit contract topology parity
