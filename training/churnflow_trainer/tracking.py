"""MLflow run tracking: every `train` run records its parameters, metrics, bundle and feature-importance
plot; each search trial is a nested run.

Default store: a local SQLite file, training/mlruns/mlflow.db, with artefacts under
training/mlruns/artifacts (git-ignored; no server). MLflow's plain-directory FileStore (`./mlruns`) is in
maintenance mode since MLflow 3 and refuses to open unless MLFLOW_ALLOW_FILE_STORE=true; a `file:` URI
given explicitly still works (the opt-in is set for it). $MLFLOW_TRACKING_URI or --tracking-uri choose
another store (a tracking server, another database).
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from . import TrainerError

TRAINING_DIR = Path(__file__).resolve().parent.parent
BUNDLE_ARTIFACT = "bundle"
IMPORTANCE_PLOT = "feature_importance_gain.png"


def default_tracking_uri() -> str:
    return f"sqlite:///{TRAINING_DIR / 'mlruns' / 'mlflow.db'}"


def resolve_tracking_uri(arg: str | None, environ=os.environ) -> str:
    """--tracking-uri, else $MLFLOW_TRACKING_URI, else the local default. A bare path means a FileStore directory."""
    uri = arg or environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()
    if "://" not in uri and not uri.startswith(("file:", "sqlite:", "databricks")):
        uri = Path(uri).resolve().as_uri()
    return uri


def _prepare(uri: str) -> None:
    import mlflow

    # stderr carries the trainer's progress lines; MLflow's download progress bar only garbles it.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if uri.startswith("file:"):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # asked for explicitly
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)


def _experiment_id(uri: str, name: str) -> str:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    artifact_location = None
    if uri.startswith("sqlite:///"):
        # Beside the database, not in the current directory (MLflow's default for database stores).
        artifact_location = (Path(uri[len("sqlite:///"):]).parent / "artifacts" / name).resolve().as_uri()
    return client.create_experiment(name, artifact_location=artifact_location)


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def _numbers(d: dict) -> dict:
    return {k: float(v) for k, v in _flat(d).items() if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v}


class Run:
    """The active MLflow run of one `train` invocation."""

    def __init__(self, mlflow_run, uri: str):
        self.run_id: str = mlflow_run.info.run_id
        self.experiment_id: str = mlflow_run.info.experiment_id
        self.tracking_uri = uri

    def params(self, params: dict) -> None:
        import mlflow

        flat = {k: ("" if v is None else str(v)) for k, v in _flat(params).items()}
        mlflow.log_params(flat)

    def metrics(self, metrics: dict, prefix: str = "") -> None:
        import mlflow

        nums = _numbers(metrics)
        mlflow.log_metrics({f"{prefix}{k}": v for k, v in nums.items()})

    def bundle(self, out_dir: Path, files: tuple[str, ...]) -> None:
        import mlflow

        for f in files:
            mlflow.log_artifact(str(Path(out_dir) / f), artifact_path=BUNDLE_ARTIFACT)

    def json(self, name: str, value) -> None:
        import mlflow

        mlflow.log_dict(value, name)

    def importance_plot(self, booster, columns: list[str], top: int = 30) -> None:
        import mlflow

        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / IMPORTANCE_PLOT
            write_importance_plot(booster, columns, path, top)
            mlflow.log_artifact(str(path))

    def trial(self, number: int, state: str, params: dict, value: float | None, rounds: int) -> None:
        """One search trial as a nested run (KILLED when pruned)."""
        from mlflow.tracking import MlflowClient

        client = MlflowClient(self.tracking_uri)
        child = client.create_run(
            self.experiment_id,
            run_name=f"trial-{number}",
            tags={"mlflow.parentRunId": self.run_id, "churnflow.trial": str(number), "churnflow.trial_state": state},
        )
        cid = child.info.run_id
        for k, v in params.items():
            client.log_param(cid, k, str(v))
        if value is not None:
            client.log_metric(cid, "early_stopping_logloss", float(value))
        client.log_metric(cid, "rounds", float(rounds))
        client.set_terminated(cid, status="FINISHED" if state == "COMPLETE" else "KILLED")


def write_importance_plot(booster, columns: list[str], path: Path, top: int = 30) -> None:
    """Horizontal bar chart of the `top` input columns by total split gain (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    gain = np.asarray(booster.feature_importance(importance_type="gain"), dtype=np.float64)
    order = np.argsort(-gain, kind="stable")[:top]
    order = order[gain[order] > 0][::-1]
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.28 * len(order) + 1)))
    ax.barh([columns[i] for i in order], gain[order], color="#4477aa")
    ax.set_xlabel("total gain (LightGBM, importance_type=gain)")
    ax.set_title(f"feature importance: top {len(order)} of {len(columns)} inputs")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@contextmanager
def start_run(tracking_uri: str, experiment: str, run_name: str) -> Iterator[Run]:
    """A run that ends FINISHED on success, FAILED if the body raises."""
    import mlflow

    _prepare(tracking_uri)
    try:
        exp_id = _experiment_id(tracking_uri, experiment)
    except Exception as e:  # the store's own exception types vary by backend
        raise TrainerError(f"MLflow tracking store {tracking_uri}: {e}") from e
    with mlflow.start_run(experiment_id=exp_id, run_name=run_name) as r:
        yield Run(r, tracking_uri)


def download_bundle(run_id: str, tracking_uri: str, dest: Path) -> Path:
    """The run's bundle artefact (manifest.json, model.onnx, lightgbm.txt) copied into dest/bundle."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    _prepare(tracking_uri)
    try:
        run = MlflowClient(tracking_uri).get_run(run_id)
    except MlflowException as e:
        raise TrainerError(f"MLflow run {run_id!r} not found in {tracking_uri}") from e
    if run.info.status != "FINISHED":
        raise TrainerError(f"MLflow run {run_id} is {run.info.status}, not FINISHED: its bundle may be incomplete")
    try:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=BUNDLE_ARTIFACT, dst_path=str(dest), tracking_uri=tracking_uri)
    except (MlflowException, OSError) as e:
        raise TrainerError(f"MLflow run {run_id} has no '{BUNDLE_ARTIFACT}' artefact (not a churnflow train run?): {e}") from e
    p = Path(path)
    if not (p / "manifest.json").is_file():
        raise TrainerError(f"MLflow run {run_id}: the '{BUNDLE_ARTIFACT}' artefact has no manifest.json")
    return p


def write_run_info(path: Path, run: Run, bundle: Path) -> None:
    Path(path).write_text(
        json.dumps({"run_id": run.run_id, "experiment_id": run.experiment_id, "tracking_uri": run.tracking_uri, "bundle": str(bundle)}) + "\n"
    )
