"""Shared fixtures: one synthetic snapshot and one trained bundle per test session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

TRAINING = Path(__file__).resolve().parents[1]
CREATED_AT = "2026-11-26T00:00:00Z"
CREATED_AT_EPOCH = 1795651200  # the same instant
TRAIN_ARGS = [
    "--name", "churn-gbdt", "--version", "1.0.0",
    "--contact-cost", "10", "--churner-loss", "600", "--save-rate", "0.3",
    "--validation-share", "0.25", "--seed", "7",
]
GIT_COMMIT = "0123456789abcdef0123456789abcdef01234567"
COSTS = {"contact_cost": 10.0, "churner_loss": 600.0, "save_rate": 0.3}


@pytest.fixture(scope="session", autouse=True)
def _tracking_store(tmp_path_factory):
    """Every trainer run is tracked: keep the test runs out of training/mlruns (one store per session)."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlruns') / 'mlflow.db'}"
    old = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    yield uri
    if old is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = old


def run_cli(*args, env_extra: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("SOURCE_DATE_EPOCH", None)
    # Pinned: another commit landing between two training runs must not make them differ.
    env["CHURNFLOW_GIT_COMMIT"] = GIT_COMMIT
    env["PYTHONPATH"] = str(TRAINING) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if env_extra:
        env.update(env_extra)
    r = subprocess.run(
        [sys.executable, "-m", "churnflow_trainer", *map(str, args)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    if check and r.returncode != 0:
        raise AssertionError(f"CLI {args} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def strict_json(path: Path):
    def no_constants(name):
        raise ValueError(f"{path}: non-standard JSON constant {name}")

    return json.loads(Path(path).read_text(encoding="utf-8"), parse_constant=no_constants)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("churnflow")


@pytest.fixture(scope="session")
def snapshot(workdir) -> Path:
    # Via the CLI too, so `synth` is exercised.
    run_cli("synth", "--out", workdir / "snap", "--customers", 600, "--dates", 20, "--horizon-days", 14, "--seed", 0)
    return workdir / "snap.parquet"


@pytest.fixture(scope="session")
def meta(snapshot) -> dict:
    return strict_json(snapshot.with_name("snap.meta.json"))


@pytest.fixture(scope="session")
def bundle(snapshot, workdir) -> Path:
    out = workdir / "models" / "a"
    run_cli("train", "--snapshot", snapshot, "--out", out, *TRAIN_ARGS, "--created-at", CREATED_AT,
            env_extra={"PYTHONHASHSEED": "0"})
    return out


@pytest.fixture(scope="session")
def manifest(bundle) -> dict:
    return strict_json(bundle / "manifest.json")


class Data:
    """The snapshot read directly with pyarrow (independently of the trainer's loader)."""

    def __init__(self, path: Path, meta: dict):
        t = pq.read_table(path)
        self.names = [f["name"] for f in meta["features"]]
        self.indicators = [f["missing_indicator"] for f in meta["features"]]
        self.customer_id = np.asarray(t.column("customer_id").to_pylist())
        self.obs = t.column("observation_time").to_numpy()
        self.y = t.column("label").to_numpy().astype(int)
        self.raw = np.column_stack(
            [np.asarray(t.column(n).to_pylist(), dtype=object) for n in self.names]
        )  # None = missing

    def raw_float(self, mask) -> np.ndarray:
        r = self.raw[mask]
        return np.array([[np.nan if v is None else float(v) for v in row] for row in r], dtype=np.float64)

    def period(self, seg: dict) -> np.ndarray:
        return (self.obs >= seg["from"]) & (self.obs <= seg["to"])

    def imputed(self, mask, manifest) -> np.ndarray:
        """Imputation written out by hand from the formats.md rule (not the trainer's code)."""
        out = []
        for row in self.raw[mask]:
            vals = []
            for v, f in zip(row, manifest["features"]):
                vals.append(f["impute"] if v is None else float(v))
                if f["missing_indicator"]:
                    vals.append(1.0 if v is None else 0.0)
            out.append(vals)
        return np.asarray(out, dtype=np.float64)


@pytest.fixture(scope="session")
def data(snapshot, meta) -> Data:
    return Data(snapshot, meta)


def onnx_scores(bundle: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    # One thread, like the trainer: with several, onnxruntime may sum trees in a different order and
    # scores move in the last float32 bits (~1e-8), enough to flip ties right at the threshold.
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(bundle / "model.onnx"), sess_options=so, providers=["CPUExecutionProvider"])
    probs = sess.run(["probabilities"], {"input": np.asarray(x, dtype=np.float32)})[0]
    assert probs.shape == (x.shape[0], 2)
    return probs[:, 1].astype(np.float64)


def lightgbm_scores(bundle: Path, x: np.ndarray) -> np.ndarray:
    import lightgbm as lgb

    b = lgb.Booster(model_file=str(bundle / "lightgbm.txt"))
    return b.predict(np.asarray(x, dtype=np.float32).astype(np.float64))
