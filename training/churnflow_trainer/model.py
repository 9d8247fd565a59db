"""LightGBM fitting, ONNX export and the two inference paths (booster, onnxruntime)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import TrainerError

ONNX_INPUT_NAME = "input"
ONNX_PROBABILITIES = "probabilities"
ONNX_LABEL = "label"
TARGET_OPSET = 15
PARITY_TOLERANCE = 1e-5


@dataclass
class FitResult:
    booster: object  # lightgbm.Booster trimmed to the best iteration
    model_text: str  # lightgbm.txt contents
    best_iteration: int
    best_score: float
    params: dict


def lgb_params(
    *,
    seed: int,
    learning_rate: float = 0.05,
    num_leaves: int = 31,
    min_data_in_leaf: int = 20,
    scale_pos_weight: float = 1.0,
    num_threads: int = 1,
) -> dict:
    return {
        "objective": "binary",
        "metric": "binary_logloss",
        "boosting": "gbdt",
        "learning_rate": learning_rate,
        "num_leaves": num_leaves,
        "min_data_in_leaf": min_data_in_leaf,
        "feature_fraction": 1.0,
        "bagging_fraction": 1.0,
        "bagging_freq": 0,
        "lambda_l2": 0.0,
        "max_bin": 255,
        "scale_pos_weight": scale_pos_weight,
        "seed": seed,
        "deterministic": True,
        "force_col_wise": True,  # the row/col-wise auto choice is timing based; pin it
        "num_threads": num_threads,
        "verbosity": -1,
    }


def fit(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_es: np.ndarray,
    y_es: np.ndarray,
    columns: list[str],
    params: dict,
    num_boost_round: int,
    early_stopping_rounds: int,
) -> FitResult:
    import lightgbm as lgb

    dtrain = lgb.Dataset(x_train, label=y_train, feature_name=columns, params=params, free_raw_data=False)
    # With scale_pos_weight the training loss weighs positives up; weigh the early-stopping rows the
    # same way, or its (unweighted) logloss would stop boosting as soon as scores start to inflate.
    spw = float(params.get("scale_pos_weight", 1.0))
    es_weight = np.where(np.asarray(y_es) == 1, spw, 1.0) if spw != 1.0 else None
    des = lgb.Dataset(x_es, label=y_es, weight=es_weight, reference=dtrain, free_raw_data=False)
    try:
        booster = lgb.train(
            params,
            dtrain,
            num_boost_round=num_boost_round,
            valid_sets=[des],
            valid_names=["early_stopping"],
            callbacks=[lgb.early_stopping(early_stopping_rounds, first_metric_only=True, verbose=False)],
        )
    except lgb.basic.LightGBMError as e:
        raise TrainerError(f"LightGBM: {e}") from e
    best = int(booster.best_iteration) or int(booster.current_iteration())
    best_score = float(booster.best_score["early_stopping"][params["metric"]])
    # Keep only the trees up to the best iteration: lightgbm.txt, the ONNX model and SHAP all see the
    # same ensemble.
    trimmed = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    final = lgb.Booster(model_str=float32_thresholds(trimmed.model_to_string()))
    text = final.model_to_string()
    if final.num_trees() != best:
        raise TrainerError(f"internal: trimmed booster has {final.num_trees()} trees, expected {best}")
    for x in (x_train, x_es):
        if not np.array_equal(booster_raw(trimmed, x), booster_raw(final, x)):
            raise TrainerError("internal: float32 threshold rewrite changed the booster's output on float32 inputs")
    return FitResult(booster=final, model_text=text, best_iteration=best, best_score=best_score, params=dict(params))


def floor_float32(t: float) -> float:
    """The largest float32 value <= t. For any float32 x: x <= t  <=>  x <= floor_float32(t)."""
    f = np.float32(t)  # round to nearest (may overflow to +-inf for huge t)
    if np.isinf(f) and not np.isinf(t):
        f = np.float32(np.finfo(np.float32).max) if t > 0 else np.float32(-np.inf)
    if float(f) > t:
        f = np.nextafter(f, np.float32(-np.inf))
    return float(f)


def float32_thresholds(model_text: str) -> str:
    """Rewrite every numerical split threshold of a LightGBM text model to floor_float32(threshold).

    The ONNX TreeEnsemble stores thresholds as float32 (round to nearest), while LightGBM compares
    against doubles: an input between the two (e.g. 51.4f vs 51.39999961853028) takes different
    branches. Because the model only ever sees float32 inputs, rounding each threshold *down* to a
    float32 changes no decision of the booster and makes the ONNX conversion exact. `tree_sizes` is
    dropped (byte offsets change); LightGBM recomputes it when the model is saved again.
    """
    out = []
    for line in model_text.split("\n"):
        if line.startswith("tree_sizes="):
            continue
        if line.startswith("num_cat=") and line != "num_cat=0":
            raise TrainerError("categorical splits are not supported by the float32 threshold rewrite")
        if line.startswith("threshold="):
            values = line[len("threshold="):].split(" ")
            line = "threshold=" + " ".join(repr(floor_float32(float(v))) for v in values if v != "")
        out.append(line)
    return "\n".join(out)


def load_booster(path) -> object:
    import lightgbm as lgb

    return lgb.Booster(model_file=str(path))


def booster_proba(booster, x: np.ndarray) -> np.ndarray:
    """P(churn) from the booster, on exactly the float32 values the ONNX model gets."""
    return np.asarray(booster.predict(np.asarray(x, dtype=np.float32).astype(np.float64)), dtype=np.float64)


def booster_contrib(booster, x: np.ndarray) -> np.ndarray:
    """TreeSHAP values [N, C+1] (last column = bias / expected raw score), in log-odds."""
    return np.asarray(
        booster.predict(np.asarray(x, dtype=np.float32).astype(np.float64), pred_contrib=True), dtype=np.float64
    )


def booster_raw(booster, x: np.ndarray) -> np.ndarray:
    return np.asarray(
        booster.predict(np.asarray(x, dtype=np.float32).astype(np.float64), raw_score=True), dtype=np.float64
    )


def to_onnx(booster, n_inputs: int, target_opset: int = TARGET_OPSET):
    """onnxmltools convert_lightgbm(zipmap=False): input `input` float32 [N, F]; outputs label, probabilities [N, 2]."""
    import onnx
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    model = convert_lightgbm(
        booster,
        name="churnflow",
        initial_types=[(ONNX_INPUT_NAME, FloatTensorType([None, n_inputs]))],
        target_opset=target_opset,
        zipmap=False,
    )
    # The converter declares `label` as shape [1] and leaves the batch dim of `probabilities` unnamed;
    # onnxruntime then warns on every batch > 1. Declare both with a symbolic batch dim "N".
    for out in model.graph.output:
        dims = out.type.tensor_type.shape.dim
        if len(dims) >= 1:
            dims[0].Clear()
            dims[0].dim_param = "N"
    # onnxmltools builds opset_import from a set: its order follows PYTHONHASHSEED. Sort it so the same
    # booster always serialises to the same bytes.
    opsets = sorted(((o.domain, o.version) for o in model.opset_import))
    del model.opset_import[:]
    for domain, version in opsets:
        model.opset_import.add(domain=domain, version=version)
    inp = model.graph.input[0].type.tensor_type.shape.dim
    inp[0].Clear()
    inp[0].dim_param = "N"
    onnx.checker.check_model(model, full_check=True)
    names = [o.name for o in model.graph.output]
    if names != [ONNX_LABEL, ONNX_PROBABILITIES] or model.graph.input[0].name != ONNX_INPUT_NAME:
        raise TrainerError(f"unexpected ONNX signature: inputs {[i.name for i in model.graph.input]}, outputs {names}")
    return model


def onnx_opsets(model) -> dict:
    return {(o.domain or "ai.onnx"): int(o.version) for o in model.opset_import}


def onnx_session(model_bytes_or_path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    src = model_bytes_or_path if isinstance(model_bytes_or_path, (bytes, bytearray)) else str(model_bytes_or_path)
    return ort.InferenceSession(src, sess_options=so, providers=["CPUExecutionProvider"])


def onnx_proba(session, x: np.ndarray) -> np.ndarray:
    """P(churn) as float32 from `probabilities[:, 1]`."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.shape[0] == 0:
        return np.empty((0,), dtype=np.float32)
    probs = session.run([ONNX_PROBABILITIES], {ONNX_INPUT_NAME: x})[0]
    if probs.ndim != 2 or probs.shape != (x.shape[0], 2):
        raise TrainerError(f"ONNX probabilities have shape {probs.shape}, expected [{x.shape[0]}, 2]")
    return probs[:, 1].astype(np.float32)


def check_parity(lgb_scores: np.ndarray, onnx_scores: np.ndarray, what: str, tol: float = PARITY_TOLERANCE) -> float:
    a = np.asarray(lgb_scores, dtype=np.float64)
    b = np.asarray(onnx_scores, dtype=np.float64)
    if a.shape != b.shape:
        raise TrainerError(f"parity check on {what}: shapes differ {a.shape} vs {b.shape}")
    diff = float(np.max(np.abs(a - b))) if a.size else 0.0
    if not diff < tol:
        worst = int(np.argmax(np.abs(a - b)))
        raise TrainerError(
            f"ONNX and LightGBM disagree on {what}: max |diff| = {diff:.3g} >= {tol:g} "
            f"(row {worst}: lightgbm {a[worst]!r}, onnx {b[worst]!r})"
        )
    return diff
