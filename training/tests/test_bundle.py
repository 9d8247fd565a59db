"""End-to-end: train on the synthetic snapshot, then check the bundle against docs/formats.md by
recomputing everything independently from the parquet file."""

from __future__ import annotations

import hashlib
import json
import math
import re

import numpy as np
import onnx
import pytest
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from .conftest import COSTS, CREATED_AT, GIT_COMMIT, lightgbm_scores, onnx_scores

DAY_MS = 86_400_000
METRIC_KEYS = {"roc_auc", "pr_auc", "recall", "precision", "f1", "brier", "logloss", "rows", "positives", "from", "to", "net_value"}


def expected_input_columns(features):
    cols = []
    for f in features:
        cols.append(f["name"])
        if f["missing_indicator"]:
            cols.append(f["name"] + "__missing")
    return cols


def net_value_at(y, scores, threshold):
    contacted = scores >= threshold
    tp = int(np.sum(contacted & (y == 1)))
    return tp * COSTS["save_rate"] * COSTS["churner_loss"] - int(contacted.sum()) * COSTS["contact_cost"]


def test_bundle_files_exist(bundle, manifest):
    for name in ("model.onnx", "lightgbm.txt", "manifest.json"):
        p = bundle / name
        assert p.is_file() and p.stat().st_size > 0, name
    assert (bundle / "lightgbm.txt").read_text().startswith("tree\n")
    assert manifest["onnx"]["file"] == "model.onnx"
    assert not [p.name for p in bundle.iterdir() if p.name.startswith(".")], "staging leftovers in the bundle"


def test_manifest_header_and_features(manifest, meta):
    assert manifest["format"] == "churnflow.model/v1"
    assert manifest["name"] == "churn-gbdt"
    assert manifest["version"] == "1.0.0"
    assert manifest["created_at"] == CREATED_AT
    assert manifest["feature_spec_hash"] == meta["feature_spec_hash"]
    assert [f["name"] for f in manifest["features"]] == [f["name"] for f in meta["features"]]
    assert [f["missing_indicator"] for f in manifest["features"]] == [f["missing_indicator"] for f in meta["features"]]
    for f in manifest["features"]:
        assert set(f) == {"name", "impute", "missing_indicator"}
        assert isinstance(f["impute"], float) and math.isfinite(f["impute"])
    assert manifest["input_columns"] == expected_input_columns(meta["features"])
    assert "days_since_last_login__missing" in manifest["input_columns"]  # the rule is exercised


