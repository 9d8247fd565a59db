"""`score` and `contrib` CLIs (used by the TypeScript parity and TreeSHAP checks), and CLI errors."""

from __future__ import annotations

import json

import numpy as np

from .conftest import onnx_scores, run_cli, strict_json


def _raw_rows(data, manifest, n=40):
    """Raw validation rows as the engine would send them (null = missing), plus an all-null row."""
    va = np.flatnonzero(data.period(manifest["metrics"]["validation"]))[:n]
    rows = [{name: data.raw[i, j] for j, name in enumerate(data.names)} for i in va]
    rows.append({name: None for name in data.names})
    return va, rows


def test_score_cli(bundle, manifest, data, workdir):
    idx, rows = _raw_rows(data, manifest)
    assert any(v is None for r in rows[:-1] for v in r.values())  # missing values are exercised
    (workdir / "rows.json").write_text(json.dumps(rows))
    run_cli("score", "--bundle", bundle, "--rows", workdir / "rows.json", "--out", workdir / "scores.json")
    out = strict_json(workdir / "scores.json")
    imputed = np.asarray(out["imputed_rows"])
    mask = np.zeros(data.y.size, bool)
    mask[idx] = True
    assert np.array_equal(imputed[:-1], data.imputed(mask, manifest))
    all_null = []
    for f in manifest["features"]:
        all_null.append(f["impute"])
        if f["missing_indicator"]:
            all_null.append(1.0)
    assert imputed[-1].tolist() == all_null
    lgb, ort = np.asarray(out["lightgbm"]), np.asarray(out["onnxruntime"])
    assert lgb.shape == ort.shape == (len(rows),)
    assert np.abs(lgb - ort).max() < 1e-5
    assert np.array_equal(ort, onnx_scores(bundle, imputed))
    assert ((0 < lgb) & (lgb < 1)).all()


def test_contrib_cli(bundle, manifest, data, workdir):
    _, rows = _raw_rows(data, manifest, n=20)
    (workdir / "rows_c.json").write_text(json.dumps(rows))
    run_cli("contrib", "--bundle", bundle, "--rows", workdir / "rows_c.json", "--out", workdir / "contrib.json")
    out = strict_json(workdir / "contrib.json")
    assert out["columns"] == manifest["input_columns"] + ["bias"]
    c = np.asarray(out["contributions"])
    assert c.shape == (len(rows), len(manifest["input_columns"]) + 1)
    raw = np.asarray(out["raw_score"])
    assert np.abs(c.sum(axis=1) - raw).max() < 1e-9  # SHAP values add up to the margin
    assert np.ptp(c[:, -1]) == 0.0  # the bias (expected value) is the same for every row
    p = np.asarray(out["lightgbm"])
    assert np.abs(1 / (1 + np.exp(-raw)) - p).max() < 1e-12
    assert np.abs(p - onnx_scores(bundle, np.asarray(out["imputed_rows"]))).max() < 1e-5
    # Indicator columns get attributions only where the model uses them; at least some feature matters.
    assert (np.abs(c[:, :-1]).sum(axis=0) > 0).any()


def test_score_rejects_bad_rows(bundle, workdir, data):
    bad = {name: 1.0 for name in data.names}
    bad["logins_7d_typo"] = 3
    (workdir / "bad.json").write_text(json.dumps([bad]))
    r = run_cli("score", "--bundle", bundle, "--rows", workdir / "bad.json", "--out", workdir / "x.json", check=False)
    assert r.returncode == 1 and "unknown features" in r.stderr
    partial = {data.names[0]: 1.0}
    (workdir / "partial.json").write_text(json.dumps([partial]))
    r = run_cli("score", "--bundle", bundle, "--rows", workdir / "partial.json", "--out", workdir / "x.json", check=False)
    assert r.returncode == 1 and "lacks features" in r.stderr
    assert not (workdir / "x.json").exists()


def test_train_errors_are_clear(workdir, snapshot):
    r = run_cli("train", "--snapshot", workdir / "nope.parquet", "--out", workdir / "m", check=False)
    assert r.returncode == 1 and "snapshot not found" in r.stderr
    r = run_cli("train", "--snapshot", snapshot, "--out", workdir / "m", "--validation-share", "1.5", check=False)
    assert r.returncode == 1 and "validation-share" in r.stderr
    # A purge gap that eats the whole early-stopping period is refused rather than silently ignored.
    r = run_cli("train", "--snapshot", snapshot, "--out", workdir / "m", "--purge-days", "120", check=False)
    assert r.returncode == 1 and "empty after purging" in r.stderr
    assert not (workdir / "m" / "manifest.json").exists()


def test_reexport_onnx_adds_covers_without_changing_the_model(bundle, workdir):
    """A bundle exported before tree covers existed gets them by `reexport-onnx`, byte-identical to a
    fresh training run; a model.onnx the exporter would not reproduce is left alone."""
    import shutil

    import onnx

    old = workdir / "models" / "old-export"
    shutil.copytree(bundle, old)
    model = onnx.load(str(old / "model.onnx"))
    del model.metadata_props[:]  # what the exporter wrote before covers
    (old / "model.onnx").write_bytes(model.SerializeToString())
    r = run_cli("reexport-onnx", "--bundle", old)
    assert r.stdout.startswith("rewrote")
    for name in ("model.onnx", "lightgbm.txt", "manifest.json"):
        assert (old / name).read_bytes() == (bundle / name).read_bytes(), name
    r = run_cli("reexport-onnx", "--bundle", old)
    assert r.stdout.startswith("up to date")
    assert not [p.name for p in old.iterdir() if p.name.startswith(".")]

    # Another model (one threshold moved): refused, file untouched.
    (node,) = [n for n in model.graph.node if n.op_type == "TreeEnsembleClassifier"]
    (values,) = [a for a in node.attribute if a.name == "nodes_values"]
    values.floats[0] += 1.0
    tampered = model.SerializeToString()
    (old / "model.onnx").write_bytes(tampered)
    r = run_cli("reexport-onnx", "--bundle", old, check=False)
    assert r.returncode == 1 and "does not reproduce" in r.stderr
    assert (old / "model.onnx").read_bytes() == tampered
