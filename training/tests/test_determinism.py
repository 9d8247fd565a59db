"""Same snapshot + same arguments -> byte-identical bundle (created_at aside when it is not pinned)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from .conftest import CREATED_AT, CREATED_AT_EPOCH, TRAIN_ARGS, run_cli

FILES = ("model.onnx", "lightgbm.txt", "manifest.json")


def test_created_at_epoch_constant():
    assert datetime.fromtimestamp(CREATED_AT_EPOCH, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") == CREATED_AT


def test_retraining_is_byte_identical(snapshot, bundle, workdir):
    # Pinned through SOURCE_DATE_EPOCH this time (the fixture used --created-at), and another hash
    # seed (20 flips the set order onnxmltools used to emit opset_import in, vs seed 0): anything that
    # depends on the iteration order of a set of strings would show up here.
    again = workdir / "models" / "b"
    run_cli("train", "--snapshot", snapshot, "--out", again, *TRAIN_ARGS,
            env_extra={"SOURCE_DATE_EPOCH": str(CREATED_AT_EPOCH), "PYTHONHASHSEED": "20"})
    for name in FILES:
        assert (again / name).read_bytes() == (bundle / name).read_bytes(), name


def test_unpinned_created_at_is_the_only_difference(snapshot, bundle, workdir):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    again = workdir / "models" / "c"
    run_cli("train", "--snapshot", snapshot, "--out", again, *TRAIN_ARGS, env_extra={"PYTHONHASHSEED": "2"})
    for name in ("model.onnx", "lightgbm.txt"):
        assert (again / name).read_bytes() == (bundle / name).read_bytes(), name
    a = json.loads((bundle / "manifest.json").read_text())
    b = json.loads((again / "manifest.json").read_text())
    created = datetime.strptime(b.pop("created_at"), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    a.pop("created_at")
    assert a == b
    assert before - timedelta(seconds=1) <= created <= datetime.now(timezone.utc) + timedelta(seconds=1)

