"""Command line: `python -m churnflow_trainer {train,fetch-run,score,contrib,reexport-onnx,synth} ...`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import TrainerError, __version__


def _cmd_train(a: argparse.Namespace) -> int:
    from .train import TrainConfig, train

    cfg = TrainConfig(
        snapshot=Path(a.snapshot),
        out=Path(a.out),
        name=a.name,
        version=a.version,
        contact_cost=a.contact_cost,
        churner_loss=a.churner_loss,
        save_rate=a.save_rate,
        validation_share=a.validation_share,
        early_stopping_share=a.early_stopping_share,
        purge_days=a.purge_days,
        split=a.split,
        group_column=a.group_column,
        split_column=a.split_column,
        refit=not a.no_refit,
        seed=a.seed,
        learning_rate=a.learning_rate,
        num_leaves=a.num_leaves,
        min_data_in_leaf=a.min_data_in_leaf,
        num_boost_round=a.num_boost_round,
        early_stopping_rounds=a.early_stopping_rounds,
        scale_pos_weight=a.scale_pos_weight,
        num_threads=a.num_threads,
        created_at=a.created_at,
        trials=a.trials,
        timeout_s=a.timeout_s,
        pruner_startup_trials=a.pruner_startup_trials,
        pruner_warmup_rounds=a.pruner_warmup_rounds,
        track=not a.no_track,
        tracking_uri=a.tracking_uri,
        experiment=a.experiment,
        run_info=Path(a.run_info) if a.run_info else None,
    )
    train(cfg)
    print(Path(a.out))
    return 0


def _cmd_fetch_run(a: argparse.Namespace) -> int:
    from .tracking import download_bundle, resolve_tracking_uri

    print(download_bundle(a.run_id, resolve_tracking_uri(a.tracking_uri), Path(a.out)))
    return 0


def _read_rows(path: str) -> list:
    from .jsonio import read_json

    rows = read_json(Path(path))
    if not isinstance(rows, list):
        raise TrainerError(f"{path}: expected a JSON array of row objects")
    return rows


def _cmd_score(a: argparse.Namespace) -> int:
    from . import model as M
    from .bundle import load_bundle
    from .features import to_model_input
    from .jsonio import write_json

    bundle = load_bundle(a.bundle)
    imputed = bundle.impute(_read_rows(a.rows))
    x = to_model_input(imputed)
    lgb = M.booster_proba(bundle.booster(), x)
    ort = M.onnx_proba(bundle.onnx_session(), x)
    write_json(
        Path(a.out),
        {
            "input_columns": bundle.input_columns,
            "imputed_rows": [[float(v) for v in row] for row in imputed],
            "lightgbm": [float(v) for v in lgb],
            "onnxruntime": [float(v) for v in ort],
        },
    )
    return 0


def _cmd_contrib(a: argparse.Namespace) -> int:
    from . import model as M
    from .bundle import load_bundle
    from .features import to_model_input
    from .jsonio import write_json

    bundle = load_bundle(a.bundle)
    imputed = bundle.impute(_read_rows(a.rows))
    x = to_model_input(imputed)
    booster = bundle.booster()
    contrib = M.booster_contrib(booster, x)
    raw = M.booster_raw(booster, x)
    write_json(
        Path(a.out),
        {
            "columns": bundle.input_columns + ["bias"],
            "imputed_rows": [[float(v) for v in row] for row in imputed],
            "contributions": [[float(v) for v in row] for row in contrib],
            "raw_score": [float(v) for v in raw],
            "lightgbm": [float(v) for v in M.booster_proba(booster, x)],
        },
    )
    return 0


def _cmd_reexport_onnx(a: argparse.Namespace) -> int:
    from .bundle import reexport_onnx

    changed = reexport_onnx(a.bundle)
    print(f"{'rewrote' if changed else 'up to date:'} {Path(a.bundle) / 'model.onnx'}")
    return 0


def _cmd_synth(a: argparse.Namespace) -> int:
    from .synthetic import make_snapshot

    parquet, meta = make_snapshot(
        a.out, customers=a.customers, dates=a.dates, horizon_days=a.horizon_days, seed=a.seed
    )
    print(parquet)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m churnflow_trainer", description="churnflow model trainer")
    p.add_argument("--version", action="version", version=f"churnflow_trainer {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model bundle from a snapshot (X.parquet + X.meta.json)")
    t.add_argument("--snapshot", required=True, help="the snapshot parquet file; X.meta.json must sit beside it")
    t.add_argument("--out", required=True, help="bundle directory, e.g. models/churn-gbdt")
    t.add_argument("--name", default="churn-gbdt")
    t.add_argument("--version", default="1.0.0")
    t.add_argument("--contact-cost", type=float, default=10.0)
    t.add_argument("--churner-loss", type=float, default=600.0)
    t.add_argument("--save-rate", type=float, default=0.3)
    t.add_argument("--validation-share", type=float, default=0.25, help="share of the latest observation dates")
    t.add_argument(
        "--early-stopping-share", type=float, default=0.2,
        help="share of the remaining (pre-validation) dates, latest first, used only for early stopping",
    )
    t.add_argument(
        "--purge-days", type=float, default=None,
        help="drop rows whose label window reaches into the next period (default: the label horizon from meta)",
    )
    t.add_argument(
        "--split", choices=("time", "group", "column"), default="time",
        help="time: latest dates validate (purged); group: whole values of --group-column are held out; "
        "column: the snapshot's --split-column says train / early_stopping / validation per row",
    )
    t.add_argument("--group-column", default="group", help="split=group: the column whose values are held out whole (e.g. group, customer_id)")
    t.add_argument("--split-column", default="split", help="split=column: the column with train / early_stopping / validation")
    t.add_argument(
        "--no-refit", action="store_true",
        help="keep the early-stopping rows out of training (default: once they picked the iteration count, refit on train + early stopping)",
    )
    t.add_argument("--seed", type=int, default=7)
    t.add_argument("--learning-rate", type=float, default=0.05)
    t.add_argument("--num-leaves", type=int, default=31)
    t.add_argument("--min-data-in-leaf", type=int, default=20)
    t.add_argument("--num-boost-round", type=int, default=500)
    t.add_argument("--early-stopping-rounds", type=int, default=50)
    t.add_argument(
        "--scale-pos-weight", default="none",
        help="none (default: keep probabilities calibrated), balanced (neg/pos; distorts probabilities, "
        "not recalibrated) or a number",
    )
    t.add_argument("--num-threads", type=int, default=1, help="LightGBM threads (1 = byte-reproducible)")
    t.add_argument(
        "--created-at", default=None,
        help="manifest created_at (ISO 8601 or epoch seconds); default $SOURCE_DATE_EPOCH, else now",
    )
    t.add_argument(
        "--trials", type=int, default=0,
        help="Optuna search: this many trials over the LightGBM parameters before training (0 = no search, use the flags above)",
    )
    t.add_argument("--timeout-s", type=float, default=None, help="search time budget in seconds (stops starting trials; the trial count then depends on machine speed)")
    t.add_argument("--pruner-startup-trials", type=int, default=5, help="search: trials that always run to the end before pruning starts")
    t.add_argument("--pruner-warmup-rounds", type=int, default=100, help="search: boosting rounds of a trial before it may be pruned")
    t.add_argument("--no-track", action="store_true", help="do not record the run in MLflow")
    t.add_argument(
        "--tracking-uri", default=None,
        help="MLflow store (default $MLFLOW_TRACKING_URI, else sqlite:///<training>/mlruns/mlflow.db; a path = a file store)",
    )
    t.add_argument("--experiment", default=None, help="MLflow experiment (default: --name)")
    t.add_argument("--run-info", default=None, help="write the MLflow run id (JSON) to this file")
    t.set_defaults(func=_cmd_train)

    f = sub.add_parser("fetch-run", help="copy a tracked train run's bundle artefact (manifest.json, model.onnx, lightgbm.txt) out of MLflow")
    f.add_argument("--run-id", required=True)
    f.add_argument("--tracking-uri", default=None, help="as for train")
    f.add_argument("--out", required=True, help="directory; the bundle lands in OUT/bundle (printed)")
    f.set_defaults(func=_cmd_fetch_run)

    for name, func, what in (
        ("score", _cmd_score, "score raw rows with the booster and with onnxruntime"),
        ("contrib", _cmd_contrib, "TreeSHAP contributions (LightGBM pred_contrib) for raw rows"),
    ):
        s = sub.add_parser(name, help=what)
        s.add_argument("--bundle", required=True, help="model bundle directory")
        s.add_argument("--rows", required=True, help="JSON array of objects feature -> number|null (raw, before imputation)")
        s.add_argument("--out", required=True, help="output JSON file")
        s.set_defaults(func=func)

    r = sub.add_parser(
        "reexport-onnx",
        help="rewrite a bundle's model.onnx from its lightgbm.txt with this exporter (adds tree covers); "
        "refuses if the model itself would change",
    )
    r.add_argument("--bundle", required=True, help="model bundle directory (rewritten in place)")
    r.set_defaults(func=_cmd_reexport_onnx)

    y = sub.add_parser("synth", help="write a small synthetic snapshot (tests, demos)")
    y.add_argument("--out", required=True, help="output prefix: writes PREFIX.parquet and PREFIX.meta.json")
    y.add_argument("--customers", type=int, default=600)
    y.add_argument("--dates", type=int, default=20)
    y.add_argument("--horizon-days", type=int, default=14)
    y.add_argument("--seed", type=int, default=0)
    y.set_defaults(func=_cmd_synth)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except TrainerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
