"""The on-disk conversion cache: converted flatbuffers stored by a content key.

Entries are written atomically and guarded by a per-key file lock, so pytest-xdist
workers sharing one cache folder convert each model once and never read half a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from ..atomicfile import write_atomic
from ..errors import ConversionError
from ..gate.versions import package_version

CACHE_FORMAT = 2
TOOLCHAIN = ("tensorflow", "keras", "tf-keras", "pytest-tflite")
"""Packages whose version is part of every cache key: the converter, the Keras that
traces the model, and this plugin's own conversion code."""
QUANTIZER_TOOLCHAIN = ("ai-edge-quantizer", "ai-edge-litert", "pytest-tflite")
TORCH_TOOLCHAIN = ("litert-torch", "litert-converter", "torch", "pytest-tflite")
"""What a PyTorch source's conversion depends on beside the module itself."""
"""What shapes a model ai-edge-quantizer quantizes from a float32 flatbuffer (whose own
digest stands for the converter that wrote it)."""
LOCK_TIMEOUT_S = 1800
STAGES = "stages"
"""The folder of weights after shared fine-tuning stages."""


def cache_key(parts: dict[str, Any], toolchain: tuple[str, ...] = TOOLCHAIN) -> str:
    """A stable digest of everything that shapes a conversion, toolchain version included."""
    record = {"format": CACHE_FORMAT, **{p: package_version(p) for p in toolchain}, **parts}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


class ConversionCache:
    """Converted models on disk, one file per key; ``directory=None`` turns it off."""

    def __init__(self, directory: str | Path | None) -> None:
        self.directory = Path(directory) if directory is not None else None

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    def path(self, key: str) -> Path:
        assert self.directory is not None
        return self.directory / key[:2] / f"{key}.tflite"

    def load(self, key: str) -> bytes | None:
        """The entry's bytes, or None; an entry whose bytes do not match the digest stored
        beside them (damaged, or replaced by hand) is discarded with a warning naming it."""
        if not self.enabled:
            return None
        path = self.path(key)
        try:
            content = path.read_bytes()
            digest = path.with_suffix(".sha256").read_text().strip()
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        if hashlib.sha256(content).hexdigest() != digest:
            warnings.warn(
                f"pytest-tflite: the cached model {path} does not match its digest (damaged or "
                "replaced); it is discarded and converted again",
                stacklevel=2,
            )
            self.discard(key)
            return None
        return content

    def store(self, key: str, content: bytes) -> None:
        """Write the digest first, then the bytes: a reader sees both or a miss."""
        if self.enabled:
            path = self.path(key)
            write_atomic(path.with_suffix(".sha256"), hashlib.sha256(content).hexdigest().encode())
            write_atomic(path, content)

    def load_record(self, kind: str, key: str) -> dict[str, Any] | None:
        """A small JSON record stored beside the models (what a request resolved to, an
        evaluation's figures), or None when absent or unreadable."""
        if not self.enabled:
            return None
        try:
            record = json.loads(self._record_path(kind, key).read_text())
        except (FileNotFoundError, UnicodeDecodeError, json.JSONDecodeError):
            return None
        return record if isinstance(record, dict) else None

    def store_record(self, kind: str, key: str, record: dict[str, Any]) -> None:
        if self.enabled:
            write_atomic(self._record_path(kind, key), json.dumps(record, sort_keys=True).encode())

    def load_weights(self, key: str) -> list[Any] | None:
        """Arrays stored by :meth:`store_weights`, or None when absent or damaged."""
        if not self.enabled:
            return None
        import numpy as np

        try:
            with np.load(self._record_path(STAGES, key).with_suffix(".npz")) as stored:
                return [stored[f"arr_{i}"] for i in range(len(stored.files))]
        except (FileNotFoundError, OSError, ValueError, KeyError, zipfile.BadZipFile):
            return None

    def store_weights(self, key: str, arrays: list[Any]) -> None:
        if self.enabled:
            import numpy as np

            buffer = io.BytesIO()
            np.savez(buffer, *arrays)
            write_atomic(self._record_path(STAGES, key).with_suffix(".npz"), buffer.getvalue())

    def _record_path(self, kind: str, key: str) -> Path:
        assert self.directory is not None
        return self.directory / kind / key[:2] / f"{key}.json"

    def discard(self, key: str) -> None:
        if self.enabled:
            self.path(key).unlink(missing_ok=True)
            self.path(key).with_suffix(".sha256").unlink(missing_ok=True)

    @contextlib.contextmanager
    def locked(self, key: str) -> Iterator[None]:
        """Hold the key's lock, so one process converts while the others wait and reuse."""
        if not self.enabled:
            yield
            return
        lock_path = self.path(key).with_suffix(".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            lock = FileLock(str(lock_path), timeout=LOCK_TIMEOUT_S)
            lock.acquire()
        except Timeout:
            raise ConversionError(
                f"waited {LOCK_TIMEOUT_S // 60} minutes for another process converting the "
                "same model",
                hint=f"If no other run is converting, delete {lock_path} and run again",
            ) from None
        try:
            yield
        finally:
            lock.release()

    def clear(self) -> None:
        if self.directory is not None and self.directory.exists():
            shutil.rmtree(self.directory)
