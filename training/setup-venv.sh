#!/usr/bin/env bash
# Create or refresh training/.venv from training/requirements.txt.
#
#   bash training/setup-venv.sh            # prints the venv's python path on its last line
#   PY=$(bash training/setup-venv.sh | tail -n 1)
#
# Idempotent: the venv is rebuilt from scratch only when it is missing, broken, or when
# requirements.txt (or the base interpreter's version) changed since the last successful install
# (a sha256 stamp inside the venv records that). When up to date it prints only the path.
# Base interpreter: $PYTHON if set, else python3 (needs CPython >= 3.11; the pins target 3.11).
# Exits non-zero with a message on stderr when anything fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
req="$here/requirements.txt"
stamp="$venv/.churnflow-requirements.sha256"
base_python="${PYTHON:-python3}"

die() { echo "setup-venv: $*" >&2; exit 1; }

[ -f "$req" ] || die "missing $req"
command -v "$base_python" >/dev/null 2>&1 || die "no '$base_python' on PATH (set PYTHON=/path/to/python3.11)"

py_version="$("$base_python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null)" \
  || die "'$base_python' does not run"
"$base_python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || die "Python >= 3.11 required, '$base_python' is $py_version"

# One installer at a time (CI may start several test suites at once).
lock="$here/.venv.lock"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$lock"
  flock 9
fi

want="$( { cat "$req"; echo "python=$py_version"; echo "layout=1"; } | "$base_python" -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"

up_to_date() {
  [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
    && "$venv/bin/python" -c 'import sys' >/dev/null 2>&1
}

if ! up_to_date; then
  echo "setup-venv: creating $venv (python $py_version) ..." >&2
  rm -rf "$venv"
  "$base_python" -m venv "$venv" || die "python -m venv failed (on Debian: apt-get install python3-venv)"
  log="$(mktemp "${TMPDIR:-/tmp}/churnflow-pip.XXXXXX.log")"
  if ! "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$req" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    rm -rf "$venv"
    die "pip install -r $req failed (full log: $log)"
  fi
  if ! "$venv/bin/python" -c 'import lightgbm, onnx, onnxmltools, onnxruntime, pyarrow, sklearn, numpy, pytest, optuna, mlflow, matplotlib' >>"$log" 2>&1; then
    tail -n 40 "$log" >&2
    rm -rf "$venv"
    die "installed packages do not import (full log: $log)"
  fi
  # Make `python -m churnflow_trainer` work from any directory with the venv's python.
  site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  echo "$here" >"$site/churnflow_trainer.pth"
  echo "$want" >"$stamp"
  rm -f "$log"
  echo "setup-venv: ready" >&2
fi

echo "$venv/bin/python"
