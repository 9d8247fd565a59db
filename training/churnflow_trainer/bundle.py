"""Reading a model bundle back (for `score`, `contrib` and `reexport-onnx`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import MODEL_FORMAT, TrainerError
from . import model as M
from .features import impute, input_columns, rows_to_raw
from .jsonio import read_json, write_bytes_atomic


@dataclass
class Bundle:
    path: Path
    manifest: dict

    @property
    def feature_names(self) -> list[str]:
        return [f["name"] for f in self.manifest["features"]]

    @property
    def input_columns(self) -> list[str]:
        return list(self.manifest["input_columns"])

    def impute(self, rows: list) -> np.ndarray:
        """Raw JSON rows -> float64 imputed rows (input_columns order), with the manifest's imputation only."""
        feats = self.manifest["features"]
        raw = rows_to_raw(rows, self.feature_names)
        return impute(raw, [float(f["impute"]) for f in feats], [bool(f["missing_indicator"]) for f in feats])

    def booster(self):
        p = self.path / "lightgbm.txt"
        if not p.is_file():
            raise TrainerError(f"bundle has no {p}")
        return M.load_booster(p)

    def onnx_session(self):
        p = self.path / self.manifest["onnx"]["file"]
        if not p.is_file():
            raise TrainerError(f"bundle has no {p}")
        return M.onnx_session(p)


def load_bundle(path: str | Path) -> Bundle:
    path = Path(path)
    manifest = read_json(path / "manifest.json")
    if not isinstance(manifest, dict) or manifest.get("format") != MODEL_FORMAT:
        raise TrainerError(f"{path / 'manifest.json'}: not a {MODEL_FORMAT} manifest")
    feats = manifest.get("features")
    if not isinstance(feats, list) or not all(isinstance(f, dict) for f in feats):
        raise TrainerError("manifest: 'features' must be a list of objects")
    if manifest.get("input_columns") != input_columns(feats):
        raise TrainerError("manifest: input_columns disagree with features (name, then name__missing if enabled)")
    onnx = manifest.get("onnx") or {}
    if onnx.get("input_name") != M.ONNX_INPUT_NAME or onnx.get("probability_output") != M.ONNX_PROBABILITIES:
        raise TrainerError("manifest: unexpected onnx input/output names")
    return Bundle(path=path, manifest=manifest)


def _without_metadata(model_bytes: bytes) -> bytes:
    import onnx

    m = onnx.load_from_string(model_bytes)
    del m.metadata_props[:]
    return m.SerializeToString()


def reexport_onnx(path: str | Path) -> bool:
    """Rewrite a bundle's model.onnx from its lightgbm.txt with the current exporter (e.g. to add the
    tree covers TreeSHAP needs), only if that leaves the model itself unchanged: the fresh export must
    equal the existing file byte for byte once metadata_props are set aside, and score the manifest's
    reference rows identically. Returns True if the file was rewritten, False if it was up to date."""
    bundle = load_bundle(path)
    target = bundle.path / bundle.manifest["onnx"]["file"]
    old = target.read_bytes()
    target_opset = int(bundle.manifest["onnx"].get("target_opset") or M.TARGET_OPSET)
    new = M.to_onnx(bundle.booster(), len(bundle.input_columns), target_opset=target_opset).SerializeToString()
    if new == old:
        return False
    if _without_metadata(new) != _without_metadata(old):
        raise TrainerError(
            f"{target}: the current exporter does not reproduce this model from {bundle.path / 'lightgbm.txt'} "
            "(graph differs beyond metadata_props); retrain the bundle instead"
        )
    ref = (bundle.manifest.get("reference_outputs") or {}).get("rows") or []
    if ref:
        x = np.asarray(ref, dtype=np.float32)
        before, after = M.onnx_proba(M.onnx_session(old), x), M.onnx_proba(M.onnx_session(new), x)
        if not np.array_equal(before, after):
            raise TrainerError(f"{target}: re-exported model scores the reference rows differently")
    write_bytes_atomic(target, new)
    return True
