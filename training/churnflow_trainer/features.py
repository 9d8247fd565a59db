"""Model input construction: input_columns rule, median imputation, missing indicators.

The same code builds the training matrix, the reference rows and the `score`/`contrib` CLI rows, so
training and the parity fixtures cannot drift apart.
"""

from __future__ import annotations

import math
import sys
from typing import Iterable, Sequence

import numpy as np

from . import TrainerError

MISSING_SUFFIX = "__missing"


def input_columns(features: Sequence[dict]) -> list[str]:
    """Each feature's name in order, followed directly by `<name>__missing` when missing_indicator."""
    cols: list[str] = []
    for f in features:
        cols.append(f["name"])
        if f["missing_indicator"]:
            cols.append(f["name"] + MISSING_SUFFIX)
    return cols


def fit_medians(x_raw_train: np.ndarray, names: Sequence[str]) -> list[float]:
    """Median of each feature over the non-missing training values.

    A feature that is missing on every training row gets 0.0 (and a warning): the model cannot have
    learned anything from it, but the engine still needs a number.
    """
    medians: list[float] = []
    for j, name in enumerate(names):
        col = x_raw_train[:, j]
        present = col[~np.isnan(col)]
        if present.size == 0:
            print(f"warning: feature {name!r} is missing on every training row; impute = 0.0", file=sys.stderr)
            medians.append(0.0)
        else:
            medians.append(float(np.median(present)))
    return medians


def impute(x_raw: np.ndarray, values: Sequence[float], missing_indicator: Sequence[bool]) -> np.ndarray:
    """Raw feature matrix (NaN = missing) -> float64 matrix in input_columns order.

    A missing value becomes its `impute` value and, where enabled, the `<name>__missing` column is 1.
    """
    x_raw = np.asarray(x_raw, dtype=np.float64)
    if x_raw.ndim != 2 or x_raw.shape[1] != len(values) or len(values) != len(missing_indicator):
        raise TrainerError(f"input has shape {x_raw.shape}, expected [N, {len(values)}]")
    cols = []
    for j, (value, indicator) in enumerate(zip(values, missing_indicator)):
        col = x_raw[:, j]
        miss = np.isnan(col)
        cols.append(np.where(miss, float(value), col))
        if indicator:
            cols.append(miss.astype(np.float64))
    return np.column_stack(cols) if cols else np.empty((x_raw.shape[0], 0), np.float64)


def to_model_input(imputed: np.ndarray) -> np.ndarray:
    """float64 imputed rows -> the float32 tensor the ONNX model (and onnxruntime-node) consumes.

    The booster is trained on these same float32 values, so its split thresholds are consistent with
    what serving feeds it.
    """
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(imputed, dtype=np.float32)
    if not np.isfinite(out).all():
        raise TrainerError("model input has non-finite values after imputation (a value outside float32 range?)")
    return out


def build_input(x_raw: np.ndarray, impute_values: Sequence[float], missing_indicator: Sequence[bool]) -> np.ndarray:
    """impute() then to_model_input(): NaN never reaches the model."""
    return to_model_input(impute(x_raw, impute_values, missing_indicator))


def rows_to_raw(rows: Iterable[object], names: Sequence[str]) -> np.ndarray:
    """JSON rows (objects name -> number|null) -> raw float64 matrix with NaN for missing.

    Every row must name every feature (null for missing) and nothing else, so that a misspelt name is
    an error instead of a silently imputed value.
    """
    rows = list(rows)
    known = set(names)
    out = np.empty((len(rows), len(names)), dtype=np.float64)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise TrainerError(f"rows[{i}] is not an object")
        unknown = sorted(set(row) - known)
        if unknown:
            raise TrainerError(f"rows[{i}] has unknown features {unknown}")
        absent = [n for n in names if n not in row]
        if absent:
            raise TrainerError(f"rows[{i}] lacks features {absent} (use null for a missing value)")
        for j, name in enumerate(names):
            v = row[name]
            if v is None:
                out[i, j] = math.nan
            elif isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TrainerError(f"rows[{i}].{name} must be a number or null, got {v!r}")
            elif math.isinf(v):
                raise TrainerError(f"rows[{i}].{name} is infinite")
            else:
                out[i, j] = float(v)  # NaN (if the JSON had one) counts as missing
    return out
