"""Optuna search and MLflow tracking of `train`: reproducible with a seed, pruning, tracked runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from churnflow_trainer import TrainerError
from churnflow_trainer.search import SearchConfig, run_search

from .conftest import CREATED_AT, TRAIN_ARGS, run_cli, strict_json

SMALL = ["--num-boost-round", "150", "--early-stopping-rounds", "20"]


def _train(snapshot, out: Path, *extra, run_info: Path | None = None, store: str | None = None):
    args = ["train", "--snapshot", snapshot, "--out", out, *TRAIN_ARGS, "--created-at", CREATED_AT, *SMALL, *extra]
    if run_info is not None:
        args += ["--run-info", run_info]
    return run_cli(*args, env_extra={"MLFLOW_TRACKING_URI": store} if store else None)


@pytest.fixture(scope="session")
def searched(snapshot, workdir):
    """The same 3-trial seeded search twice, each in its own tracking store."""
    runs = []
    for i in range(2):
        store = f"sqlite:///{workdir / f'search-store-{i}' / 'mlflow.db'}"
        out = workdir / f"searched-{i}"
        info = workdir / f"searched-{i}.run.json"
        r = _train(snapshot, out, "--trials", 3, "--seed", 5, run_info=info, store=store)
        runs.append({"out": out, "info": strict_json(info), "store": store, "stderr": r.stderr})
    return runs


def test_seeded_search_is_reproducible(searched):
    a, b = (strict_json(r["out"] / "manifest.json") for r in searched)
    assert a["search"]["trials_run"] == 3
    assert a["search"]["best_params"] == b["search"]["best_params"]
    assert a["search"]["best_value"] == b["search"]["best_value"]
    # The winner is trained for real with the searched parameters, and the bundle is byte-identical.
    for k, v in a["search"]["best_params"].items():
        assert a["params"][k] == v, k
    for f in ("model.onnx", "lightgbm.txt", "manifest.json"):
        assert (searched[0]["out"] / f).read_bytes() == (searched[1]["out"] / f).read_bytes(), f
    # Both sides of the comparison are measured on the validation rows.
    cmp = a["search"]["validation"]
    for side in ("default_params", "best_params"):
        assert set(cmp[side]) == {"roc_auc", "pr_auc", "logloss", "trees", "leaves", "max_depth"}
        assert 0.5 < cmp[side]["roc_auc"] <= 1.0
    assert cmp["best_params"]["roc_auc"] == pytest.approx(a["metrics"]["validation"]["roc_auc"], abs=1e-4)
    assert cmp["best_params"]["trees"] == a["params"]["best_iteration"]


def test_another_seed_searches_other_parameters(snapshot, workdir, searched):
    out = workdir / "searched-seed-6"
    _train(snapshot, out, "--trials", 1, "--seed", 6, "--no-track")
    first_5 = json.loads(Path(searched[0]["info"]["bundle"], "manifest.json").read_text())["search"]
    assert strict_json(out / "manifest.json")["search"]["best_params"] != first_5["best_params"]


def test_tracked_run_has_params_metrics_and_artefacts(searched, workdir):
    from mlflow.tracking import MlflowClient

    r = searched[0]
    info = r["info"]
    client = MlflowClient(r["store"])
    run = client.get_run(info["run_id"])
    assert run.info.status == "FINISHED"
    p, m = run.data.params, run.data.metrics
    manifest = strict_json(r["out"] / "manifest.json")
    assert p["split"] == "time" and p["trials"] == "3" and p["version"] == "1.0.0"
    assert float(p["lgb.learning_rate"]) == manifest["params"]["learning_rate"]
    assert p["lgb.deterministic"] == "True"
    for k in ("roc_auc", "pr_auc", "logloss", "brier"):
        assert m[f"validation.{k}"] == pytest.approx(manifest["metrics"]["validation"][k])
    assert m["rows_purged"] == manifest["training_data"]["split"]["purged_rows"] > 0
    assert m["rows_not_trained"] == manifest["training_data"]["split"]["rows_not_trained"]
    assert m["best_iteration"] == manifest["params"]["best_iteration"] == m["trees"]
    assert m["search.trials_run"] == 3
    assert m["search.default_params.roc_auc"] == pytest.approx(manifest["search"]["validation"]["default_params"]["roc_auc"])

    names = {a.path for a in client.list_artifacts(info["run_id"])}
    assert {"bundle", "feature_importance_gain.png", "search.json"} <= names
    assert {a.path for a in client.list_artifacts(info["run_id"], "bundle")} == {"bundle/model.onnx", "bundle/lightgbm.txt", "bundle/manifest.json"}
    png = Path(client.download_artifacts(info["run_id"], "feature_importance_gain.png", str(workdir / "dl-png")))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000

    # Each trial is a nested run under this one.
    children = client.search_runs([info["experiment_id"]], filter_string=f"tags.mlflow.parentRunId = '{info['run_id']}'")
    assert sorted(c.data.tags["churnflow.trial"] for c in children) == ["0", "1", "2"]
    assert all("learning_rate" in c.data.params and "early_stopping_logloss" in c.data.metrics for c in children)


def test_fetch_run_returns_the_bundle(searched, workdir):
    r = searched[0]
    out = run_cli("fetch-run", "--run-id", r["info"]["run_id"], "--tracking-uri", r["store"], "--out", workdir / "fetched").stdout.strip()
    for f in ("model.onnx", "lightgbm.txt", "manifest.json"):
        assert (Path(out) / f).read_bytes() == (r["out"] / f).read_bytes(), f
    bad = run_cli("fetch-run", "--run-id", "0" * 32, "--tracking-uri", r["store"], "--out", workdir / "fetched2", check=False)
    assert bad.returncode == 1 and "not found" in bad.stderr


def test_pruning_stops_trials_worse_than_the_median(snapshot, workdir):
    # Built to prune: after one finished trial, any trial whose early-stopping logloss is worse than that
    # trial's at the same round (from round 1) is stopped.
    store = f"sqlite:///{workdir / 'prune-store' / 'mlflow.db'}"
    out = workdir / "pruned"
    info = workdir / "pruned.run.json"
    r = _train(snapshot, out, "--trials", 6, "--seed", 1, "--pruner-startup-trials", 1, "--pruner-warmup-rounds", 0, run_info=info, store=store)
    s = strict_json(out / "manifest.json")["search"]
    assert s["pruned"] >= 1, r.stderr
    assert s["completed"] + s["pruned"] == s["trials_run"] == 6
    assert "pruned at round" in r.stderr

    from mlflow.tracking import MlflowClient

    run_id = strict_json(info)["run_id"]
    client = MlflowClient(store)
    children = client.search_runs([strict_json(info)["experiment_id"]], filter_string=f"tags.mlflow.parentRunId = '{run_id}'")
    killed = [c for c in children if c.info.status == "KILLED"]
    assert len(killed) == s["pruned"]
    assert all(c.data.tags["churnflow.trial_state"] == "PRUNED" for c in killed)


def test_median_pruner_on_known_curves():
    """run_search with hand-made learning curves: a trial whose curve lies above the first one is pruned
    at the first round past the warm-up; curves below it run to the end."""
    seen = []

    def fit_trial(params, report):
        # Curve level set by learning_rate: higher rate -> lower (better) curve.
        level = 1.0 / params["learning_rate"]
        for r in range(1, 21):
            report(r, level + 1.0 / r)
        seen.append(params["learning_rate"])
        return 20, level + 1.0 / 20

    res = run_search(SearchConfig(trials=8, seed=3, pruner_startup_trials=1, pruner_warmup_rounds=4), fit_trial, log=lambda m: None)
    first = res.trials[0]
    assert first.state == "COMPLETE"
    for t in res.trials[1:]:
        if t.state == "PRUNED":
            assert t.rounds == 4  # the first round the pruner may act on (round >= warm-up)
        # Worse than every finished trial at round 4 -> pruned; better than the first -> runs on.
        if t.params["learning_rate"] < first.params["learning_rate"]:
            assert t.state == "PRUNED"
    assert res.pruned >= 1
    assert res.best_params["learning_rate"] == max(t.params["learning_rate"] for t in res.trials if t.state == "COMPLETE")


def test_search_flag_errors(snapshot, workdir):
    for extra, needle in (
        (("--trials", -1), "--trials must be >= 0"),
        (("--timeout-s", 5), "--timeout-s limits the search"),
        (("--trials", 2, "--timeout-s", 0), "--timeout-s must be > 0"),
    ):
        r = run_cli("train", "--snapshot", snapshot, "--out", workdir / "bad", *TRAIN_ARGS, *extra, "--no-track", check=False)
        assert r.returncode == 1 and needle in r.stderr, (extra, r.stderr)
    assert not (workdir / "bad" / "manifest.json").exists()


def test_untracked_run_writes_no_store(snapshot, workdir):
    store = workdir / "never" / "mlflow.db"
    _train(snapshot, workdir / "untracked", "--no-track", store=f"sqlite:///{store}")
    assert not store.exists()
    assert (workdir / "untracked" / "manifest.json").exists()
    assert "search" not in strict_json(workdir / "untracked" / "manifest.json")


def test_search_config_is_checked():
    with pytest.raises(TrainerError, match="--trials must be >= 1"):
        SearchConfig(trials=0).validate()
