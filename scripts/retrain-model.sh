#!/usr/bin/env bash
# Retrains the bundled model from the simulator, reproducibly:
#   simulate → point-in-time snapshot (the engine's own feature code) → LightGBM → ONNX bundle.
# The committed models/churn-gbdt/<version> bundles are this script's output. Same code, same seed → same bundle.
#
#   bash scripts/retrain-model.sh [out-dir]      (default models/churn-gbdt/$VERSION)
# Env: CUSTOMERS (4000), DAYS (300), SEED (7), VERSION (1.1.0), WARMUP_DAYS (90; 1.0.0 was built with 30), CREATED_AT (2026-11-26T00:00:00Z),
#      REFIT (0: the 1.x bundles were trained before the trainer refit on the early-stopping rows by default; 1 for new versions)
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
echo "retrain: training with $py" >&2
(cd training && "$py" -m churnflow_trainer train --snapshot "$snap_abs" --out "$out_abs" \
  --name churn-gbdt --version "$version" --seed "$seed" --created-at "$created_at" "${refit_flag[@]}")
echo "retrain: wrote $out" >&2