def test_onnx_signature(bundle, manifest):
    model = onnx.load(str(bundle / "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    o = manifest["onnx"]
    assert o["input_name"] == "input" and o["probability_output"] == "probabilities" and o["positive_index"] == 1
    (inp,) = model.graph.input
    assert inp.name == "input"
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    dims = inp.type.tensor_type.shape.dim
    assert len(dims) == 2 and not dims[0].HasField("dim_value") and dims[1].dim_value == len(manifest["input_columns"])
    assert [out.name for out in model.graph.output] == ["label", "probabilities"]
    pdims = model.graph.output[1].type.tensor_type.shape.dim
    assert pdims[1].dim_value == 2
    opsets = {(i.domain or "ai.onnx"): i.version for i in model.opset_import}
    assert [i.domain for i in model.opset_import] == sorted(i.domain for i in model.opset_import)
    assert o["opset"] == opsets["ai.onnx"] <= 15
    assert o["ml_opset"] == opsets["ai.onnx.ml"]
    assert o["ir_version"] == model.ir_version
    # ZipMap would make `probabilities` a sequence of maps; zipmap=False keeps a tensor.
    assert "ZipMap" not in {n.op_type for n in model.graph.node}


def test_decision_and_bands(manifest):
    d = manifest["decision"]
    t = d["threshold"]
    assert 0.0 < t < 1.0
    assert [b["name"] for b in d["bands"]] == ["low", "medium", "high"]
    mins = [b["min_score"] for b in d["bands"]]
    assert mins[0] == 0.0 and mins[0] < mins[1] < mins[2]
    assert mins[2] == t and mins[1] == t / 2
    assert all(0.0 <= m < 1.0 for m in mins)
    assert d["costs"] == COSTS


def test_training_data_lineage_params(bundle, manifest, meta, snapshot, data):
    td = manifest["training_data"]
    assert td["snapshot"] == "sha256:" + hashlib.sha256(snapshot.read_bytes()).hexdigest()
    assert td["rows"] == data.y.size == meta["rows"]
    assert td["positives"] == int(data.y.sum()) == meta["positives"]
    assert td["from"] == int(data.obs.min()) and td["to"] == int(data.obs.max())
    assert td["source"] == meta["source"]
    p = manifest["params"]
    assert p["objective"] == "binary" and p["deterministic"] is True and p["seed"] == 7
    assert 1 <= p["best_iteration"] <= p["num_boost_round"]
    text = (bundle / "lightgbm.txt").read_text()
    assert len(re.findall(r"^Tree=\d+$", text, flags=re.M)) == p["best_iteration"]
    lin = manifest["lineage"]
    for k in ("trainer", "git_commit", "python", "lightgbm", "onnxmltools"):
        assert k in lin
    assert lin["lightgbm"].startswith("4.")
    assert lin["git_commit"] == GIT_COMMIT


def test_time_split_is_by_date(manifest, meta, data):
    m = manifest["metrics"]
    split = manifest["training_data"]["split"]
    dates = np.unique(data.obs)
    n_val = int(math.floor(0.25 * dates.size + 0.5))
    va, tr, es = data.period(m["validation"]), data.period(m["train"]), data.period(m["early_stopping"])
    # Validation = the latest ~25% of observation dates, all of their rows.
    assert m["validation"]["from"] == dates[-n_val] and m["validation"]["to"] == dates[-1]
    assert m["validation"]["rows"] == int(va.sum()) == int((data.obs >= dates[-n_val]).sum())
    # Train and early stopping are whole dates too (a row-level split would break these counts).
    assert m["train"]["rows"] == int(tr.sum()) and m["early_stopping"]["rows"] == int(es.sum())
    assert m["train"]["positives"] == int(data.y[tr].sum())
    assert not (tr & es).any() and not (tr & va).any() and not (es & va).any()
    # Every validation time is after every early-stopping time, which is after every train time.
    assert data.obs[va].min() > data.obs[es].max() > data.obs[tr].max()
    # Purge: a label window (horizon) never reaches into the next period.
    horizon = meta["label"]["horizon_days"] * DAY_MS
    assert split["purge_days"] == meta["label"]["horizon_days"]
    assert data.obs[es].max() + horizon <= data.obs[va].min()
    assert data.obs[tr].max() + horizon <= data.obs[va].min()
    # ... and that gap is the only thing dropped: every other date before validation is used.
    used = set(data.obs[tr | es].tolist())
    for d in dates[: dates.size - n_val]:
        assert (int(d) in used) == (d + horizon <= dates[-n_val]), d
    assert split["train"]["rows"] + split["early_stopping"]["rows"] + split["validation"]["rows"] + split[
        "purged_rows"
    ] == data.y.size


def test_imputation_values_are_train_medians(manifest, data):
    tr = data.period(manifest["metrics"]["train"])
    raw_tr = data.raw_float(tr)
    raw_all = data.raw_float(np.ones(data.y.size, bool))
    for j, f in enumerate(manifest["features"]):
        col = raw_tr[:, j]
        assert f["impute"] == float(np.median(col[~np.isnan(col)])), f["name"]
    # The check has teeth: tenure grows over time, so the whole-snapshot median is different.
    j = data.names.index("tenure_days")
    assert manifest["features"][j]["impute"] != float(np.nanmedian(raw_all[:, j]))


def _bin_index(v, edges):
    for i, e in enumerate(edges):
        if v <= e:
            return i
    return len(edges)


def test_reference_distributions(bundle, manifest, data):
    ref = manifest["reference"]
    tr = data.period(manifest["metrics"]["train"])
    raw_tr = data.raw_float(tr)
    assert set(ref["features"]) == set(data.names)
    for j, name in enumerate(data.names):
        r = ref["features"][name]
        edges, shares = r["edges"], r["shares"]
        assert all(a < b for a, b in zip(edges, edges[1:])), name
        assert len(shares) == len(edges) + 1 <= 10, name
        assert math.isclose(sum(shares), 1.0, abs_tol=1e-9), name
        assert all(s > 0 for s in shares), f"{name}: empty bin"
        col = raw_tr[:, j]
        assert r["missing_share"] == pytest.approx(float(np.isnan(col).mean()), abs=1e-12)
        present = col[~np.isnan(col)]
        counts = np.bincount([_bin_index(v, edges) for v in present], minlength=len(shares))
        assert shares == pytest.approx(list(counts / present.size), abs=1e-12), name
        if np.unique(present).size <= 10:  # discrete: one bin per value
            assert edges == [float(v) for v in np.unique(present)[:-1]], name
    assert ref["features"]["days_since_last_login"]["missing_share"] > 0
    assert len(ref["features"]["avg_session_seconds_30d"]["shares"]) >= 8  # continuous: ~10 quantile bins
    # Score reference: the model's scores on the training rows.
    s_tr = onnx_scores(bundle, data.imputed(tr, manifest))
    sr = ref["score"]
    assert all(a < b for a, b in zip(sr["edges"], sr["edges"][1:]))
    counts = np.bincount([_bin_index(v, sr["edges"]) for v in s_tr], minlength=len(sr["shares"]))
    assert sr["shares"] == pytest.approx(list(counts / s_tr.size), abs=1e-12)
    assert ref["positive_rate"] == pytest.approx(float(data.y[tr].mean()), abs=1e-12)


def test_reference_outputs(bundle, manifest, data):
    ro = manifest["reference_outputs"]
    rows = np.asarray(ro["rows"], dtype=np.float64)
    assert rows.shape == (32, len(manifest["input_columns"]))
    assert np.isfinite(rows).all()
    assert np.array_equal(onnx_scores(bundle, rows), np.asarray(ro["scores"]))
    # They are imputed validation rows, spread over the score range.
    va = data.period(manifest["metrics"]["validation"])
    val_rows = {tuple(r) for r in data.imputed(va, manifest)}
    assert all(tuple(r) in val_rows for r in rows.tolist())
    t = manifest["decision"]["threshold"]
    assert min(ro["scores"]) < t / 2 and max(ro["scores"]) >= t


def test_onnx_matches_lightgbm(bundle, manifest, data):
    va = data.period(manifest["metrics"]["validation"])
    x = data.imputed(va, manifest)
    diff = np.abs(onnx_scores(bundle, x) - lightgbm_scores(bundle, x))
    assert diff.max() < 1e-5
    # LightGBM's split thresholds were made float32-exact, so both sides take the same branches.
    text = (bundle / "lightgbm.txt").read_text()
    for line in re.findall(r"^threshold=(.*)$", text, flags=re.M):
        for v in line.split():
            assert float(np.float32(float(v))) == float(v)


def test_threshold_maximises_net_value(bundle, manifest, data):
    va = data.period(manifest["metrics"]["validation"])
    y = data.y[va]
    s = onnx_scores(bundle, data.imputed(va, manifest))
    best = max([net_value_at(y, s, c) for c in np.unique(s)] + [0.0])  # + "contact nobody"
    t = manifest["decision"]["threshold"]
    assert net_value_at(y, s, t) == pytest.approx(best, abs=1e-6)
    assert manifest["metrics"]["validation"]["net_value"] == pytest.approx(best, abs=1e-6)
    assert best > 0  # the synthetic signal is worth acting on


def test_metrics_match_sklearn(bundle, manifest, data):
    t = manifest["decision"]["threshold"]
    for period in ("validation", "train", "early_stopping"):
        m = manifest["metrics"][period]
        assert set(m) == METRIC_KEYS
        mask = data.period(m)
        y = data.y[mask]
        s = onnx_scores(bundle, data.imputed(mask, manifest))
        pred = (s >= t).astype(int)
        assert m["rows"] == y.size and m["positives"] == int(y.sum())
        assert m["from"] == int(data.obs[mask].min()) and m["to"] == int(data.obs[mask].max())
        assert m["roc_auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        assert m["pr_auc"] == pytest.approx(average_precision_score(y, s), abs=1e-12)
        assert m["recall"] == pytest.approx(recall_score(y, pred), abs=1e-12)
        assert m["precision"] == pytest.approx(precision_score(y, pred), abs=1e-12)
        assert m["f1"] == pytest.approx(f1_score(y, pred), abs=1e-12)
        assert m["brier"] == pytest.approx(brier_score_loss(y, s), abs=1e-12)
        assert m["logloss"] == pytest.approx(log_loss(y, s), abs=1e-12)
        assert m["net_value"] == pytest.approx(net_value_at(y, s, t), abs=1e-6)
    # The model learned the synthetic signal.
    assert manifest["metrics"]["validation"]["roc_auc"] > 0.75


def _tree_covers(model):
    (entry,) = [p for p in model.metadata_props if p.key == "churnflow.tree_covers"]
    payload = json.loads(entry.value)
    assert set(payload) == {"format", "op", "source", "order", "covers"}
    assert payload["format"] == "churnflow.tree_covers/v1"
    return payload


def test_onnx_carries_tree_covers_for_treeshap(bundle, manifest):
    """model.onnx stores LightGBM's per-node sample counts (metadata churnflow.tree_covers), aligned
    with the TreeEnsemble's node order, so the engine can run exact TreeSHAP from the ONNX file alone."""
    model = onnx.load(str(bundle / "model.onnx"))
    payload = _tree_covers(model)
    (node,) = [n for n in model.graph.node if n.op_type == "TreeEnsembleClassifier"]
    assert payload["op"] == node.op_type
    a = {x.name: onnx.helper.get_attribute_value(x) for x in node.attribute}
    covers = payload["covers"]
    assert len(covers) == len(a["nodes_nodeids"]) and all(isinstance(c, int) for c in covers)
    pos = {(t, i): k for k, (t, i) in enumerate(zip(a["nodes_treeids"], a["nodes_nodeids"]))}
    weight = {(t, i): w for t, i, w in zip(a["class_treeids"], a["class_nodeids"], a["class_weights"])}
    split = manifest["training_data"]["split"]
    # The trees were fitted on the train rows, plus the early-stopping rows when refitted on them.
    train_rows = manifest["metrics"]["train"]["rows"] + (manifest["metrics"]["early_stopping"]["rows"] if split["refit_on_early_stopping"] else 0)
    expected = 0.0
    for tree in sorted(set(a["nodes_treeids"])):
        root = pos[(tree, 0)]
        assert covers[root] == train_rows  # every tree sees every training row (no bagging)
        tree_ev = 0.0
        for (t, i), k in pos.items():
            if t != tree:
                continue
            if a["nodes_modes"][k] == b"LEAF":
                assert covers[k] > 0  # (LightGBM's min_data_in_leaf is checked on estimated counts, not exactly)
                tree_ev += covers[k] / covers[root] * weight[(t, i)]
            else:  # a split sends each of its rows one way
                yes, no = pos[(t, a["nodes_truenodeids"][k])], pos[(t, a["nodes_falsenodeids"][k])]
                assert covers[k] == covers[yes] + covers[no]
        expected += tree_ev
    # With the leaf covers in the right place, the cover-weighted mean leaf values are LightGBM's
    # TreeSHAP bias (expected value); covers attached to the wrong leaves would not add up to it.
    import lightgbm as lgb

    booster = lgb.Booster(model_file=str(bundle / "lightgbm.txt"))
    bias = booster.predict(np.zeros((1, len(manifest["input_columns"]))), pred_contrib=True)[0, -1]
    assert expected == pytest.approx(bias, abs=1e-6)
