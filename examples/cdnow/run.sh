#!/usr/bin/env bash
# The CDNOW purchase log end to end, no hand steps (npm run example -- cdnow):
#   fetch (pip: lifetimes==0.11.3) → labels → churnflow snapshot (the mapping reads the CSV as it is)
#   → churnflow train (group split on customers) → baseline on the same held-out customers
#   → churnflow backtest of the trained model on those customers → out/metrics.json
# Exits non-zero if churnflow's model does not beat the baseline on ROC-AUC and PR-AUC.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$here/out"
cf() { node "$root/bin/churnflow.js" "$@"; }
mkdir -p "$out"

py="$(bash "$root/training/setup-venv.sh" | tail -n 1)"
"$py" "$here/fetch.py" "$out"
"$py" "$here/labels.py" "$out"

cf snapshot -c "$here/mapping.yaml" --spec "$here/spec.yaml" -i "$out/cdnow.csv" \
  --labels "$out/labels.csv" --now 1998-07-01 -o "$out/snapshot.parquet"

rm -rf "$out/registry"
cf train --snapshot "$out/snapshot.parquet" --registry "$out/registry" --name cdnow-churn --model-version 1.0.0 \
  --split group --group-column customer_id --seed 7 | tee "$out/train.txt"
bundle="$out/registry/cdnow-churn/1.0.0"

(cd "$root/training" && "$py" "$here/baseline.py" "$out/snapshot.parquet" "$bundle" "$out") >/dev/null

# The held-out customers through the TypeScript engine and onnxruntime-node: the same rows and scores.
cf backtest -c "$here/mapping.yaml" --spec "$here/spec.yaml" -i "$out/cdnow.csv" \
  --labels "$out/validation-labels.csv" --now 1998-07-01 -m "cdnow=$bundle" -o "$out/backtest" >/dev/null 2>"$out/backtest.log"

node "$here/report.mjs" "$out"
