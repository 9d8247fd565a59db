"""LightGBM fitting, ONNX export and the two inference paths (booster, onnxruntime)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from . import TrainerError

ONNX_INPUT_NAME = "input"
ONNX_PROBABILITIES = "probabilities"
ONNX_LABEL = "label"
TARGET_OPSET = 15
PARITY_TOLERANCE = 1e-5
# model.onnx metadata_props entry with each tree-ensemble node's training-sample count (see tree_covers).
TREE_COVERS_KEY = "churnflow.tree_covers"
TREE_COVERS_FORMAT = "churnflow.tree_covers/v1"
TREE_ENSEMBLE_OPS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor")


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
    **searched,
) -> dict:
    """The trainer's LightGBM parameters. `searched` overrides or adds any of SEARCHABLE_PARAMS (the
    hyper-parameter search's choices); the defaults alone give the 1.x bundles' parameters unchanged."""
    unknown = sorted(set(searched) - set(SEARCHABLE_PARAMS))
    if unknown:
        raise TrainerError(f"internal: not searchable LightGBM parameters {unknown}")
    params = {
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
    params.update(searched)
    return params


# Parameters the Optuna search may set (search.py); every other parameter stays as lgb_params fixes it,
# in particular the determinism settings.
SEARCHABLE_PARAMS = (
    "learning_rate",
    "num_leaves",
    "max_depth",
    "min_data_in_leaf",
    "feature_fraction",
    "bagging_fraction",
    "bagging_freq",
    "lambda_l1",
    "lambda_l2",
    "min_gain_to_split",
)


def _datasets(x_train: np.ndarray, y_train: np.ndarray, x_es: np.ndarray, y_es: np.ndarray, columns: list[str], params: dict):
    """The training and early-stopping Datasets of `fit` and `fit_curve`, binned for these parameters."""
    import lightgbm as lgb

    dtrain = lgb.Dataset(x_train, label=y_train, feature_name=columns, params=params, free_raw_data=False)
    # With scale_pos_weight the training loss weighs positives up; weigh the early-stopping rows the
    # same way, or its (unweighted) logloss would stop boosting as soon as scores start to inflate.
    spw = float(params.get("scale_pos_weight", 1.0))
    es_weight = np.where(np.asarray(y_es) == 1, spw, 1.0) if spw != 1.0 else None
    des = lgb.Dataset(x_es, label=y_es, weight=es_weight, reference=dtrain, free_raw_data=False)
    return dtrain, des


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

    dtrain, des = _datasets(x_train, y_train, x_es, y_es, columns, params)
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


def fit_curve(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_es: np.ndarray,
    y_es: np.ndarray,
    columns: list[str],
    params: dict,
    num_boost_round: int,
    early_stopping_rounds: int,
    on_round=None,
) -> tuple[int, float]:
    """One search trial: boost with early stopping on the early-stopping rows, calling
    `on_round(iteration, early-stopping metric)` after every round (the pruner's hook; it may raise to
    stop the trial). Returns (best iteration, best early-stopping metric). No export, no checks: only
    the winning parameters are trained for real, by `fit`."""
    import lightgbm as lgb

    # A new Dataset per trial: LightGBM pre-filters features by min_data_in_leaf when it bins them, so a
    # Dataset binned for one trial's parameters cannot be reused for another's.
    dtrain, des = _datasets(x_train, y_train, x_es, y_es, columns, params)
    callbacks = [lgb.early_stopping(early_stopping_rounds, first_metric_only=True, verbose=False)]
    if on_round is not None:
        metric = params["metric"]

        def report(env) -> None:
            for data_name, eval_name, value, _ in env.evaluation_result_list:
                if data_name == "early_stopping" and eval_name == metric:
                    on_round(env.iteration + 1, float(value))

        callbacks.append(report)
    try:
        booster = lgb.train(params, dtrain, num_boost_round=num_boost_round, valid_sets=[des], valid_names=["early_stopping"], callbacks=callbacks)
    except lgb.basic.LightGBMError as e:
        raise TrainerError(f"LightGBM: {e}") from e
    best = int(booster.best_iteration) or int(booster.current_iteration())
    return best, float(booster.best_score["early_stopping"][params["metric"]])


def tree_stats(booster) -> dict:
    """Size of the ensemble: trees, total leaves, deepest leaf (root = depth 0). Explaining a score
    costs in proportion to these (TreeSHAP walks every tree)."""
    leaves = 0
    max_depth = 0
    trees = booster.dump_model()["tree_info"]
    for info in trees:
        stack = [(info["tree_structure"], 0)]
        while stack:
            node, depth = stack.pop()
            if "split_index" in node:
                stack.append((node["left_child"], depth + 1))
                stack.append((node["right_child"], depth + 1))
            else:
                leaves += 1
                max_depth = max(max_depth, depth)
    return {"trees": len(trees), "leaves": leaves, "max_depth": max_depth}


def refit(x: np.ndarray, y: np.ndarray, columns: list[str], params: dict, rounds: int, best_score: float) -> FitResult:
    """Train again on more rows (train + early stopping) for the number of rounds early stopping chose:
    the early-stopping rows pick the iteration count, then they are training data like the rest."""
    import lightgbm as lgb

    try:
        booster = lgb.train(params, lgb.Dataset(x, label=y, feature_name=columns, params=params, free_raw_data=False), num_boost_round=rounds)
    except lgb.basic.LightGBMError as e:
        raise TrainerError(f"LightGBM: {e}") from e
    final = lgb.Booster(model_str=float32_thresholds(booster.model_to_string()))
    if not np.array_equal(booster_raw(booster, x), booster_raw(final, x)):
        raise TrainerError("internal: float32 threshold rewrite changed the booster's output on float32 inputs")
    return FitResult(booster=final, model_text=final.model_to_string(), best_iteration=rounds, best_score=best_score, params=dict(params))


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
    """onnxmltools convert_lightgbm(zipmap=False): input `input` float32 [N, F]; outputs label, probabilities [N, 2];
    metadata_props `churnflow.tree_covers`: every tree node's training-sample count (see tree_covers)."""
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
    set_tree_covers(model, tree_covers(booster, model))
    onnx.checker.check_model(model, full_check=True)
    names = [o.name for o in model.graph.output]
    if names != [ONNX_LABEL, ONNX_PROBABILITIES] or model.graph.input[0].name != ONNX_INPUT_NAME:
        raise TrainerError(f"unexpected ONNX signature: inputs {[i.name for i in model.graph.input]}, outputs {names}")
    return model


