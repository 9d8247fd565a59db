"""Business decision: the contact threshold that maximises expected net value, and the risk bands.

net_value = TP * save_rate * churner_loss - (TP + FP) * contact_cost, where "contacted" = score >= threshold
(the high band starts at the threshold and a band holds scores >= its min_score).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import TrainerError


@dataclass(frozen=True)
class Costs:
    contact_cost: float
    churner_loss: float
    save_rate: float

    def validate(self) -> None:
        if not self.contact_cost > 0:
            raise TrainerError("--contact-cost must be > 0")
        if not self.churner_loss > 0:
            raise TrainerError("--churner-loss must be > 0")
        if not 0 < self.save_rate <= 1:
            raise TrainerError("--save-rate must be in (0, 1]")

    def as_json(self) -> dict:
        return {"contact_cost": self.contact_cost, "churner_loss": self.churner_loss, "save_rate": self.save_rate}


def net_value(y: np.ndarray, scores: np.ndarray, threshold: float, costs: Costs) -> float:
    contacted = np.asarray(scores, dtype=np.float64) >= threshold
    tp = int(np.sum(contacted & (np.asarray(y) == 1)))
    n = int(np.sum(contacted))
    return float(tp * costs.save_rate * costs.churner_loss - n * costs.contact_cost)


def tune_threshold(y: np.ndarray, scores: np.ndarray, costs: Costs) -> tuple[float, float]:
    """Threshold maximising net value on (y, scores); returns (threshold, net_value).

    Candidates are "contact everyone with score >= s" for every distinct score s, plus "contact nobody"
    (net value 0). Ties go to the higher threshold (fewer contacts). The returned threshold is the
    midpoint between the chosen score and the next lower distinct score (or half the lowest score), so
    it selects the same set but is not sitting exactly on a validation score.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y)
    if s.size == 0:
        raise TrainerError("cannot tune a threshold on an empty validation set")
    distinct_desc, inverse = np.unique(-s, return_inverse=True)  # ascending in -s = descending in s
    distinct_desc = -distinct_desc
    pos_at = np.bincount(inverse, weights=(y == 1).astype(np.float64), minlength=distinct_desc.size)
    all_at = np.bincount(inverse, minlength=distinct_desc.size).astype(np.float64)
    tp = np.cumsum(pos_at)
    contacted = np.cumsum(all_at)
    values = tp * costs.save_rate * costs.churner_loss - contacted * costs.contact_cost
    k = int(np.argmax(values))  # first maximum = highest threshold among ties
    if values[k] <= 0:
        top = float(distinct_desc[0])
        return (top + 1.0) / 2.0, 0.0  # contacting nobody is best
    chosen = float(distinct_desc[k])
    below = float(distinct_desc[k + 1]) if k + 1 < distinct_desc.size else 0.0
    threshold = (chosen + below) / 2.0
    return threshold, float(values[k])


def bands(threshold: float) -> list[dict]:
    """low < threshold/2 <= medium < threshold <= high."""
    if not 0.0 < threshold < 1.0:
        raise TrainerError(f"threshold {threshold} is not in (0, 1)")
    return [
        {"name": "low", "min_score": 0.0},
        {"name": "medium", "min_score": threshold / 2.0},
        {"name": "high", "min_score": threshold},
    ]
