#!/usr/bin/env bash
# Set up (or reuse) training/.venv and run the trainer's pytest suite. Extra args go to pytest.
#   bash training/run-tests.sh [-q] [-k expr]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py="$(bash "$here/setup-venv.sh" | tail -n 1)"
cd "$here"
exec "$py" -m pytest "$@"