def tree_ensemble_node(model):
    """The graph's single TreeEnsemble{Classifier,Regressor} node (ai.onnx.ml)."""
    nodes = [n for n in model.graph.node if n.domain == "ai.onnx.ml" and n.op_type in TREE_ENSEMBLE_OPS]
    if len(nodes) != 1:
        raise TrainerError(f"expected one ai.onnx.ml tree-ensemble node in the ONNX graph, found {len(nodes)}")
    return nodes[0]


def tree_covers(booster, model) -> list:
    """LightGBM's training-sample count of every tree-ensemble node, in the ONNX node order.

    Exact path-dependent TreeSHAP (what LightGBM's pred_contrib computes) weighs the branch a row does
    not take by these counts (`internal_count` / `leaf_count`); ONNX has no field for them. They are
    matched to ONNX nodes by walking each LightGBM tree and its ONNX tree together from the root (true
    branch = left child), checking feature, threshold and leaf value on the way, so the result does not
    depend on how the converter numbers or orders nodes; every ONNX node must be reached exactly once.
    """
    import onnx

    node = tree_ensemble_node(model)
    a = {x.name: onnx.helper.get_attribute_value(x) for x in node.attribute}
    tree_ids = [int(v) for v in a["nodes_treeids"]]
    node_ids = [int(v) for v in a["nodes_nodeids"]]
    modes = [m.decode() if isinstance(m, bytes) else str(m) for m in a["nodes_modes"]]
    n = len(tree_ids)
    pos = {(t, i): k for k, (t, i) in enumerate(zip(tree_ids, node_ids))}
    if len(pos) != n:
        raise TrainerError("ONNX tree ensemble: duplicate (tree id, node id) pairs")
    prefix = "class" if "class_weights" in a else "target"
    leaf_weight: dict = {}
    for t, i, w in zip(a[f"{prefix}_treeids"], a[f"{prefix}_nodeids"], a[f"{prefix}_weights"]):
        leaf_weight[(int(t), int(i))] = leaf_weight.get((int(t), int(i)), 0.0) + float(w)
    children = set()
    for k in range(n):
        if modes[k] != "LEAF":
            children.add((tree_ids[k], int(a["nodes_truenodeids"][k])))
            children.add((tree_ids[k], int(a["nodes_falsenodeids"][k])))
    roots: dict = {}
    for k in range(n):
        if (tree_ids[k], node_ids[k]) not in children:
            if tree_ids[k] in roots:
                raise TrainerError(f"ONNX tree {tree_ids[k]} has several roots")
            roots[tree_ids[k]] = k
    trees = booster.dump_model()["tree_info"]
    if sorted(roots) != list(range(len(trees))):
        raise TrainerError(f"ONNX tree ids {sorted(roots)[:5]}... do not match LightGBM's {len(trees)} trees")

    covers = [None] * n

    def fail(t, what):
        raise TrainerError(f"tree {t}: ONNX and LightGBM trees differ ({what}); cannot align node covers")

    for t, info in enumerate(trees):
        stack = [(roots[t], info["tree_structure"])]
        while stack:
            k, lnode = stack.pop()
            if covers[k] is not None:
                fail(t, f"ONNX node {node_ids[k]} reached twice")
            if "split_index" in lnode:
                if modes[k] != "BRANCH_LEQ" or lnode["decision_type"] != "<=":
                    fail(t, f"node {node_ids[k]}: mode {modes[k]} vs decision {lnode['decision_type']}")
                if int(a["nodes_featureids"][k]) != int(lnode["split_feature"]):
                    fail(t, f"node {node_ids[k]}: feature {a['nodes_featureids'][k]} vs {lnode['split_feature']}")
                if np.float32(a["nodes_values"][k]) != np.float32(float(lnode["threshold"])):
                    fail(t, f"node {node_ids[k]}: threshold {a['nodes_values'][k]} vs {lnode['threshold']}")
                covers[k] = int(lnode["internal_count"])
                for child, key in (("nodes_truenodeids", "left_child"), ("nodes_falsenodeids", "right_child")):
                    c = pos.get((t, int(a[child][k])))
                    if c is None:
                        fail(t, f"node {node_ids[k]}: dangling {child}")
                    stack.append((c, lnode[key]))
            else:
                if modes[k] != "LEAF":
                    fail(t, f"node {node_ids[k]} is a leaf in LightGBM but {modes[k]} in ONNX")
                w = leaf_weight.get((t, node_ids[k]), 0.0)
                if np.float32(w) != np.float32(float(lnode["leaf_value"])):
                    fail(t, f"leaf {node_ids[k]}: weight {w} vs leaf_value {lnode['leaf_value']}")
                covers[k] = int(lnode["leaf_count"])
    missing = [node_ids[k] for k in range(n) if covers[k] is None]
    if missing:
        raise TrainerError(f"{len(missing)} ONNX tree-ensemble nodes are not reachable from a LightGBM tree")
    return covers


def set_tree_covers(model, covers: list) -> None:
    """Store node covers in model.metadata_props[TREE_COVERS_KEY] (compact, deterministic JSON), replacing any."""
    node = tree_ensemble_node(model)
    payload = {
        "format": TREE_COVERS_FORMAT,
        "op": node.op_type,
        "source": "lightgbm internal_count/leaf_count",
        "order": "nodes_* attribute order",
        "covers": [int(c) for c in covers],
    }
    kept = [(p.key, p.value) for p in model.metadata_props if p.key != TREE_COVERS_KEY]
    del model.metadata_props[:]
    for k, v in kept:
        model.metadata_props.add(key=k, value=v)
    model.metadata_props.add(key=TREE_COVERS_KEY, value=json.dumps(payload, separators=(",", ":")))


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
