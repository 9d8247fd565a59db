"""Group and column splits, refit on the early-stopping rows, and the report of rows not trained on."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from churnflow_trainer import TrainerError
from churnflow_trainer.split import column_split, group_split

from .conftest import TRAIN_ARGS, run_cli, strict_json


def test_group_split_holds_out_whole_groups_reproducibly():
    rng = np.random.default_rng(3)
    groups = rng.choice([f"g{i}" for i in range(40)], size=5000)
    s = group_split(groups, 0.25, 0.2, seed=7)
    segs = [set(groups[m]) for m in (s.train, s.early_stopping, s.validation)]
    assert not (segs[0] & segs[1]) and not (segs[0] & segs[2]) and not (segs[1] & segs[2])
    assert (s.train | s.early_stopping | s.validation).all()
    assert len(segs[2]) == 10 and len(segs[1]) == 6  # round(0.25 × 40), round(0.2 × 30)
    # The same groups whatever the row order; another seed picks others.
    perm = rng.permutation(groups.size)
    s2 = group_split(groups[perm], 0.25, 0.2, seed=7)
    assert set(groups[perm][s2.validation]) == segs[2]
    assert set(groups[group_split(groups, 0.25, 0.2, seed=8).validation]) != segs[2]


def test_group_split_refuses_too_few_groups():
    with pytest.raises(TrainerError, match="at least 3 groups"):
        group_split(np.asarray(["a", "b", "a"]), 0.25, 0.2, seed=1)


def test_column_split_takes_the_rows_as_told_and_draws_early_stopping_customers():
    values = np.asarray(["train"] * 6 + ["validation"] * 2 + ["train"] * 4)
    customers = np.asarray([f"c{i % 5}" for i in range(12)])
    s = column_split(values, customers, 0.2, seed=7)
    assert s.validation.tolist() == [v == "validation" for v in values]
    assert s.early_stopping.any() and not (s.early_stopping & s.validation).any()
    # Whole customers: an early-stopping customer has no train rows.
    assert not set(customers[s.early_stopping]) & set(customers[s.train])
    with pytest.raises(TrainerError, match="split column values"):
        column_split(np.asarray(["train", "test"]), customers[:2], 0.2, seed=7)


def _with_column(snapshot, workdir, name, make):
    """A copy of the shared snapshot with one more column (and its meta)."""
    table = pq.read_table(snapshot)
    cid = np.asarray(table.column("customer_id").to_pylist())
    out = workdir / f"snap-{name}.parquet"
    pq.write_table(table.append_column(name, pa.array(make(cid))), out)
    (workdir / f"snap-{name}.meta.json").write_text((workdir / "snap.meta.json").read_text())
    return out


def test_train_with_a_group_split(snapshot, workdir):
    def cohorts(cid):
        index = {c: i for i, c in enumerate(sorted(set(cid)))}
        return [f"cohort{index[c] % 12}" for c in cid]

    snap = _with_column(snapshot, workdir, "group", cohorts)
    out = workdir / "bundle-group"
    r = run_cli("train", "--snapshot", snap, "--out", out, *TRAIN_ARGS, "--split", "group", "--created-at", "2026-11-26T00:00:00Z")
    manifest = strict_json(out / "manifest.json")
    split = manifest["training_data"]["split"]
    assert split["method"].startswith("group")
    assert split["groups"] == {"total": 12, "validation": 3, "early_stopping": 2}
    assert split["rows_not_trained"] == 0 and split["purged_rows"] == 0
    assert "rows not used for training or validation: 0 of" in r.stderr
    assert manifest["metrics"]["validation"]["roc_auc"] > 0.6


def test_refit_trains_on_the_early_stopping_rows_and_no_refit_reports_them(snapshot, workdir):
    a = workdir / "bundle-refit"
    b = workdir / "bundle-norefit"
    run_cli("train", "--snapshot", snapshot, "--out", a, *TRAIN_ARGS, "--created-at", "2026-11-26T00:00:00Z")
    r = run_cli("train", "--snapshot", snapshot, "--out", b, *TRAIN_ARGS, "--no-refit", "--created-at", "2026-11-26T00:00:00Z")
    ma, mb = strict_json(a / "manifest.json"), strict_json(b / "manifest.json")
    sa, sb = ma["training_data"]["split"], mb["training_data"]["split"]
    assert sa["refit_on_early_stopping"] is True and sb["refit_on_early_stopping"] is False
    assert sa["rows_not_trained"] == sa["purged_rows"]
    assert sb["rows_not_trained"] == sb["purged_rows"] + sb["early_stopping"]["rows"]
    assert f"{sb['early_stopping']['rows']} early-stopping rows are not trained on" in r.stderr
    # Same iteration count, different trees: the refit saw more rows.
    assert ma["params"]["best_iteration"] == mb["params"]["best_iteration"]
    assert (a / "lightgbm.txt").read_text() != (b / "lightgbm.txt").read_text()
