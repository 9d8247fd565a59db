#!/usr/bin/env bash
# Retrains the bundled model from the simulator, reproducibly:
#   simulate → point-in-time snapshot (the engine's own feature code) → LightGBM → ONNX bundle.
# The committed models/churn-gbdt/<version> bundles are this script's output. Same code, same seed → same bundle.
#
#   bash scripts/retrain-model.sh [out-dir]      (default models/churn-gbdt/$VERSION)
# Env: CUSTOMERS (4000), DAYS (300), SEED (7), VERSION (1.1.0), WARMUP_DAYS (90; 1.0.0 was built with 30), CREATED_AT (2026-11-26T00:00:00Z),
#      REFIT (0: the 1.x bundles were trained before the trainer refit on the early-stopping rows by default; 1 for new versions),
#      TRIALS (0: the default LightGBM parameters; N: an Optuna search of N trials first, seeded with SEED — 1.3.0 used 40),
#      TIMEOUT_S (search time budget; unset for a reproducible run), TRACKING_URI (MLflow store; default training/mlruns/mlflow.db).
# The run is tracked in MLflow; its run id is printed at the end (register it elsewhere with
# `churnflow model register --mlflow-run <id>`).
set -euo pipefail
cd "$(dirname "$0")/.."
customers="${CUSTOMERS:-4000}"
days="${DAYS:-300}"
seed="${SEED:-7}"
warmup="${WARMUP_DAYS:-90}"
version="${VERSION:-1.1.0}"
created_at="${CREATED_AT:-2026-11-26T00:00:00Z}"
refit_flag=()
[ "${REFIT:-0}" = "1" ] || refit_flag=(--no-refit)
search_flags=()
[ "${TRIALS:-0}" = "0" ] || search_flags=(--trials "$TRIALS")
[ -z "${TIMEOUT_S:-}" ] || search_flags+=(--timeout-s "$TIMEOUT_S")
[ -z "${TRACKING_URI:-}" ] || search_flags+=(--tracking-uri "$TRACKING_URI")
out="${1:-models/churn-gbdt/$version}"
work="out/training"

npm run build --silent
mkdir -p "$work"
echo "retrain: snapshot of $customers simulated customers over $days days (seed $seed)" >&2
node bin/churnflow.js snapshot --customers "$customers" --days "$days" --seed "$seed" \
  --every-days 7 --warmup-days "$warmup" -o "$work/snapshot.parquet"
py="$(bash training/setup-venv.sh | tail -n 1)"
out_abs="$(realpath -m "$out")"
snap_abs="$(realpath -m "$work/snapshot.parquet")"
run_info="$(realpath -m "$work/run.json")"
echo "retrain: training with $py" >&2
(cd training && "$py" -m churnflow_trainer train --snapshot "$snap_abs" --out "$out_abs" \
  --name churn-gbdt --version "$version" --seed "$seed" --created-at "$created_at" "${refit_flag[@]}" \
  "${search_flags[@]}" --run-info "$run_info")
echo "retrain: wrote $out (MLflow run $(sed -n 's/.*"run_id": "\([0-9a-f]*\)".*/\1/p' "$run_info"))" >&2
