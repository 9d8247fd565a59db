"""Unit tests of the building blocks, against hand-computed or brute-force answers."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from churnflow_trainer import TrainerError
from churnflow_trainer.decision import Costs, bands, net_value, tune_threshold
from churnflow_trainer.features import build_input, fit_medians, impute, input_columns, rows_to_raw
from churnflow_trainer.model import check_parity, float32_thresholds, floor_float32
from churnflow_trainer.reference import edges_for, feature_reference, shares_for
from churnflow_trainer.split import DAY_MS, time_split
from churnflow_trainer.train import _git_commit, _pick_reference_rows, _scale_pos_weight, resolve_created_at

COSTS = Costs(contact_cost=10.0, churner_loss=600.0, save_rate=0.3)


# --- features -------------------------------------------------------------------------------------

def test_input_columns_rule():
    feats = [
        {"name": "a", "missing_indicator": False},
        {"name": "b", "missing_indicator": True},
        {"name": "c", "missing_indicator": True},
    ]
    assert input_columns(feats) == ["a", "b", "b__missing", "c", "c__missing"]


def test_imputation_and_indicators():
    raw = np.array([[1.0, np.nan, 5.0], [np.nan, 2.0, np.nan]])
    out = impute(raw, [10.0, 20.0, 30.0], [False, True, True])
    assert out.tolist() == [[1.0, 20.0, 1.0, 5.0, 0.0], [10.0, 2.0, 0.0, 30.0, 1.0]]
    x = build_input(raw, [10.0, 20.0, 30.0], [False, True, True])
    assert x.dtype == np.float32 and np.isfinite(x).all()
    with pytest.raises(TrainerError):
        build_input(np.array([[1e39]]), [0.0], [False])  # overflows float32


def test_fit_medians_ignores_missing():
    raw = np.array([[1.0, np.nan], [3.0, np.nan], [np.nan, np.nan], [10.0, np.nan]])
    assert fit_medians(raw, ["a", "b"]) == [3.0, 0.0]


def test_rows_to_raw():
    raw = rows_to_raw([{"a": 1, "b": None}, {"a": 2.5, "b": 3}], ["a", "b"])
    assert np.array_equal(raw, np.array([[1.0, np.nan], [2.5, 3.0]]), equal_nan=True)
    for bad in ({"a": 1}, {"a": 1, "b": 2, "x": 3}, {"a": "1", "b": 2}, {"a": True, "b": 2}, {"a": math.inf, "b": 1}):
        with pytest.raises(TrainerError):
            rows_to_raw([bad], ["a", "b"])


# --- time split ----------------------------------------------------------------------------------

def _obs(dates, per_date=3, every_days=7):
    return np.repeat(np.arange(dates, dtype=np.int64) * every_days * DAY_MS, per_date)


def test_time_split_without_purge():
    obs = _obs(20)
    s = time_split(obs, 0.25, 0.2, 0)
    d = np.unique(obs)
    assert np.array_equal(np.unique(obs[s.validation]), d[15:])
    assert np.array_equal(np.unique(obs[s.early_stopping]), d[12:15])  # round(0.2 * 15) = 3
    assert np.array_equal(np.unique(obs[s.train]), d[:12])
    assert s.purged_rows == 0 and (s.train | s.early_stopping | s.validation).all()


def test_time_split_purges_open_label_windows():
    obs = _obs(20)
    s = time_split(obs, 0.25, 0.2, 14 * DAY_MS)
    d = np.unique(obs)
    assert np.array_equal(np.unique(obs[s.validation]), d[15:])
    # date 14 + 14 days > date 15: purged; 14 usable dates, round(0.2 * 14) = 3 for early stopping
    assert np.array_equal(np.unique(obs[s.early_stopping]), d[11:14])
    assert np.array_equal(np.unique(obs[s.train]), d[:11])
    assert s.purged_rows == 1 * 3


def test_time_split_weekly_snapshot_with_30_day_horizon():
    # The shape `churnflow snapshot` produces: weekly observations, 30-day label horizon.
    for dates, val, es, train in ((26, 7, 3, 12), (14, 4, 1, 5)):
        obs = _obs(dates)
        s = time_split(obs, 0.25, 0.2, 30 * DAY_MS)
        d = np.unique(obs)
        assert np.array_equal(np.unique(obs[s.validation]), d[dates - val:])
        assert np.unique(obs[s.early_stopping]).size == es and np.unique(obs[s.train]).size == train
        assert obs[s.early_stopping].max() + 30 * DAY_MS <= obs[s.validation].min()
        assert obs[s.train].max() < obs[s.early_stopping].min()
        assert s.purged_rows == (dates - val - es - train) * 3 == 4 * 3
    # Row order does not matter: the split is by value of observation_time.
    perm = np.random.default_rng(0).permutation(obs.size)
    s2 = time_split(obs[perm], 0.25, 0.2, 14 * DAY_MS)
    assert np.array_equal(s2.validation, s.validation[perm])


def test_time_split_refuses_too_few_dates():
    with pytest.raises(TrainerError):
        time_split(_obs(2), 0.25, 0.2, 0)
    with pytest.raises(TrainerError, match="empty after purging"):
        time_split(_obs(6), 0.25, 0.2, 30 * DAY_MS)
    with pytest.raises(TrainerError):
        time_split(_obs(20), 0.0, 0.2, 0)


# --- decision ------------------------------------------------------------------------------------

def test_tune_threshold_by_hand():
    y = np.array([1, 0, 1, 0])
    s = np.array([0.9, 0.8, 0.7, 0.2])
    # contact top 1: 180-10=170; top 2: 180-20=160; top 3: 360-30=330; all 4: 360-40=320
    t, v = tune_threshold(y, s, COSTS)
    assert v == 330.0 and t == pytest.approx(0.45)
    assert net_value(y, s, t, COSTS) == 330.0


def test_tune_threshold_contacts_nobody_when_nothing_pays():
    y = np.zeros(5, int)
    s = np.linspace(0.1, 0.5, 5)
    t, v = tune_threshold(y, s, COSTS)
    assert v == 0.0 and s.max() < t < 1.0
    assert net_value(y, s, t, COSTS) == 0.0


def test_tune_threshold_matches_brute_force_with_ties():
    rng = np.random.default_rng(3)
    for _ in range(30):
        n = int(rng.integers(5, 60))
        s = np.round(rng.random(n), 1)  # many ties
        y = (rng.random(n) < s * 0.4).astype(int)
        t, v = tune_threshold(y, s, COSTS)
        brute = max([net_value(y, s, c, COSTS) for c in np.unique(s)] + [0.0])
        assert v == pytest.approx(brute) and net_value(y, s, t, COSTS) == pytest.approx(brute)
        assert 0 < t < 1
        # Ties in value go to the higher threshold (fewer contacts).
        better_or_equal = [c for c in np.unique(s) if net_value(y, s, c, COSTS) >= brute - 1e-9]
        if v > 0:
            assert (s >= t).sum() == min((s >= c).sum() for c in better_or_equal)


def test_bands():
    b = bands(0.3)
    assert [x["min_score"] for x in b] == [0.0, 0.15, 0.3]
    with pytest.raises(TrainerError):
        bands(1.0)


# --- reference bins ------------------------------------------------------------------------------

def test_reference_discrete_one_bin_per_value():
    v = np.array([0, 0, 1, 2, 2, 2, 5], dtype=float)
    assert edges_for(v) == [0.0, 1.0, 2.0]
    assert shares_for(v, [0.0, 1.0, 2.0]) == [2 / 7, 1 / 7, 3 / 7, 1 / 7]


def test_reference_continuous_deciles():
    v = np.random.default_rng(1).normal(size=10_000)
    e = edges_for(v)
    assert len(e) == 9 and all(a < b for a, b in zip(e, e[1:]))
    sh = shares_for(v, e)
    assert sum(sh) == pytest.approx(1.0) and all(abs(x - 0.1) < 0.002 for x in sh)


def test_reference_heavy_ties_give_fewer_non_empty_bins():
    v = np.concatenate([np.zeros(700), np.arange(1, 301, dtype=float)])
    e = edges_for(v)
    assert e[0] == 0.0 and len(e) < 9
    sh = shares_for(v, e)
    assert sh[0] == pytest.approx(0.7) and all(x > 0 for x in sh)


def test_feature_reference_missing_share():
    r = feature_reference(np.array([1.0, np.nan, 2.0, np.nan]))
    assert r == {"edges": [1.0], "shares": [0.5, 0.5], "missing_share": 0.5}


# --- float32 thresholds and parity ---------------------------------------------------------------

def test_floor_float32_is_exact_for_float32_inputs():
    rng = np.random.default_rng(2)
    ts = np.concatenate([rng.normal(0, 100, 2000), [51.39999961853028, 1.0000000180025095e-35, 0.0, -3.5]])
    xs = rng.normal(0, 100, 2000).astype(np.float32)
    for t in ts:
        f = floor_float32(float(t))
        assert float(np.float32(f)) == f and f <= t
        assert float(np.nextafter(np.float32(f), np.float32(np.inf))) > t
    for t in ts[:200]:
        f = floor_float32(float(t))
        near = np.array([np.float32(t), np.nextafter(np.float32(t), np.float32(-np.inf))], dtype=np.float32)
        for x in itertools.chain(xs[:50], near):
            assert (float(x) <= t) == (float(x) <= f)


def test_float32_thresholds_rewrites_only_thresholds():
    text = "tree\ntree_sizes=10 20\n\nTree=0\nnum_cat=0\nthreshold=51.39999961853028 2.5\nleaf_value=0.1 0.2\n"
    out = float32_thresholds(text)
    assert "tree_sizes" not in out
    assert "threshold=51.39999771118164 2.5\n" in out and "leaf_value=0.1 0.2" in out
    with pytest.raises(TrainerError):
        float32_thresholds("Tree=0\nnum_cat=1\nthreshold=1\n")


def test_check_parity_fails_loudly():
    assert check_parity(np.array([0.1, 0.2]), np.array([0.1, 0.2 + 5e-6]), "x") < 1e-5
    with pytest.raises(TrainerError, match="disagree"):
        check_parity(np.array([0.1, 0.2]), np.array([0.1, 0.2 + 2e-5]), "x")


# --- misc ----------------------------------------------------------------------------------------

def test_resolve_created_at():
    assert resolve_created_at("2026-11-26T00:00:00Z", {}) == "2026-11-26T00:00:00Z"
    assert resolve_created_at("2026-11-26T01:00:00+01:00", {}) == "2026-11-26T00:00:00Z"
    assert resolve_created_at("1795651200", {}) == "2026-11-26T00:00:00Z"
    assert resolve_created_at(None, {"SOURCE_DATE_EPOCH": "1795651200"}) == "2026-11-26T00:00:00Z"
    assert resolve_created_at("2026-01-01T00:00:00Z", {"SOURCE_DATE_EPOCH": "1795651200"}) == "2026-01-01T00:00:00Z"
    with pytest.raises(TrainerError):
        resolve_created_at("yesterday", {})


def test_scale_pos_weight_modes():
    y = np.array([1, 0, 0, 0])
    assert _scale_pos_weight("none", y) == 1.0
    assert _scale_pos_weight("balanced", y) == 3.0
    assert _scale_pos_weight("2.5", y) == 2.5
    with pytest.raises(TrainerError):
        _scale_pos_weight("lots", y)


def test_reference_rows_span_the_score_range():
    s = np.random.default_rng(4).random(1000)
    idx = _pick_reference_rows(s, 32)
    assert idx.size == 32 and s[idx].min() == s.min() and s[idx].max() == s.max()
    assert _pick_reference_rows(s[:10], 32).tolist() == list(range(10))


def test_git_commit(monkeypatch):
    monkeypatch.setenv("CHURNFLOW_GIT_COMMIT", "abc")
    assert _git_commit() == "abc"
    monkeypatch.delenv("CHURNFLOW_GIT_COMMIT")
    c = _git_commit()  # None outside a repository or before the first commit
    assert c is None or (len(c) == 40 and all(ch in "0123456789abcdef" for ch in c))
