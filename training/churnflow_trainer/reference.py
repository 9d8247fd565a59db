"""Reference distributions for drift monitoring (docs/formats.md, `reference`).

k inner edges -> k+1 bins (-inf, e0], (e0, e1], ..., (e_{k-1}, +inf); shares over non-missing values.
- at most `max_bins` distinct values (counts, flags, small categories): one bin per value
  (edges = every distinct value but the largest);
- otherwise: cut points at the 10%, 20%, ..., 90% quantiles (values that occur in the data,
  `inverted_cdf`), de-duplicated, and any cut point equal to the maximum dropped, so no bin is empty.
  Heavy ties (e.g. 60% zeros) therefore give fewer bins.
"""

from __future__ import annotations

import numpy as np

MAX_BINS = 10


def edges_for(values: np.ndarray, max_bins: int = MAX_BINS) -> list[float]:
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return []
    distinct = np.unique(v)
    if distinct.size <= max_bins:
        return [float(e) for e in distinct[:-1]]
    qs = np.arange(1, max_bins) / max_bins
    cuts = np.unique(np.quantile(v, qs, method="inverted_cdf"))
    cuts = cuts[cuts < distinct[-1]]
    return [float(e) for e in cuts]


def shares_for(values: np.ndarray, edges: list[float]) -> list[float]:
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return [1.0] + [0.0] * len(edges)  # nothing observed: keep the shape, sum stays 1
    idx = np.searchsorted(np.asarray(edges, dtype=np.float64), v, side="left")  # e[i-1] < v <= e[i]
    counts = np.bincount(idx, minlength=len(edges) + 1)
    return [float(c) / v.size for c in counts]


def feature_reference(raw: np.ndarray) -> dict:
    raw = np.asarray(raw, dtype=np.float64)
    miss = np.isnan(raw)
    present = raw[~miss]
    edges = edges_for(present)
    return {
        "edges": edges,
        "shares": shares_for(present, edges),
        "missing_share": float(miss.mean()) if raw.size else 0.0,
    }


def score_reference(scores: np.ndarray) -> dict:
    s = np.asarray(scores, dtype=np.float64)
    edges = edges_for(s)
    return {"edges": edges, "shares": shares_for(s, edges)}
