"""A small synthetic snapshot in the `churnflow.snapshot/v1` format, for tests and demos.

The label has a learnable signal: few logins, long login gaps (or never logged in), payment failures
and support tickets raise churn risk; premium plans and tenure lower it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import SNAPSHOT_FORMAT

DAY_MS = 86_400_000
FEATURES = [
    {"name": "logins_7d", "missing_indicator": False},
    {"name": "payment_failures_30d", "missing_indicator": False},
    {"name": "tickets_30d", "missing_indicator": False},
    {"name": "days_since_last_login", "missing_indicator": True},
    {"name": "avg_session_seconds_30d", "missing_indicator": True},
    {"name": "tenure_days", "missing_indicator": False},
    {"name": "plan__premium", "missing_indicator": False},
]


def make_snapshot(
    out_prefix: str | Path,
    *,
    customers: int = 600,
    dates: int = 20,
    every_days: int = 7,
    horizon_days: int = 14,
    seed: int = 0,
    first: int = 1735689600000,
) -> tuple[Path, Path]:
    """Writes `<out_prefix>.parquet` and `<out_prefix>.meta.json`; returns both paths."""
    rng = np.random.default_rng(seed)
    out_prefix = Path(out_prefix)
    out_prefix.parent.mkdir(parents=True, exist_ok=True)

    engagement = rng.gamma(2.0, 1.5, size=customers)
    pay_risk = rng.beta(1.0, 12.0, size=customers)
    premium = (rng.random(customers) < 0.3).astype(np.float64)
    tenure0 = rng.uniform(30, 1000, size=customers)

    n = customers * dates
    cust = np.tile(np.arange(customers), dates)
    date_idx = np.repeat(np.arange(dates), customers)
    obs = first + date_idx.astype(np.int64) * every_days * DAY_MS

    trend = np.exp(rng.normal(0.0, 0.35, size=n))
    logins = rng.poisson(engagement[cust] * trend * 2.0).astype(np.float64)
    failures = rng.poisson(pay_risk[cust] * 3.0).astype(np.float64)
    tickets = rng.poisson(0.3, size=n).astype(np.float64)
    never = (logins == 0) & (rng.random(n) < 0.3)
    dsll = np.where(logins > 0, np.round(rng.uniform(0, 7, n), 1), np.round(rng.uniform(7, 60, n), 1))
    dsll[never] = np.nan
    avg_session = np.round(rng.lognormal(7.0, 0.5, size=n), 3)
    avg_session[rng.random(n) < 0.1] = np.nan
    tenure = tenure0[cust] + date_idx * every_days
    tenure[rng.random(n) < 0.05] = np.nan
    plan_premium = premium[cust]

    logit = (
        -2.2
        - 0.35 * logins
        + 0.9 * failures
        + 0.5 * tickets
        + 0.03 * np.minimum(np.nan_to_num(dsll, nan=60.0), 60.0)
        + 1.2 * never
        - 0.5 * plan_premium
        - 0.0005 * np.nan_to_num(tenure, nan=500.0)
    )
    label = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int32)

    columns = {
        "logins_7d": logins,
        "payment_failures_30d": failures,
        "tickets_30d": tickets,
        "days_since_last_login": dsll,
        "avg_session_seconds_30d": avg_session,
        "tenure_days": tenure,
        "plan__premium": plan_premium,
    }
    arrays = {
        "customer_id": pa.array([f"c-{c}" for c in cust], type=pa.string()),
        "observation_time": pa.array(obs, type=pa.int64()),
        "label": pa.array(label, type=pa.int32()),
    }
    for f in FEATURES:
        v = columns[f["name"]]
        arrays[f["name"]] = pa.array(v, mask=np.isnan(v), type=pa.float64())
    table = pa.table(arrays)
    parquet_path = out_prefix.with_name(out_prefix.name + ".parquet")
    pq.write_table(table, parquet_path)

    spec = {"name": "synthetic", "version": "1", "features": FEATURES, "label": {"horizonDays": horizon_days}}
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    meta = {
        "format": SNAPSHOT_FORMAT,
        "feature_spec_hash": "sha256:" + hashlib.sha256(canonical.encode()).hexdigest(),
        "feature_spec": spec,
        "features": FEATURES,
        "label": {"definition": "plan_change CANCEL within horizon", "horizon_days": horizon_days},
        "observation": {"every_days": every_days, "first": int(obs.min()), "last": int(obs.max())},
        "rows": int(n),
        "positives": int(label.sum()),
        "source": {"kind": "synthetic", "seed": seed, "customers": customers, "days": dates * every_days},
    }
    meta_path = out_prefix.with_name(out_prefix.name + ".meta.json")
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return parquet_path, meta_path
