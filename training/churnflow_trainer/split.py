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

import math
from dataclasses import dataclass

import numpy as np

from . import TrainerError

DAY_MS = 86_400_000


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


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
        def seg(mask: np.ndarray) -> dict:
            t = obs[mask]
            return {
                "from": int(t.min()),
                "to": int(t.max()),
                "dates": int(np.unique(t).size),
                "rows": int(mask.sum()),
                "positives": int(label[mask].sum()),
            }

        return {
            "train": seg(self.train),
            "early_stopping": seg(self.early_stopping),
            "validation": seg(self.validation),
            "purged_rows": self.purged_rows,
        }


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
