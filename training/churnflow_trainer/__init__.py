"""churnflow trainer: point-in-time snapshot (Parquet + meta) -> LightGBM -> ONNX model bundle.

See docs/formats.md for the contracts and training/README.md for the choices made here.
"""

__version__ = "0.1.0"

MODEL_FORMAT = "churnflow.model/v1"
SNAPSHOT_FORMAT = "churnflow.snapshot/v1"


class TrainerError(Exception):
    """A user-facing error: bad input, unusable data, failed verification. The CLI prints it and exits 1."""
