"""`train`: snapshot -> model bundle (model.onnx, lightgbm.txt, manifest.json)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np

from . import MODEL_FORMAT, TrainerError, __version__
from . import model as M
from .decision import Costs, bands, tune_threshold
from .features import fit_medians, impute as apply_imputation, input_columns, to_model_input
from .jsonio import write_bytes_atomic, write_json
from .metrics import evaluate
from .reference import feature_reference, score_reference
from .snapshot import load_snapshot
from .split import DAY_MS, column_split, group_split, time_split

REFERENCE_OUTPUT_ROWS = 32
ONNX_FILE = "model.onnx"
LIGHTGBM_FILE = "lightgbm.txt"
MANIFEST_FILE = "manifest.json"


@dataclass
class TrainConfig:
    snapshot: Path
    out: Path
    name: str = "churn-gbdt"
    version: str = "1.0.0"
    contact_cost: float = 10.0
    churner_loss: float = 600.0
    save_rate: float = 0.3
    validation_share: float = 0.25
    early_stopping_share: float = 0.2
    purge_days: float | None = None  # None = the snapshot's label horizon
    split: str = "time"  # "time" | "group" | "column"
    group_column: str = "group"  # split=group: hold out whole values of this column (e.g. customer_id)
    split_column: str = "split"  # split=column: train / early_stopping / validation per row
    refit: bool = True  # after early stopping, train again on train + early-stopping rows
    seed: int = 7
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_data_in_leaf: int = 20
    num_boost_round: int = 500
    early_stopping_rounds: int = 50
    scale_pos_weight: str = "none"  # "none" | "balanced" | a number
    num_threads: int = 1
    created_at: str | None = None  # ISO 8601 or epoch seconds; else $SOURCE_DATE_EPOCH; else now
    # Hyper-parameter search (search.py): 0 trials = train with the parameters above.
    trials: int = 0
    timeout_s: float | None = None
    pruner_startup_trials: int = 5
    pruner_warmup_rounds: int = 100
    # Run tracking (tracking.py): on by default, local store unless --tracking-uri / $MLFLOW_TRACKING_URI.
    track: bool = True
    tracking_uri: str | None = None
    experiment: str | None = None  # default: the model name
    run_info: Path | None = None  # write {"run_id", ...} here (churnflow train reads it)


def resolve_created_at(arg: str | None, environ=os.environ) -> str:
    def fmt(dt: datetime) -> str:
        return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    if arg:
        s = arg.strip()
        if s.lstrip("-").isdigit():
            return fmt(datetime.fromtimestamp(int(s), tz=timezone.utc))
        try:
            dt = datetime.fromisoformat(s.replace("Z", "+00:00") if s.endswith("Z") else s)
        except ValueError as e:
            raise TrainerError(f"--created-at {arg!r}: not ISO 8601 or epoch seconds") from e
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return fmt(dt)
    sde = environ.get("SOURCE_DATE_EPOCH")
    if sde:
        try:
            return fmt(datetime.fromtimestamp(int(sde), tz=timezone.utc))
        except ValueError as e:
            raise TrainerError(f"SOURCE_DATE_EPOCH={sde!r} is not an integer") from e
    return fmt(datetime.now(timezone.utc))


def _git_commit() -> str | None:
    """$CHURNFLOW_GIT_COMMIT if set (builds without .git, pinned retrains), else `git rev-parse HEAD`."""
    pinned = os.environ.get("CHURNFLOW_GIT_COMMIT")
    if pinned is not None:
        return pinned or None
    try:
        r = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    out = r.stdout.strip()
    return out if r.returncode == 0 and len(out) == 40 else None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def lineage() -> dict:
    return {
        "trainer": "training/churnflow_trainer",
        "trainer_version": __version__,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "lightgbm": _version("lightgbm"),
        "onnxmltools": _version("onnxmltools"),
        "onnx": _version("onnx"),
        "onnxruntime": _version("onnxruntime"),
        "numpy": _version("numpy"),
        "scikit-learn": _version("scikit-learn"),
        "pyarrow": _version("pyarrow"),
    }


def _scale_pos_weight(spec: str, y_train: np.ndarray) -> float:
    if spec == "none":
        return 1.0
    pos = int(y_train.sum())
    neg = int(y_train.size - pos)
    if spec == "balanced":
        return float(neg) / float(pos)
    try:
        v = float(spec)
    except ValueError as e:
        raise TrainerError(f"--scale-pos-weight must be none, balanced or a number, got {spec!r}") from e
    if not v > 0:
        raise TrainerError("--scale-pos-weight must be > 0")
    return v


def _pick_reference_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """k rows spread evenly over the score ranking (lowest to highest), so the gate covers all bands."""
    n = scores.size
    if n <= k:
        return np.arange(n)
    order = np.argsort(scores, kind="stable")
    picks = np.unique(np.round(np.linspace(0, n - 1, k)).astype(np.int64))
    return np.sort(order[picks])


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def train(cfg: TrainConfig) -> dict:
    """Train (searching first if cfg.trials > 0), tracked as one MLflow run unless cfg.track is off."""
    if not cfg.track:
        return _train(cfg, None)
    from .tracking import resolve_tracking_uri, start_run, write_run_info

    uri = resolve_tracking_uri(cfg.tracking_uri)
    with start_run(uri, cfg.experiment or cfg.name, f"{cfg.name}@{cfg.version}") as run:
        log(f"mlflow: run {run.run_id} (experiment {cfg.experiment or cfg.name!r}, {uri})")
        manifest = _train(cfg, run)
    if cfg.run_info is not None:
        write_run_info(cfg.run_info, run, Path(cfg.out))
    log(f"mlflow: run {run.run_id} finished")
    return manifest


def _validation_figures(booster, x: np.ndarray, y: np.ndarray) -> dict:
    """What the search comparison reports for one model: ranking, calibration and size."""
    from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

    s = M.booster_proba(booster, x)
    return {
        "roc_auc": float(roc_auc_score(y, s)),
        "pr_auc": float(average_precision_score(y, s)),
        "logloss": float(log_loss(y, s, labels=[0, 1])),
        **M.tree_stats(booster),
    }


def _train(cfg: TrainConfig, run) -> dict:
    costs = Costs(float(cfg.contact_cost), float(cfg.churner_loss), float(cfg.save_rate))
    costs.validate()
    if cfg.num_boost_round < 1 or cfg.early_stopping_rounds < 1:
        raise TrainerError("--num-boost-round and --early-stopping-rounds must be >= 1")
    if cfg.num_threads < 1:
        raise TrainerError("--num-threads must be >= 1")
    if cfg.trials < 0:
        raise TrainerError(f"--trials must be >= 0 (0 = no search), got {cfg.trials}")
    if cfg.timeout_s is not None and cfg.trials == 0:
        raise TrainerError("--timeout-s limits the search: give --trials N as well")
    created_at = resolve_created_at(cfg.created_at)

    if cfg.split not in ("time", "group", "column"):
        raise TrainerError(f"--split must be time, group or column, got {cfg.split!r}")
    extra = (cfg.group_column,) if cfg.split == "group" else (cfg.split_column,) if cfg.split == "column" else ()
    snap = load_snapshot(cfg.snapshot, extra)
    features = snap.features
    names = snap.feature_names
    indicators = snap.missing_indicator
    columns = input_columns(features)
    log(f"snapshot: {snap.label.size} rows, {int(snap.label.sum())} positives, {len(names)} features -> {len(columns)} inputs")

    if cfg.purge_days is not None:
        purge_days = float(cfg.purge_days)
    elif snap.horizon_days is not None:
        purge_days = snap.horizon_days
    else:
        purge_days = 0.0
        log("warning: meta.json has no label.horizon_days; no purge gap before validation (set --purge-days)")
    if cfg.split == "time":
        split = time_split(snap.observation_time, cfg.validation_share, cfg.early_stopping_share, int(round(purge_days * DAY_MS)))
        method = "time: train | early stopping | validation by observation date"
    elif cfg.split == "group":
        split = group_split(snap.extra[cfg.group_column], cfg.validation_share, cfg.early_stopping_share, cfg.seed)
        method = f"group: whole values of {cfg.group_column!r} held out for validation and early stopping"
        purge_days = 0.0
    else:
        split = column_split(snap.extra[cfg.split_column], snap.customer_id, cfg.early_stopping_share, cfg.seed)
        method = f"column: the snapshot's {cfg.split_column!r} column"
        purge_days = 0.0
    tr, es, va = split.train, split.early_stopping, split.validation
    y = snap.label.astype(np.int64)
    obs = snap.observation_time
    for seg_name, mask in (("train", tr), ("validation", va)):
        pos = int(y[mask].sum())
        if pos == 0 or pos == int(mask.sum()):
            raise TrainerError(f"the {seg_name} period has only one class ({pos} positives in {int(mask.sum())} rows)")
    seg = split.describe(obs, y)
    log(
        "split ({m}): train {t[rows]} rows / {t[dates]} dates, early stopping {e[rows]} / {e[dates]}, "
        "validation {v[rows]} / {v[dates]}; purged {p} rows ({d:g}-day gap){r}".format(
            m=cfg.split, t=seg["train"], e=seg["early_stopping"], v=seg["validation"], p=split.purged_rows, d=purge_days,
            r="; the early-stopping rows only pick the iteration count, then train too (refit)" if cfg.refit
            else f"; {seg['early_stopping']['rows']} early-stopping rows are not trained on (--no-refit)",
        )
    )
    not_trained = split.purged_rows + (0 if cfg.refit else int(es.sum()))
    log(f"rows not used for training or validation: {not_trained} of {y.size} ({100.0 * not_trained / y.size:.1f}%)")

    # Imputation is learned on the training period only.
    impute = fit_medians(snap.x_raw[tr], names)
    imputed_all = apply_imputation(snap.x_raw, impute, indicators)  # float64, for JSON
    x_all = to_model_input(imputed_all)  # float32, what the model sees
    x_tr, x_es = x_all[tr], x_all[es]

    spw = _scale_pos_weight(cfg.scale_pos_weight, y[tr])
    params = M.lgb_params(
        seed=cfg.seed,
        learning_rate=cfg.learning_rate,
        num_leaves=cfg.num_leaves,
        min_data_in_leaf=cfg.min_data_in_leaf,
        scale_pos_weight=spw,
        num_threads=cfg.num_threads,
    )

    def fit_final(p: dict, quiet: bool = False) -> M.FitResult:
        f = M.fit(x_tr, y[tr], x_es, y[es], columns, p, cfg.num_boost_round, cfg.early_stopping_rounds)
        if not quiet:
            log(f"lightgbm: best iteration {f.best_iteration} (early-stopping logloss {f.best_score:.5f})")
        if cfg.refit:
            both = tr | es
            f = M.refit(x_all[both], y[both], columns, p, f.best_iteration, f.best_score)
            if not quiet:
                log(f"lightgbm: refit on train + early stopping ({int(both.sum())} rows), {f.best_iteration} rounds")
        return f

    search_summary = None
    search_trials: list = []
    default_fitted = None
    if cfg.trials > 0:
        from .search import OBJECTIVE, SearchConfig, run_search, trial_fitter

        scfg = SearchConfig(
            trials=cfg.trials, timeout_s=cfg.timeout_s, seed=cfg.seed,
            pruner_startup_trials=cfg.pruner_startup_trials, pruner_warmup_rounds=cfg.pruner_warmup_rounds,
        )
        log(f"search: up to {cfg.trials} trials" + (f" or {cfg.timeout_s:g} s" if cfg.timeout_s else "") + f", seed {cfg.seed}, objective {OBJECTIVE}")

        def on_trial(rec) -> None:
            search_trials.append(rec)
            if run is not None:
                run.trial(rec.number, rec.state, rec.params, rec.value, rec.rounds)

        result = run_search(scfg, trial_fitter(x_tr, y[tr], x_es, y[es], columns, params, cfg.num_boost_round, cfg.early_stopping_rounds), on_trial=on_trial, log=log)
        default_params = params
        params = M.lgb_params(seed=cfg.seed, scale_pos_weight=spw, num_threads=cfg.num_threads, **result.best_params)
        # The comparison the search is judged by: the default parameters trained the same way (same split,
        # seed, early stopping and refit), both measured on the validation rows the search never saw.
        default_fitted = fit_final(default_params, quiet=True)
        search_summary = {
            "objective": OBJECTIVE,
            "seed": cfg.seed,
            "trials_requested": cfg.trials,
            "timeout_s": cfg.timeout_s,
            "trials_run": len(result.trials),
            "completed": result.completed,
            "pruned": result.pruned,
            "pruner": {"type": "median", "startup_trials": cfg.pruner_startup_trials, "warmup_rounds": cfg.pruner_warmup_rounds},
            "best_trial": result.best_trial,
            "best_value": result.best_value,
            "best_params": result.best_params,
        }
    fitted = fit_final(params)
    if search_summary is not None:
        search_summary["validation"] = {
            "default_params": _validation_figures(default_fitted.booster, x_all[va], y[va]),
            "best_params": _validation_figures(fitted.booster, x_all[va], y[va]),
        }
        d, b = search_summary["validation"]["default_params"], search_summary["validation"]["best_params"]
        for label, f in (("default params", d), ("best trial", b)):
            log(f"search: validation, {label}: roc_auc {f['roc_auc']:.4f} pr_auc {f['pr_auc']:.4f} logloss {f['logloss']:.5f}, {f['trees']} trees, {f['leaves']} leaves, depth {f['max_depth']}")

    onnx_model = M.to_onnx(fitted.booster, len(columns))
    opsets = M.onnx_opsets(onnx_model)
    onnx_bytes = onnx_model.SerializeToString()

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        write_bytes_atomic(staging / ONNX_FILE, onnx_bytes)
        write_bytes_atomic(staging / LIGHTGBM_FILE, fitted.model_text.encode("utf-8"))

        # Verify the files as written: reload both and compare on every row (validation included).
        booster = M.load_booster(staging / LIGHTGBM_FILE)
        session = M.onnx_session(staging / ONNX_FILE)
        scores = M.onnx_proba(session, x_all)
        lgb_scores = M.booster_proba(booster, x_all)
        diff_va = M.check_parity(lgb_scores[va], scores[va], "the validation rows")
        diff_all = M.check_parity(lgb_scores, scores, "all snapshot rows")
        log(f"parity: max |onnx - lightgbm| = {diff_va:.2e} on validation, {diff_all:.2e} on all rows")

        # Scores as served (onnxruntime, float32) drive threshold, metrics and references.
        s_va = scores[va].astype(np.float64)
        threshold, best_value = tune_threshold(y[va], s_va, costs)
        metrics = {
            "validation": evaluate(y[va], s_va, obs[va], threshold, costs),
            "train": evaluate(y[tr], scores[tr], obs[tr], threshold, costs),
            "early_stopping": evaluate(y[es], scores[es], obs[es], threshold, costs),
        }
        if abs(metrics["validation"]["net_value"] - best_value) > 1e-6 * max(1.0, abs(best_value)):
            raise TrainerError("internal: tuned net value does not match the validation evaluation")
        v = metrics["validation"]
        log(
            f"validation: roc_auc {v['roc_auc']:.4f} pr_auc {v['pr_auc']:.4f} threshold {threshold:.4f} "
            f"recall {v['recall']:.3f} precision {v['precision']:.3f} net_value {v['net_value']:.1f}"
        )

        ref_idx = np.flatnonzero(va)[_pick_reference_rows(s_va, REFERENCE_OUTPUT_ROWS)]
        manifest = {
            "format": MODEL_FORMAT,
            "name": cfg.name,
            "version": cfg.version,
            "created_at": created_at,
            "feature_spec_hash": snap.meta["feature_spec_hash"],
            "features": [
                {"name": n, "impute": m, "missing_indicator": mi} for n, m, mi in zip(names, impute, indicators)
            ],
            "input_columns": columns,
            "onnx": {
                "file": ONNX_FILE,
                "input_name": M.ONNX_INPUT_NAME,
                "probability_output": M.ONNX_PROBABILITIES,
                "positive_index": 1,
                "opset": opsets.get("ai.onnx"),
                "ml_opset": opsets.get("ai.onnx.ml"),
                "target_opset": M.TARGET_OPSET,
                "ir_version": int(onnx_model.ir_version),
            },
            "decision": {"threshold": threshold, "bands": bands(threshold), "costs": costs.as_json()},
            "metrics": metrics,
            "training_data": {
                "from": int(obs.min()),
                "to": int(obs.max()),
                "rows": int(y.size),
                "positives": int(y.sum()),
                "snapshot": snap.sha256,
                "source": snap.meta.get("source"),
                "split": {
                    "method": method,
                    "refit_on_early_stopping": cfg.refit,
                    "rows_not_trained": not_trained,
                    "validation_share": cfg.validation_share,
                    "early_stopping_share": cfg.early_stopping_share,
                    "purge_days": purge_days,
                    "dates": int(np.unique(obs).size),
                    **seg,
                },
            },
            "params": {
                **{k: fitted.params[k] for k in sorted(fitted.params) if k != "verbosity"},
                "scale_pos_weight_mode": cfg.scale_pos_weight,
                "num_boost_round": cfg.num_boost_round,
                "early_stopping_rounds": cfg.early_stopping_rounds,
                "early_stopping_metric": fitted.params["metric"],
                "best_iteration": fitted.best_iteration,
                "best_score": fitted.best_score,
            },
            **({"search": search_summary} if search_summary is not None else {}),
            "reference": {
                "features": {n: feature_reference(snap.x_raw[tr, j]) for j, n in enumerate(names)},
                "score": score_reference(scores[tr]),
                "positive_rate": float(y[tr].mean()),
            },
            "reference_outputs": {
                "rows": [[float(x) for x in row] for row in imputed_all[ref_idx]],
                "scores": [float(s) for s in scores[ref_idx]],
            },
            "lineage": lineage(),
        }
        write_json(staging / MANIFEST_FILE, manifest)

        # Publish: model files first, manifest last, so a reader never sees a new manifest with old models.
        for fname in (ONNX_FILE, LIGHTGBM_FILE, MANIFEST_FILE):
            os.replace(staging / fname, out / fname)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log(f"wrote {out / ONNX_FILE}, {out / LIGHTGBM_FILE}, {out / MANIFEST_FILE}")
    if run is not None:
        _track(run, cfg, manifest, fitted, columns, split.purged_rows, not_trained, search_trials, out)
    return manifest


def _track(run, cfg: TrainConfig, manifest: dict, fitted, columns: list[str], purged: int, not_trained: int, trials: list, out: Path) -> None:
    """Parameters, metrics and artefacts of this run (after the bundle is published, so it is the bundle)."""
    sp = manifest["training_data"]["split"]
    run.params(
        {
            "name": cfg.name, "version": cfg.version, "snapshot": str(cfg.snapshot), "snapshot_sha256": manifest["training_data"]["snapshot"],
            "feature_spec_hash": manifest["feature_spec_hash"], "split": cfg.split, "validation_share": cfg.validation_share,
            "early_stopping_share": cfg.early_stopping_share, "purge_days": sp["purge_days"], "refit": cfg.refit,
            "trials": cfg.trials, "timeout_s": cfg.timeout_s,
            "lgb": {k: v for k, v in manifest["params"].items() if k != "search"},
        }
    )
    stats = M.tree_stats(fitted.booster)
    run.metrics({k: manifest["metrics"][k] for k in ("validation", "train", "early_stopping")})
    run.metrics({"rows_purged": purged, "rows_not_trained": not_trained, "rows_early_stopping": sp["early_stopping"]["rows"], "best_iteration": fitted.best_iteration, **stats, "threshold": manifest["decision"]["threshold"]})
    if "search" in manifest:
        s = manifest["search"]
        run.metrics({"trials_run": s["trials_run"], "trials_pruned": s["pruned"], "best_trial_early_stopping_logloss": s["best_value"]}, prefix="search.")
        run.metrics(s["validation"], prefix="search.")
        run.json("search.json", {**s, "trials": [t.__dict__ for t in trials]})
    run.bundle(out, (ONNX_FILE, LIGHTGBM_FILE, MANIFEST_FILE))
    run.importance_plot(fitted.booster, columns)
