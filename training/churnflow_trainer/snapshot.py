"""Reading the point-in-time training set: `<out>.parquet` + `<out>.meta.json` (docs/formats.md)."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import SNAPSHOT_FORMAT, TrainerError
from .features import input_columns

KEY_COLUMNS = ("customer_id", "observation_time", "label")


@dataclass
class Snapshot:
    parquet_path: Path
    meta_path: Path
    meta: dict
    sha256: str  # "sha256:<hex>" of the parquet file bytes
    features: list[dict]  # [{"name", "missing_indicator"}] in spec order
    customer_id: np.ndarray  # str, rows sorted by (observation_time, customer_id)
    observation_time: np.ndarray  # int64 epoch ms
    label: np.ndarray  # int8 0/1
    x_raw: np.ndarray  # float64 [rows, features], NaN = missing
    extra: dict  # requested extra columns (group, split) as str arrays, same row order

    @property
    def feature_names(self) -> list[str]:
        return [f["name"] for f in self.features]

    @property
    def missing_indicator(self) -> list[bool]:
        return [f["missing_indicator"] for f in self.features]

    @property
    def horizon_days(self) -> float | None:
        h = (self.meta.get("label") or {}).get("horizon_days")
        return float(h) if isinstance(h, (int, float)) and not isinstance(h, bool) else None


def meta_path_for(parquet_path: Path) -> Path:
    """`X.parquet` -> `X.meta.json` (a path without the .parquet suffix just gets `.meta.json`)."""
    name = parquet_path.name
    stem = name[: -len(".parquet")] if name.endswith(".parquet") else name
    return parquet_path.with_name(stem + ".meta.json")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def _parse_features(meta: dict) -> list[dict]:
    feats = meta.get("features")
    if not isinstance(feats, list) or not feats:
        raise TrainerError("meta.json: 'features' must be a non-empty list")
    out = []
    for i, f in enumerate(feats):
        if not isinstance(f, dict) or not isinstance(f.get("name"), str) or not f["name"]:
            raise TrainerError(f"meta.json: features[{i}] needs a non-empty string 'name'")
        mi = f.get("missing_indicator", False)
        if not isinstance(mi, bool):
            raise TrainerError(f"meta.json: features[{i}].missing_indicator must be a boolean")
        out.append({"name": f["name"], "missing_indicator": mi})
    cols = input_columns(out)
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise TrainerError(f"meta.json: duplicate model input columns {dup}")
    clash = [c for c in cols if c in KEY_COLUMNS]
    if clash:
        raise TrainerError(f"meta.json: feature names clash with key columns: {clash}")
    return out


def load_snapshot(parquet_path: str | Path, extra_columns: tuple[str, ...] = ()) -> Snapshot:
    parquet_path = Path(parquet_path)
    meta_path = meta_path_for(parquet_path)
    if not parquet_path.is_file():
        raise TrainerError(f"snapshot not found: {parquet_path}")
    if not meta_path.is_file():
        raise TrainerError(f"snapshot metadata not found: {meta_path} (expected beside the parquet file)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise TrainerError(f"cannot read {meta_path}: {e}") from e
    if not isinstance(meta, dict):
        raise TrainerError(f"{meta_path}: expected a JSON object")
    if meta.get("format") != SNAPSHOT_FORMAT:
        raise TrainerError(f"{meta_path}: format is {meta.get('format')!r}, expected {SNAPSHOT_FORMAT!r}")
    if not isinstance(meta.get("feature_spec_hash"), str) or not meta["feature_spec_hash"]:
        raise TrainerError(f"{meta_path}: missing 'feature_spec_hash'")
    features = _parse_features(meta)

    try:
        table = pq.read_table(parquet_path)
    except (OSError, pa.ArrowException) as e:
        raise TrainerError(f"cannot read parquet {parquet_path}: {e}") from e
    names = [f["name"] for f in features]
    missing = [c for c in (*KEY_COLUMNS, *names) if c not in table.column_names]
    if missing:
        raise TrainerError(f"{parquet_path}: missing columns {missing}")
    n = table.num_rows
    if n == 0:
        raise TrainerError(f"{parquet_path}: no rows")

    for c in KEY_COLUMNS:
        if table.column(c).null_count:
            raise TrainerError(f"{parquet_path}: column {c!r} has nulls")
    cid_col = table.column("customer_id")
    if not (pa.types.is_string(cid_col.type) or pa.types.is_large_string(cid_col.type)):
        raise TrainerError(f"{parquet_path}: customer_id must be a UTF8 string column, got {cid_col.type}")
    for c in ("observation_time", "label"):
        if not pa.types.is_integer(table.column(c).type):
            raise TrainerError(f"{parquet_path}: {c} must be an integer column, got {table.column(c).type}")

    customer_id = np.asarray(cid_col.to_pylist(), dtype=str)
    observation_time = table.column("observation_time").to_numpy().astype(np.int64)
    label = table.column("label").to_numpy().astype(np.int64)
    if not np.isin(label, (0, 1)).all():
        raise TrainerError(f"{parquet_path}: label must be 0 or 1")

    x_raw = np.empty((n, len(names)), dtype=np.float64)
    for j, name in enumerate(names):
        col = table.column(name)
        if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type) or pa.types.is_boolean(col.type)):
            raise TrainerError(f"{parquet_path}: feature {name!r} must be numeric (DOUBLE), got {col.type}")
        col = pc.cast(col, pa.float64())
        values = col.to_numpy(zero_copy_only=False).astype(np.float64, copy=True)  # nulls -> NaN
        if np.isinf(values).any():
            raise TrainerError(f"{parquet_path}: feature {name!r} has infinite values")
        x_raw[:, j] = values

    extra = {}
    for c in extra_columns:
        if c == "customer_id":
            extra[c] = customer_id
            continue
        if c not in table.column_names:
            raise TrainerError(f"{parquet_path}: no column {c!r} (columns: {', '.join(table.column_names[:8])}, …)")
        col = table.column(c)
        if col.null_count:
            raise TrainerError(f"{parquet_path}: column {c!r} has {col.null_count} nulls; every row needs a value to be split")
        extra[c] = np.asarray([str(v) for v in col.to_pylist()], dtype=str)

    # Canonical row order, so the model does not depend on how the writer ordered rows.
    order = np.lexsort((customer_id, observation_time))
    snap = Snapshot(
        parquet_path=parquet_path,
        meta_path=meta_path,
        meta=meta,
        sha256=file_sha256(parquet_path),
        features=features,
        customer_id=customer_id[order],
        observation_time=observation_time[order],
        label=label[order].astype(np.int8),
        x_raw=x_raw[order],
        extra={k: v[order] for k, v in extra.items()},
    )
    for key, actual in (("rows", n), ("positives", int(snap.label.sum()))):
        declared = meta.get(key)
        if declared is not None and declared != actual:
            raise TrainerError(f"{meta_path}: declares {key}={declared} but the parquet file has {actual}")
    h = snap.horizon_days
    if h is not None and (h < 0 or math.isnan(h)):
        raise TrainerError(f"{meta_path}: label.horizon_days must be >= 0")
    return snap
