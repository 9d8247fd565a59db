"""The baseline the CDNOW example must beat, fitted in the same run on the same held-out customers:
logistic regression on recency (days since the last purchase) and frequency (purchases in the last
365 days, i.e. all history before the observation in this log), standardised, fitted on the rows the
churnflow model trained on (train + early-stopping customers), scored on its validation customers.
The customer split is the trainer's own group split (same function, shares and seed), so both models
are judged on exactly the same rows with the same metric code.

    python baseline.py SNAPSHOT.parquet BUNDLE_DIR OUT_DIR
      → OUT_DIR/metrics.json {roc_auc, pr_auc, baseline_roc_auc, baseline_pr_auc, …}
      → OUT_DIR/validation-labels.csv (the held-out rows, for `churnflow backtest --labels`)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from churnflow_trainer.metrics import evaluate
from churnflow_trainer.decision import Costs
from churnflow_trainer.snapshot import load_snapshot
from churnflow_trainer.split import group_split

RECENCY = "days_since_last_purchase"
FREQUENCY = "purchases_365d"


def main(snapshot: str, bundle: str, out_dir: str) -> None:
    manifest = json.loads((Path(bundle) / "manifest.json").read_text())
    split_info = manifest["training_data"]["split"]
    if not split_info["method"].startswith("group"):
        raise SystemExit("baseline: the model must be trained with a group split on customers")
    snap = load_snapshot(snapshot, ("customer_id",))
    params = manifest["params"]
    split = group_split(snap.customer_id, split_info["validation_share"], split_info["early_stopping_share"], int(params["seed"]))
    y = snap.label.astype(np.int64)
    if int(split.validation.sum()) != manifest["metrics"]["validation"]["rows"]:
        raise SystemExit("baseline: the split does not reproduce the trainer's validation rows")

    names = snap.feature_names
    x = snap.x_raw[:, [names.index(RECENCY), names.index(FREQUENCY)]]
    if np.isnan(x).any():
        raise SystemExit("baseline: recency/frequency missing on some rows (every observed customer has bought)")
    fit_rows = split.train | split.early_stopping
    scaler = StandardScaler().fit(x[fit_rows])
    lr = LogisticRegression(max_iter=1000).fit(scaler.transform(x[fit_rows]), y[fit_rows])
    va = split.validation
    scores = lr.predict_proba(scaler.transform(x[va]))[:, 1]
    costs = Costs(**{k: float(v) for k, v in manifest["decision"]["costs"].items()})
    base = evaluate(y[va], scores, snap.observation_time[va], 0.5, costs)
    model = manifest["metrics"]["validation"]
    metrics = {
        "roc_auc": model["roc_auc"],
        "pr_auc": model["pr_auc"],
        "baseline_roc_auc": base["roc_auc"],
        "baseline_pr_auc": base["pr_auc"],
        "validation_rows": int(va.sum()),
        "validation_customers": int(np.unique(snap.customer_id[va]).size),
        "validation_positive_rate": float(y[va].mean()),
        "baseline": "logistic regression on days_since_last_purchase and purchases_365d (standardised)",
        "model": f"{manifest['name']}@{manifest['version']}",
    }
    out = Path(out_dir)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    with open(out / "validation-labels.csv", "w", encoding="ascii") as f:
        f.write("customer_id,observation_time,label,group\n")
        for i in np.flatnonzero(va):
            f.write(f"{snap.customer_id[i]},{int(snap.observation_time[i])},{int(y[i])},{snap.customer_id[i]}\n")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main(*sys.argv[1:4])
