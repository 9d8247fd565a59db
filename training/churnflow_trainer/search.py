"""Optuna search over the LightGBM parameters, on the trainer's own split.

Each trial boosts on the train rows with early stopping on the early-stopping rows (the same rows
that pick the iteration count of a plain run) and is scored by their best binary logloss. The
validation rows are never looked at here: they stay an honest held-out check of the winner (and of
the default parameters, for the comparison train.py logs).

Reproducible: TPESampler(seed), trials run one after another, LightGBM deterministic with fixed
threads (model.lgb_params). A --timeout-s budget that cuts the study short makes the number of trials,
and so possibly the winner, depend on the machine's speed; a --trials budget does not.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import TrainerError
from . import model as M

OBJECTIVE = "early_stopping.binary_logloss"


@dataclass
class SearchConfig:
    trials: int
    timeout_s: float | None = None
    seed: int = 7
    # MedianPruner: a trial is stopped at round r when its early-stopping logloss is worse than the median
    # of the earlier trials at round r, once `pruner_startup_trials` trials finished and after
    # `pruner_warmup_rounds` rounds (early rounds of a slow learning rate look bad and say little).
    pruner_startup_trials: int = 5
    pruner_warmup_rounds: int = 100

    def validate(self) -> None:
        if self.trials < 1:
            raise TrainerError("--trials must be >= 1")
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise TrainerError("--timeout-s must be > 0")
        if self.pruner_startup_trials < 0 or self.pruner_warmup_rounds < 0:
            raise TrainerError("--pruner-startup-trials and --pruner-warmup-rounds must be >= 0")


@dataclass
class TrialRecord:
    number: int
    state: str  # COMPLETE | PRUNED
    params: dict
    value: float | None  # best early-stopping logloss (COMPLETE), last reported one (PRUNED)
    rounds: int  # best iteration (COMPLETE), rounds run before pruning (PRUNED)


@dataclass
class SearchResult:
    best_params: dict
    best_value: float
    best_trial: int
    trials: list[TrialRecord] = field(default_factory=list)

    @property
    def pruned(self) -> int:
        return sum(1 for t in self.trials if t.state == "PRUNED")

    @property
    def completed(self) -> int:
        return sum(1 for t in self.trials if t.state == "COMPLETE")


def suggest(trial) -> dict:
    """The search space (LightGBM names). Ranges follow LightGBM's tuning guide: fewer/shallower leaves and
    more regularisation against overfitting, sampling for variance; log scales where the effect is relative."""
    p = {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 128, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 12),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 5, 400, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.4, 1.0),
        "lambda_l1": trial.suggest_float("lambda_l1", 1e-8, 10.0, log=True),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-8, 10.0, log=True),
        "min_gain_to_split": trial.suggest_float("min_gain_to_split", 0.0, 1.0),
    }
    # Bagging only acts with a frequency; without sampling (fraction 1) keep it off, as the defaults do.
    p["bagging_freq"] = 1 if p["bagging_fraction"] < 1.0 else 0
    return p


def run_search(
    cfg: SearchConfig,
    fit_trial: Callable[[dict, Callable[[int, float], None]], tuple[int, float]],
    on_trial: Callable[[TrialRecord], None] | None = None,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True),
) -> SearchResult:
    """Run the study. `fit_trial(searched_params, report)` trains one trial, calling report(round, metric)
    after every boosting round, and returns (best iteration, best metric); `report` raises
    optuna.TrialPruned when the pruner says so. `on_trial` sees every finished trial (tracking)."""
    import optuna

    cfg.validate()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=cfg.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=cfg.pruner_startup_trials, n_warmup_steps=cfg.pruner_warmup_rounds),
    )
    records: list[TrialRecord] = []

    def objective(trial) -> float:
        params = suggest(trial)
        last: list = [0, None]

        def report(round_: int, value: float) -> None:
            last[0], last[1] = round_, value
            trial.report(value, round_)
            if trial.should_prune():
                raise optuna.TrialPruned()

        try:
            rounds, value = fit_trial(params, report)
        except optuna.TrialPruned:
            rec = TrialRecord(trial.number, "PRUNED", params, last[1], last[0])
            records.append(rec)
            log(f"search: trial {trial.number} pruned at round {last[0]} (early-stopping logloss {last[1]:.5f})")
            if on_trial:
                on_trial(rec)
            raise
        if not math.isfinite(value):
            raise TrainerError(f"search: trial {trial.number} gave a non-finite objective {value}")
        trial.set_user_attr("best_iteration", rounds)
        rec = TrialRecord(trial.number, "COMPLETE", params, value, rounds)
        records.append(rec)
        log(f"search: trial {trial.number} logloss {value:.5f} at {rounds} rounds ({_short(params)})")
        if on_trial:
            on_trial(rec)
        return value

    # catch=() : a LightGBM or trainer error fails the run instead of being recorded as a failed trial.
    study.optimize(objective, n_trials=cfg.trials, timeout=cfg.timeout_s, n_jobs=1, catch=(), gc_after_trial=False)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not done:
        raise TrainerError(f"search: no trial completed ({len(study.trials)} started, all pruned or cut by --timeout-s)")
    best = study.best_trial
    best_params = next(r.params for r in records if r.number == best.number)
    log(f"search: best trial {best.number} of {len(study.trials)} ({len(done)} completed), early-stopping logloss {best.value:.5f}")
    return SearchResult(best_params=best_params, best_value=float(best.value), best_trial=best.number, trials=records)


def _short(params: dict) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def trial_fitter(x_tr: np.ndarray, y_tr: np.ndarray, x_es: np.ndarray, y_es: np.ndarray, columns: list[str], base: dict, num_boost_round: int, early_stopping_rounds: int):
    """fit_trial for run_search over fixed data: base parameters (seed, threads, class weight) + the trial's."""

    def fit_trial(searched: dict, report) -> tuple[int, float]:
        params = {**base, **searched}
        return M.fit_curve(x_tr, y_tr, x_es, y_es, columns, params, num_boost_round, early_stopping_rounds, on_round=report)

    return fit_trial
