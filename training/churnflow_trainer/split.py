"""Time-based split by observation date: train | early stopping | (purge gap) | validation.

    dates (sorted distinct observation_time values)
    |---------------- train ----------------|-- early stop --|(purge gap)|----- validation -----|
                                             ^ es_start                   ^ validation_start

- validation: the latest round(validation_share * dates) dates (at least 1), all their rows;
- purge gap: dates whose label window is still open when validation starts
  (observation_time + purge > validation_start; purge = the label horizon by default) are dropped.
  At validation_start those labels would not be known yet, and they are decided by the same churn
  events as the validation rows (label leakage). So every row before validation has a closed label;
- early stopping: the latest round(early_stopping_share * remaining dates) dates before the gap
  (at least 1), used only to pick the number of boosting rounds;
- train: the dates before that.
Whole dates move together: no row-level random split anywhere. Train and early-stopping dates are
adjacent without a gap (a gap there would only protect the choice of the iteration count, and costs
another horizon of data); threshold tuning and reported metrics use validation only.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from . import TrainerError

DAY_MS = 86_400_000


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def _segment(obs: np.ndarray, label: np.ndarray, mask: np.ndarray) -> dict:
    """Range, date count, rows and positives of one segment (an empty one has no range)."""
    t = obs[mask]
    return {
        "from": int(t.min()) if t.size else None,
        "to": int(t.max()) if t.size else None,
        "dates": int(np.unique(t).size),
        "rows": int(mask.sum()),
        "positives": int(label[mask].sum()),
    }


def _segments(split, obs: np.ndarray, label: np.ndarray) -> dict:
    return {name: _segment(obs, label, getattr(split, name)) for name in ("train", "early_stopping", "validation")}


@dataclass
class TimeSplit:
    train: np.ndarray  # bool masks over rows
    early_stopping: np.ndarray
    validation: np.ndarray
    dates: int
    early_stopping_start: int
    validation_start: int
    purge_ms: int
    purged_rows: int

    def describe(self, obs: np.ndarray, label: np.ndarray) -> dict:
        return {**_segments(self, obs, label), "purged_rows": self.purged_rows}


def time_split(
    observation_time: np.ndarray,
    validation_share: float,
    early_stopping_share: float,
    purge_ms: int,
) -> TimeSplit:
    if not 0.0 < validation_share < 1.0:
        raise TrainerError("--validation-share must be in (0, 1)")
    if not 0.0 < early_stopping_share < 1.0:
        raise TrainerError("--early-stopping-share must be in (0, 1)")
    if purge_ms < 0:
        raise TrainerError("--purge-days must be >= 0")
    obs = np.asarray(observation_time, dtype=np.int64)
    dates = np.unique(obs)
    n = int(dates.size)
    n_val = max(1, _round_half_up(validation_share * n))
    if n_val >= n:
        raise TrainerError(f"the snapshot has {n} observation date(s): too few to split by time")
    val_start = int(dates[n - n_val])
    usable = dates[(dates < val_start) & (dates + purge_ms <= val_start)]
    n_usable = int(usable.size)
    n_es = max(1, _round_half_up(early_stopping_share * n_usable))
    if n_usable - n_es < 1:
        raise TrainerError(
            f"the training period is empty after purging: of {n} observation dates, {n_val} are validation "
            f"and a {purge_ms / DAY_MS:g}-day purge gap leaves {n_usable} before it, too few for train and "
            f"early-stopping periods; use a longer snapshot, a smaller --validation-share or a smaller --purge-days"
        )
    es_start = int(usable[n_usable - n_es])
    validation = obs >= val_start
    early_stopping = (obs >= es_start) & (obs < val_start) & (obs + purge_ms <= val_start)
    train = obs < es_start
    purged = int(obs.size - validation.sum() - early_stopping.sum() - train.sum())
    return TimeSplit(
        train=train,
        early_stopping=early_stopping,
        validation=validation,
        dates=n,
        early_stopping_start=es_start,
        validation_start=val_start,
        purge_ms=int(purge_ms),
        purged_rows=purged,
    )


@dataclass
class GroupSplit:
    """Whole groups (cohorts, courses, regions, customers) held out: no group is in two segments."""

    train: np.ndarray
    early_stopping: np.ndarray
    validation: np.ndarray
    method: str
    groups: int
    validation_groups: int
    early_stopping_groups: int
    purged_rows: int = 0

    def describe(self, obs: np.ndarray, label: np.ndarray) -> dict:
        return {
            **_segments(self, obs, label),
            "purged_rows": self.purged_rows,
            "groups": {"total": self.groups, "validation": self.validation_groups, "early_stopping": self.early_stopping_groups},
        }


def _group_order(values: np.ndarray, seed: int) -> list[str]:
    """Distinct groups in a seeded, order-independent shuffle (sha256 of seed and group)."""
    distinct = sorted({str(v) for v in values})
    return sorted(distinct, key=lambda g: hashlib.sha256(f"{seed}\x00{g}".encode("utf-8")).hexdigest())


def group_split(groups: np.ndarray, validation_share: float, early_stopping_share: float, seed: int) -> GroupSplit:
    """Validation: round(validation_share × groups) whole groups (≥ 1); early stopping: round(share × rest) (≥ 1)."""
    if not 0.0 < validation_share < 1.0:
        raise TrainerError("--validation-share must be in (0, 1)")
    if not 0.0 < early_stopping_share < 1.0:
        raise TrainerError("--early-stopping-share must be in (0, 1)")
    g = np.asarray([str(v) for v in groups])
    order = _group_order(g, seed)
    n = len(order)
    if n < 3:
        raise TrainerError(f"a group split needs at least 3 groups (train, early stopping, validation); the snapshot has {n}")
    n_val = max(1, _round_half_up(validation_share * n))
    n_es = max(1, _round_half_up(early_stopping_share * (n - n_val)))
    if n - n_val - n_es < 1:
        raise TrainerError(f"{n} groups leave none for training after {n_val} validation and {n_es} early-stopping groups")
    val_groups = set(order[:n_val])
    es_groups = set(order[n_val : n_val + n_es])
    validation = np.isin(g, list(val_groups))
    early_stopping = np.isin(g, list(es_groups))
    train = ~(validation | early_stopping)
    return GroupSplit(train, early_stopping, validation, "group", n, n_val, n_es)


SPLIT_VALUES = {"train": "train", "early_stopping": "early_stopping", "es": "early_stopping", "validation": "validation", "valid": "validation"}


def column_split(values: np.ndarray, customers: np.ndarray, early_stopping_share: float, seed: int) -> GroupSplit:
    """The user's own split column: train / early_stopping / validation per row. Without early_stopping
    rows, whole customers of the train rows are drawn for early stopping (so no customer straddles)."""
    v = np.asarray([str(x) for x in values])
    unknown = sorted(set(v) - set(SPLIT_VALUES))
    if unknown:
        raise TrainerError(f"split column values must be train, early_stopping (es) or validation (valid); found {unknown[:5]}")
    seg = np.asarray([SPLIT_VALUES[x] for x in v])
    validation = seg == "validation"
    early_stopping = seg == "early_stopping"
    train = seg == "train"
    if not validation.any() or not train.any():
        raise TrainerError("the split column needs train and validation rows")
    n_es_groups = 0
    if not early_stopping.any():
        order = _group_order(customers[train], seed)
        n_es_groups = max(1, _round_half_up(early_stopping_share * len(order)))
        held = set(order[:n_es_groups])
        early_stopping = train & np.isin(np.asarray([str(c) for c in customers]), list(held))
        train = train & ~early_stopping
    return GroupSplit(train, early_stopping, validation, "column", 0, 0, n_es_groups)
