"""Deterministic JSON and atomic file writes."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from . import TrainerError


def dumps(obj) -> str:
    """Stable JSON: insertion-ordered keys, 2-space indent, shortest round-trip floats, no NaN."""
    try:
        return json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    except ValueError as e:
        raise TrainerError(f"refusing to write non-finite numbers to JSON: {e}") from e


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write via a temp file + rename (readers never see a partial file), mode 0666 & ~umask."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: Path, obj) -> None:
    write_bytes_atomic(path, dumps(obj).encode("utf-8"))


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise TrainerError(f"cannot read JSON {path}: {e}") from e
