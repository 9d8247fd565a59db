"""Evaluation metrics (scikit-learn) for one period."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from .decision import Costs, net_value


def evaluate(y: np.ndarray, scores: np.ndarray, observation_time: np.ndarray, threshold: float, costs: Costs) -> dict:
    y = np.asarray(y).astype(np.int64)
    s = np.asarray(scores, dtype=np.float64)
    pred = (s >= threshold).astype(np.int64)
    both = 0 < int(y.sum()) < y.size
    return {
        "roc_auc": float(roc_auc_score(y, s)) if both else None,
        "pr_auc": float(average_precision_score(y, s)) if both else None,
        "recall": float(recall_score(y, pred, zero_division=0)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "brier": float(brier_score_loss(y, s)),
        "logloss": float(log_loss(y, s, labels=[0, 1])),
        "rows": int(y.size),
        "positives": int(y.sum()),
        "from": int(np.min(observation_time)),
        "to": int(np.max(observation_time)),
        "net_value": net_value(y, s, threshold, costs),
    }
